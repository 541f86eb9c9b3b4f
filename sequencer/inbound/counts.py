"""What one stage of a poll did, as a value the poll adds up.

Every stage (fetch + store, apply, each effect, the alerts) returns a ``Counts``
instead of writing into a shared result; ``poll`` sums them with ``+`` and turns the
total into the ``PollResult`` users see (``sequencer poll --json``). So a stage can be
called and tested on its own, and nothing below ``poll`` needs to know about it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Counts:
    """Counters of one stage; ``a + b`` adds every counter and concatenates the lists."""

    fetched: int = 0
    stored: int = 0
    applied: int = 0
    set_aside: int = 0
    replies: int = 0
    enrolled: int = 0
    answered: int = 0
    notified: int = 0
    escalated: int = 0
    kinds: Mapping[str, int] = field(default_factory=dict)
    folders: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __add__(self, other: Counts) -> Counts:
        values: dict[str, object] = {}
        for f in fields(self):
            if f.name == "kinds":
                values[f.name] = dict(Counter(self.kinds) + Counter(other.kinds))
            else:
                values[f.name] = getattr(self, f.name) + getattr(other, f.name)
        return Counts(**values)  # type: ignore[arg-type]


NOTHING = Counts()

__all__ = ["NOTHING", "Counts"]
