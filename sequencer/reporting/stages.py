"""The deal pipeline in the report: per stage counts, value, time in stage, conversion, rotting.

Reads through ``sequencer.db.stage_figures`` inside ``build_report``'s one read-only
session, so the pipeline page, ``report`` and the digest show the same stage figures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.db import stage_figures as q
from sequencer.db.reports import ReportFilter
from sequencer.db.stages import LOST, OPEN_STAGES, STAGES, WON
from sequencer.reporting.model import RottingLead, StageFigures

# The order of a deal's progress; won is past proposal, lost is off the path.
PATH = (*OPEN_STAGES, WON)


def stage_figures(
    s: Session, f: ReportFilter, *, now: datetime, thresholds: dict[str, float], limit: int
) -> tuple[list[StageFigures], list[RottingLead]]:
    rows = q.stage_rows(s, f, now=now, thresholds=thresholds)

    def reached(stage: str) -> int:
        return sum(rows[st].prospects for st in PATH[PATH.index(stage):])

    out = []
    for stage in STAGES:
        row = rows[stage]
        conversion = None
        if stage in OPEN_STAGES:
            here = reached(stage)
            nxt = PATH[PATH.index(stage) + 1]
            conversion = round(reached(nxt) / here, 4) if here else None
        out.append(
            StageFigures(
                stage=stage,
                prospects=row.prospects,
                value=float(row.value),
                rotting=row.rotting,
                rotting_value=float(row.rotting_value),
                rotting_after_days=thresholds.get(stage) if stage in OPEN_STAGES else None,
                median_days=q.days_in_stage_percentile(s, f, stage, row.prospects, 50, now=now)
                if stage != LOST else None,
                p90_days=q.days_in_stage_percentile(s, f, stage, row.prospects, 90, now=now)
                if stage != LOST else None,
                conversion=conversion,
            )
        )
    leads = [
        RottingLead(
            prospect_id=r.prospect_id, email=r.email, name=r.name, company=r.company, owner=r.owner,
            stage=r.stage, stage_since=r.stage_since,
            days_in_stage=round((now - r.stage_since).total_seconds() / 86400, 2),
            rotting_after_days=thresholds[r.stage],
            deal_value=None if r.deal_value is None else float(r.deal_value),
        )
        for r in q.rotting_leads(s, f, now=now, thresholds=thresholds, limit=limit)
    ]
    return out, leads


__all__ = ["PATH", "stage_figures"]
