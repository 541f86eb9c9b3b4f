"""Repeatable benchmarks; each measures ours against a baseline in the same run.

``python -m benchmarks`` runs every ``benchmarks/*.py`` module that defines
``main()`` and prints one table. The contract for a benchmark module:

    def main(quick: bool = False) -> list[Row]: ...

``quick`` asks for smaller sizes (a smoke run in seconds); the module may print
progress and details freely (the runner shows them), and returns one ``Row``
per figure. A module may also stay runnable on its own
(``python benchmarks/x.py``); the runner calls ``main`` with ``sys.argv`` set
to the module's path alone, so argparse defaults apply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One measured figure: ours, the baseline measured in the same run, their ratio.

    ``ratio`` is ours / baseline in the direction where bigger is better for
    us (for times, pass baseline / ours); ``target`` says what it must reach,
    e.g. ">= 2.5x" or "<= 2x"; ``met`` says whether it did.
    """

    what: str
    ours: float
    baseline: float
    ratio: float
    target: str
    unit: str = ""
    met: bool | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def coerce(cls, value: Any) -> Row:
        """A Row from a Row, a mapping or a (what, ours, baseline, ratio, target[, unit]) tuple."""
        if isinstance(value, Row):
            return value
        if isinstance(value, dict):
            known = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        if isinstance(value, (tuple, list)):
            return cls(*value)
        names = ("what", "ours", "baseline", "ratio", "target")
        if all(hasattr(value, n) for n in names):
            extra = {k: getattr(value, k) for k in ("unit", "met", "note") if hasattr(value, k)}
            return cls(**{n: getattr(value, n) for n in names}, **extra)
        raise TypeError(f"not a benchmark row: {value!r}")
