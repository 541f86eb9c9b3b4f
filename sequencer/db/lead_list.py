"""The Leads page's query: prospects with their latest enrollment, searched, filtered, sorted, paged.

One row per prospect (its most recent enrollment, unenrolled ones left out, as kept in
``pipeline_leads``), so a count
on the pipeline or home page and the list it links to hold the same leads. Every filter
is a WHERE clause; the total is one COUNT over the same clauses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, PipelineLead, Prospect
from sequencer.db.reports import instant
from sequencer.db.stage_figures import rotting_in
from sequencer.db.stages import OPEN_STAGES

P, E = Prospect, Enrollment
SORTS = {
    "email": P.email,
    "name": P.name,
    "company": P.company,
    "rep": P.owner,
    "stage": P.stage,
    "in_stage": P.stage_since,
    "deal": P.deal_value,
    "sequence": E.sequence_id,
    "status": E.status,
    "last_touch": E.last_touch_at,
    "next_touch": E.next_send_at,
}


@dataclass(frozen=True)
class LeadQuery:
    q: str | None = None
    stage: str | None = None
    rep: str | None = None
    sequence: str | None = None
    status: str | None = None
    rotting: bool = False
    waiting: bool = False
    coming_back: str | None = None  # YYYY-MM or "unscheduled": the Coming back page's month
    sort: str = "email"
    desc: bool = False
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class LeadRow:
    prospect_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    stage: str
    stage_since: datetime | None
    deal_value: Decimal | None
    enrollment_id: int | None
    sequence_id: str | None
    status: str | None
    steps_done: int | None
    last_touch_at: datetime | None
    next_send_at: datetime | None
    replied_at: datetime | None
    answered_at: datetime | None


def waiting_for_answer() -> ColumnElement[bool]:
    """The latest enrollment has a reply the rep has not answered (the home page's definition)."""
    return and_(E.status == lifecycle.REPLIED, E.replied_at.is_not(None), E.answered_at.is_(None))


def _clauses(q: LeadQuery, now: datetime, thresholds: dict[str, float]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.q:
        needle = f"%{q.q.lower()}%"
        out.append(or_(P.email.like(needle), func.lower(P.name).like(needle), func.lower(P.company).like(needle)))
    if q.stage:
        out.append(P.stage == q.stage)
    if q.rep:
        out.append(P.owner == q.rep)
    if q.sequence:
        out.append(E.sequence_id == q.sequence)
    if q.status:
        out.append(E.status == q.status)
    if q.rotting:
        rot = [rotting_in(st, now, d) for st, d in thresholds.items() if st in OPEN_STAGES]
        out.append(or_(*rot) if rot else P.id.is_(None))
    if q.waiting:
        out.append(waiting_for_answer())
    if q.coming_back:
        out.append(coming_back_in(q.coming_back))
    return out


def coming_back_in(month: str) -> ColumnElement[bool]:
    """The latest enrollment is an open re-engagement whose next touch is in ``month``
    (UTC ``YYYY-MM``, or ``unscheduled``): the report's ``coming_back`` definition."""
    clauses = [E.source == "reengage", E.status.in_(list(lifecycle.OPEN_STATES))]
    if month == "unscheduled":
        return and_(*clauses, E.next_send_at.is_(None))
    year, number = (int(x) for x in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return and_(*clauses, E.next_send_at >= instant(start), E.next_send_at < instant(end))


def _base(columns: list[Any]) -> Select[Any]:
    # The latest enrollment that counts is kept per prospect by the counter triggers
    # (pipeline_leads, sequencer.db.counters): a join, not a max(id) lookup per prospect.
    return (
        select(*columns)
        .select_from(P)
        .outerjoin(PipelineLead, PipelineLead.prospect_id == P.id)
        .outerjoin(E, E.id == PipelineLead.enrollment_id)
    )


def find_leads(
    s: Session, q: LeadQuery, *, now: datetime, thresholds: dict[str, float], limit: int | None = None
) -> tuple[list[LeadRow], int]:
    """(this page's rows, the total matching); ``limit`` overrides paging (CSV of every match)."""
    where = _clauses(q, now, thresholds)
    total = s.scalar(_base([func.count()]).where(*where)) or 0
    col = SORTS.get(q.sort, P.email)
    # Empty values last in either direction, on SQLite and PostgreSQL alike.
    order = [col.is_(None).asc(), col.desc() if q.desc else col.asc(), P.id]
    stmt = _base([
        P.id, P.email, P.name, P.company, P.owner, P.stage, P.stage_since, P.deal_value,
        E.id, E.sequence_id, E.status, E.steps_done, E.last_touch_at, E.next_send_at,
        E.replied_at, E.answered_at,
    ]).where(*where).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    else:
        stmt = stmt.limit(q.per_page).offset((max(q.page, 1) - 1) * q.per_page)
    return [LeadRow(*row) for row in s.execute(stmt)], int(total)


def leads_by_enrollment(s: Session, enrollment_ids: list[int]) -> list[tuple[int, str, str, str, str | None]]:
    """(enrollment id, email, sequence, status, owner) of the enrollments a bulk action names."""
    rows = s.execute(
        select(E.id, P.email, E.sequence_id, E.status, E.owner)
        .join(P, P.id == E.prospect_id)
        .where(E.id.in_(enrollment_ids))
        .order_by(P.email)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


__all__ = ["SORTS", "LeadQuery", "LeadRow", "find_leads", "leads_by_enrollment", "waiting_for_answer"]
