"""Who may be enrolled in a sequence: the rules shared by ``enroll`` and the CSV import.

Guards, in order:

1. a suppressed address or domain is never enrolled, ``force`` or not (``Suppressed``,
   checked by the callers against the database);
2. already open (active/paused) in the same sequence: not enrolled again; not an
   error, so a repeated command or import is harmless;
3. open in another sequence: refused unless ``allow_parallel``;
4. finished the same sequence before (completed, replied, stopped, ...): refused
   unless ``force`` (``unenrolled`` does not count: it means "enrolled by mistake").

Also refused: a prospect lacking a variable the sequence's templates need
(``MissingVariables``), because a touch that cannot render is worse than none.
Nothing here touches the database: the callers load what the guards look at (one
prospect, or a whole import batch at once), so a batch of an import is checked with
the same code as one ``sequencer enroll``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequence_checks import sequence_required_variables as core_required
from sequencer.core.sequences import Sequence
from sequencer.core.template_context import build_context
from sequencer.core.templates import TemplateStore
from sequencer.db.prospects import EnrollmentBrief
from sequencer.errors import UserError

# Enrollment guard outcomes (also the import summary's "skipped"/"rejected" keys).
ALREADY_ENROLLED = "already_enrolled"
ACTIVE_ELSEWHERE = "active_elsewhere"
PREVIOUSLY_ENROLLED = "previously_enrolled"


class MissingVariables(UserError):
    """The prospect lacks data a template of the sequence cannot render without."""

    def __init__(self, sequence_id: str, variables: set[str]) -> None:
        self.sequence_id = sequence_id
        self.variables = sorted(variables)
        super().__init__(
            f"sequence {sequence_id!r} needs {', '.join(self.variables)} for this prospect "
            "(pass --name/--company or --set key=value)"
        )


# --- template variables -----------------------------------------------------------


@lru_cache(maxsize=8)
def _store(path: Path) -> TemplateStore:
    return TemplateStore(path)


def sequence_required_variables(config: Config, sequence: Sequence) -> frozenset[str]:
    """Prospect variables every touch of the sequence needs: the core's one rule
    (``core.sequence_checks``), read against the project's template folder."""
    store = _store(config.templates_path)
    return frozenset(core_required(store, sequence) - set(store.env.globals))


_NO_CALENDAR = BusinessCalendar()


def missing_variables(required: frozenset[str], prospect: Mapping[str, Any]) -> set[str]:
    """Which required variables the prospect cannot supply (derived names count: name -> first_name)."""
    if not required:
        return set()
    fields = prospect.get("fields") or {}
    present = {k for k, v in prospect.items() if v is not None and v != ""}
    present.update(k for k, v in fields.items() if v is not None and v != "")
    if required <= present:  # build_context only ever adds keys: nothing can be missing
        return set()
    available = build_context(prospect, {}, None, None, None, date(2000, 1, 1), _NO_CALENDAR)
    return set(required) - set(available)


# --- enrollments ------------------------------------------------------------------


@dataclass(frozen=True)
class GuardVerdict:
    """Why an enrollment is not made: a code (summary key) and a sentence for the rep."""

    code: str
    message: str
    others: tuple[str, ...] = ()


def enrollment_guard(
    sequence_id: str, existing: list[EnrollmentBrief], *, allow_parallel: bool, force: bool
) -> GuardVerdict | None:
    """Pure: given a prospect's enrollments, may it be enrolled in ``sequence_id``? None = yes."""
    same_open = [
        e for e in existing if e.sequence_id == sequence_id and e.status in lifecycle.OPEN_STATES
    ]
    if same_open:
        return GuardVerdict(
            ALREADY_ENROLLED, f"already {same_open[0].status} in sequence {sequence_id}"
        )
    others = tuple(
        sorted(
            {
                e.sequence_id
                for e in existing
                if e.sequence_id != sequence_id and e.status in lifecycle.OPEN_STATES
            }
        )
    )
    if others and not allow_parallel:
        return GuardVerdict(
            ACTIVE_ELSEWHERE,
            f"already active in sequence {', '.join(others)} (use --allow-parallel to enroll anyway)",
            others,
        )
    finished = [
        e
        for e in existing
        if e.sequence_id == sequence_id
        and lifecycle.is_finished(e.status)
        and e.status != lifecycle.UNENROLLED
    ]
    if finished and not force:
        last = max(finished, key=lambda e: e.finished_at or datetime.min.replace(tzinfo=UTC))
        when = f" on {last.finished_at:%Y-%m-%d}" if last.finished_at else ""
        return GuardVerdict(
            PREVIOUSLY_ENROLLED,
            f"was in sequence {sequence_id} before ({last.status}{when}); use --force to enroll again",
        )
    return None
