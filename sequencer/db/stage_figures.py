"""The deal pipeline's figures: prospects and value per stage, time in stage, rotting.

Stages live on the prospect (``prospects.stage``/``stage_since``, ``ix_prospects_stage``),
so every figure here is a count or a seek on that index, never a scan of enrollments:
per-stage counts and sums are one GROUP BY, time-in-stage percentiles are one
``ORDER BY stage_since LIMIT 1 OFFSET k`` seek per stage (the nearest rank), and the
rotting counts are range conditions on the same index.

The report's filters apply as: rep -> the prospect's owner; sequence and since -> the
prospect has an enrollment in that sequence / enrolled on or after that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.reports import ReportFilter, instant
from sequencer.db.stages import OPEN_STAGES, REPLIED, STAGES

P = Prospect


def prospect_clauses(f: ReportFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.owner is not None:
        out.append(P.owner == f.owner)
    if f.sequence is not None or f.since is not None or f.until is not None:
        # IN over the enrollments' index range (a cohort reads ix_enrollments_cohort), not a
        # correlated lookup per prospect.
        e = aliased(Enrollment)
        cond = [e.status != lifecycle.UNENROLLED]
        if f.sequence is not None:
            cond.append(e.sequence_id == f.sequence)
        if f.since is not None:
            cond.append(e.enrolled_at >= instant(f.since))
        if f.until is not None:
            cond.append(e.enrolled_at < instant(f.until))
        out.append(P.id.in_(select(e.prospect_id).where(*cond)))
    return out


def _unanswered_reply() -> ColumnElement[bool]:
    """``db.stages.unanswered_reply`` over an alias, so it also correlates inside a query that
    already joins enrollments (the Leads page)."""
    e = aliased(Enrollment)
    return (
        exists()
        .where(
            e.prospect_id == P.id, e.status == lifecycle.REPLIED, e.replied_at.is_not(None), e.answered_at.is_(None)
        )
        .correlate(P)
    )


def _dead_lead() -> ColumnElement[bool]:
    """The address bounced or the prospect opted out: nothing to chase, so it never rots."""
    e = aliased(Enrollment)
    return (
        exists()
        .where(e.prospect_id == P.id, e.status.in_((lifecycle.BOUNCED, lifecycle.UNSUBSCRIBED)))
        .correlate(P)
    )


def rotting_in(stage: str, now: datetime, days: float) -> ColumnElement[bool]:
    """In ``stage`` for longer than ``days`` (and neither bounced nor opted out); ``replied``
    rots only while the reply is unanswered."""
    late = and_(P.stage == stage, P.stage_since < instant(now - timedelta(days=days)), ~_dead_lead())
    return and_(late, _unanswered_reply()) if stage == REPLIED else late


@dataclass(frozen=True)
class StageRow:
    stage: str
    prospects: int
    value: Decimal
    rotting: int
    rotting_value: Decimal


def stage_rows(s: Session, f: ReportFilter, *, now: datetime, thresholds: dict[str, float]) -> dict[str, StageRow]:
    """Stage -> counts, value, and how many (and how much value) are rotting."""
    where = prospect_clauses(f)
    counts = {
        stage: (n or 0, Decimal(str(v or 0)))
        for stage, n, v in s.execute(
            select(P.stage, func.count(), func.sum(P.deal_value)).where(*where).group_by(P.stage)
        )
    }
    out = {}
    for stage in STAGES:
        n, value = counts.get(stage, (0, Decimal(0)))
        rot_n, rot_v = 0, Decimal(0)
        days = thresholds.get(stage)
        if n and days is not None and stage in OPEN_STAGES:
            rn, rv = s.execute(
                select(func.count(), func.sum(P.deal_value)).where(rotting_in(stage, now, days), *where)
            ).one()
            rot_n, rot_v = rn or 0, Decimal(str(rv or 0))
        out[stage] = StageRow(stage, n, value.quantize(Decimal("0.01")), rot_n, rot_v.quantize(Decimal("0.01")))
    return out


def days_in_stage_percentile(s: Session, f: ReportFilter, stage: str, n: int, p: int, *, now: datetime) -> float | None:
    """The p-th percentile (nearest rank) of days in ``stage`` over its ``n`` prospects: one index seek."""
    if n <= 0:
        return None
    rank = max(1, (n * p + 99) // 100)
    since = s.scalar(
        select(P.stage_since)
        .where(P.stage == stage, P.stage_since.is_not(None), *prospect_clauses(f))
        .order_by(P.stage_since.desc())
        .limit(1)
        .offset(rank - 1)
    )
    return None if since is None else round((now - since).total_seconds() / 86400, 2)


@dataclass(frozen=True)
class RottingRow:
    prospect_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    stage: str
    stage_since: datetime
    deal_value: Decimal | None


def rotting_leads(
    s: Session, f: ReportFilter, *, now: datetime, thresholds: dict[str, float], limit: int
) -> list[RottingRow]:
    """Rotting prospects, longest in their stage first (at most ``limit``)."""
    conds = [rotting_in(st, now, d) for st, d in thresholds.items() if st in OPEN_STAGES]
    if not conds:
        return []
    stmt = (
        select(P.id, P.email, P.name, P.company, P.owner, P.stage, P.stage_since, P.deal_value)
        .where(or_(*conds), *prospect_clauses(f))
        .order_by(P.stage_since, P.id)
        .limit(limit)
    )
    return [RottingRow(*row) for row in s.execute(stmt)]


__all__ = [
    "RottingRow", "StageRow", "days_in_stage_percentile", "prospect_clauses",
    "rotting_in", "rotting_leads", "stage_rows",
]
