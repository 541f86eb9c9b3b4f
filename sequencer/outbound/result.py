"""What a tick did, per outcome: each stage returns its own counts and the engine sums them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class TickResult:
    """What one tick did, per outcome; ``planned`` lists would-be sends of a dry run."""

    sent: int = 0
    retrying: int = 0
    bounced: int = 0
    failed: int = 0
    held: int = 0
    released: int = 0
    reconciled: int = 0
    deferred: dict[str, int] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)  # mailbox -> why (operator, quota)
    unreachable: dict[str, str] = field(default_factory=dict)  # mailbox -> why (back-off)
    not_attempted: dict[str, int] = field(default_factory=dict)  # mailbox -> due, not tried
    withdrawn: dict[str, int] = field(default_factory=dict)  # why not sent (replied, ...)
    planned: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n

    def add(self, other: TickResult) -> None:
        """Sum ``other`` (one stage's counts) into this result."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif f.name in ("deferred", "finished", "withdrawn", "not_attempted"):
                for key, n in theirs.items():
                    self.count(mine, key, n)
            elif isinstance(mine, dict):
                mine.update(theirs)
            else:
                mine.extend(theirs)

    @property
    def healthy(self) -> bool:
        """Every mailbox was reachable and not paused (``tick`` exits 0, else 3)."""
        return not self.paused and not self.unreachable

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


__all__ = ["TickResult"]
