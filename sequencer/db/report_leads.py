"""Named queries for the report's lists: stalled leads, unanswered replies, lead-safety violations.

Each list is what a manager acts on, one ``LeadRow`` per enrollment with its prospect,
bounded by ``limit`` and ordered oldest first; the totals beside them are counted by
``sequencer.db.reports``. Conditions come from there too, written exactly as the
partial indexes' WHERE clauses so SQLite can prove an index applies. Every function reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, not_, or_, select
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.reports import ReportFilter, active_only, instant, unanswered_only

E = Enrollment


@dataclass(frozen=True)
class LeadRow:
    """One enrollment in a list (stalled, unanswered, violation): what a manager acts on."""

    enrollment_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    sequence_id: str
    status: str
    status_reason: str | None
    step: int  # the touch concerned: next touch for stalled, replied touch for replies
    at: datetime | None  # due time (stalled), reply time (unanswered), status change (violation)
    wait_reason: str | None
    deal_value: Decimal | None


def _lead_rows(s: Session, where: list[ColumnElement[bool]], at: Any, step: Any, order: Any, limit: int) -> list[LeadRow]:
    stmt = (
        select(
            E.id, Prospect.display_email, Prospect.name, Prospect.company, E.owner, E.sequence_id,
            E.status, E.status_reason, step, at, E.wait_reason, Prospect.deal_value,
        )
        .join(Prospect, Prospect.id == E.prospect_id)
        .where(*where)
        .order_by(order, E.id)
        .limit(limit)
    )
    return [
        LeadRow(*row[:11], deal_value=None if row[11] is None else Decimal(str(row[11])))
        for row in s.execute(stmt)
    ]


def stalled_leads(
    s: Session, f: ReportFilter, *, now: datetime, stalled_after: timedelta, limit: int
) -> list[LeadRow]:
    """Active enrollments whose next touch is overdue by more than ``stalled_after``, oldest first."""
    where = [active_only(), *f.clauses(), E.next_send_at < instant(now - stalled_after)]
    return _lead_rows(s, where, E.next_send_at, E.steps_done + 1, E.next_send_at, limit)


def unanswered_replies(s: Session, f: ReportFilter, *, limit: int) -> list[LeadRow]:
    """Replies still waiting for the rep's answer, oldest first."""
    return _lead_rows(s, unanswered_only(f), E.replied_at, func.coalesce(E.replied_step, 0), E.replied_at, limit)


# ---------------------------------------------------------------- safety


def _unexplained() -> ColumnElement[bool]:
    # written exactly as the partial index ix_enrollments_unexplained's condition
    return or_(E.status_reason.is_(None), E.status_reason == literal_column("''"))


def _safety_kinds() -> list[ColumnElement[bool]]:
    """The two ways a known state can leave a lead unattended, each answered by an index."""
    return [
        and_(E.status == lifecycle.ACTIVE, E.next_send_at.is_(None)),  # ix_enrollments_due
        and_(_unexplained(), E.status != lifecycle.ACTIVE),  # ix_enrollments_unexplained
    ]


def safety_violation_count(s: Session, f: ReportFilter) -> int:
    """Enrollments in a known state breaking the lead-safety invariant (unknown states: see status_groups)."""
    where = f.clauses(include_unenrolled=True)
    return sum(s.execute(select(func.count()).where(kind, *where)).scalar_one() for kind in _safety_kinds())


def safety_violations(s: Session, f: ReportFilter, *, limit: int, unknown_states: bool = False) -> list[LeadRow]:
    """Enrollments breaking the lead-safety invariant (unenrolled ones included: they need a reason too)."""
    where = f.clauses(include_unenrolled=True)
    rows: list[LeadRow] = []
    kinds = [*_safety_kinds(), *([not_(E.status.in_(lifecycle.STATES))] if unknown_states else [])]
    for kind in kinds:
        rows += _lead_rows(s, [kind, *where], E.status_changed_at, E.steps_done, E.status_changed_at, limit)
    rows.sort(key=lambda r: (r.at is None, r.at, r.enrollment_id))
    return rows[:limit]
