"""The report's status counts and pipeline value read from the trigger-kept counters.

Same results as ``reports.status_groups`` and ``reports.pipeline_value`` (the scans, kept
as the definition and for cohorts), read from a few hundred counter rows instead of a
million enrollments (``sequencer.db.counters`` says how they stay exact). A cohort
(``since``/``until``) is not a counter key: its status counts stay the range scan of
``ix_enrollments_cohort`` and its pipeline is a range of ``ix_pipeline_leads_cohort``
(the latest enrollments only, already resolved), never the per-row "latest" lookup.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from sequencer.db import reports
from sequencer.db.models import PipelineCount, PipelineLead, StatusCount
from sequencer.db.reports import PIPELINE_STATUSES, ReportFilter, StatusGroup, instant

C, PC, PL = StatusCount, PipelineCount, PipelineLead


def _cohort(f: ReportFilter) -> bool:
    return f.since is not None or f.until is not None


def _key_filter(table: Any, f: ReportFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.sequence is not None:
        out.append(table.sequence_id == f.sequence)
    if f.owner is not None:
        out.append(table.owner == f.owner)
    return out


def status_groups(s: Session, f: ReportFilter) -> list[StatusGroup]:
    """``reports.status_groups``: from the counters unless the filter is a cohort."""
    if _cohort(f):
        return reports.status_groups(s, f)
    keys = [C.sequence_id, C.owner, C.status, C.steps_done, C.replied_step]
    n = func.sum(C.enrollments)
    stmt = select(*keys, n, func.sum(C.replies)).where(*_key_filter(C, f)).group_by(*keys).having(n != 0)
    return [StatusGroup(*row) for row in s.execute(stmt)]


def pipeline_value(s: Session, f: ReportFilter) -> dict[str, tuple[int, Decimal]]:
    """``reports.pipeline_value``: prospects and value by where their latest enrollment stands."""
    if _cohort(f):
        where = _key_filter(PL, f)
        if f.since is not None:
            where.append(PL.enrolled_at >= instant(f.since))
        if f.until is not None:
            where.append(PL.enrolled_at < instant(f.until))
        stmt = (
            select(PL.status, PL.unanswered, func.count(), func.sum(func.coalesce(PL.value_cents, 0)))
            .where(*where)
            .group_by(PL.status, PL.unanswered)
        )
    else:
        stmt = (
            select(PC.status, PC.unanswered, func.sum(PC.prospects), func.sum(PC.value_cents))
            .where(*_key_filter(PC, f))
            .group_by(PC.status, PC.unanswered)
        )
    totals: dict[str, list[int]] = {cat: [0, 0] for cat in [*PIPELINE_STATUSES, "unanswered"]}
    for status, unanswered, n, cents in s.execute(stmt):
        cats = [cat for cat, states in PIPELINE_STATUSES.items() if status in states]
        if unanswered:
            cats.append("unanswered")
        for cat in cats:
            totals[cat][0] += int(n or 0)
            totals[cat][1] += int(cents or 0)
    return {cat: (n, (Decimal(cents) / 100).quantize(Decimal("0.01"))) for cat, (n, cents) in totals.items()}


__all__ = ["pipeline_value", "status_groups"]
