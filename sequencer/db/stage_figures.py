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

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, aliased

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Prospect, ProspectFlag
from sequencer.db.reports import ReportFilter, instant
from sequencer.db.stages import OPEN_STAGES, REPLIED, STAGES

P, F = Prospect, ProspectFlag


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


def _flagged(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """The prospect has a ``prospect_flags`` row matching ``cond``: the small table is read
    once per query (an IN list), not the enrollments probed once per prospect."""
    return P.id.in_(select(F.prospect_id).where(cond))


def _unanswered_reply() -> ColumnElement[bool]:
    """``db.stages.unanswered_reply`` (a reply waiting for the rep's answer), from the flags."""
    return _flagged(F.waiting > 0)


def _dead_lead() -> ColumnElement[bool]:
    """The address bounced or the prospect opted out: nothing to chase, so it never rots."""
    return _flagged(F.dead > 0)


def _late(stage: str, now: datetime, days: float) -> ColumnElement[bool]:
    return and_(P.stage == stage, P.stage_since < instant(now - timedelta(days=days)))


def rotting_in(stage: str, now: datetime, days: float) -> ColumnElement[bool]:
    """In ``stage`` for longer than ``days`` (and neither bounced nor opted out); ``replied``
    rots only while the reply is unanswered."""
    if stage == REPLIED:
        return and_(_late(stage, now, days), _flagged(and_(F.waiting > 0, F.dead == 0)))
    return and_(_late(stage, now, days), ~_dead_lead())


def _rotting_count(
    s: Session, stage: str, now: datetime, days: float, where: list[ColumnElement[bool]]
) -> tuple[int, Decimal]:
    """Count and value rotting in ``stage``. Most prospects of a stage like ``contacted`` are
    late, so the count is the covered range of ``ix_prospects_rotting`` minus the few
    flagged dead ones (a replied deal counts only when flagged waiting)."""

    def one(*cond: ColumnElement[bool]) -> tuple[int, Decimal]:
        n, v = s.execute(select(func.count(), func.sum(P.deal_value)).where(*cond, *where)).one()
        return n or 0, Decimal(str(v or 0))

    late = _late(stage, now, days)
    if stage == REPLIED:
        return one(late, _flagged(and_(F.waiting > 0, F.dead == 0)))
    (n, v), (dn, dv) = one(late), one(late, _dead_lead())
    return n - dn, v - dv


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
            rot_n, rot_v = _rotting_count(s, stage, now, days, where)
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
    """Rotting prospects, longest in their stage first (at most ``limit``).

    One index range per stage in ``stage_since`` order, stopping at ``limit`` (an OR over
    the stages cannot use the index order and sorted every late prospect), merged here."""
    rows: list[RottingRow] = []
    for st, d in thresholds.items():
        if st not in OPEN_STAGES:
            continue
        stmt = (
            select(P.id, P.email, P.name, P.company, P.owner, P.stage, P.stage_since, P.deal_value)
            .where(rotting_in(st, now, d), *prospect_clauses(f))
            .order_by(P.stage_since, P.id)
            .limit(limit)
        )
        rows += [RottingRow(*row) for row in s.execute(stmt)]
    return sorted(rows, key=lambda r: (r.stage_since, r.prospect_id))[:limit]


__all__ = [
    "RottingRow", "StageRow", "days_in_stage_percentile", "prospect_clauses",
    "rotting_in", "rotting_leads", "stage_rows",
]
