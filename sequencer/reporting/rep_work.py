"""The reps' own work in the report: open and overdue tasks, and speed to lead.

Both read inside the report's read-only session (``build_report`` passes it in), so
they see the same snapshot as every other figure; neither commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sequencer.db import leads as lq
from sequencer.db import reports as q
from sequencer.db import tasks as tq
from sequencer.reporting.model import (
    Lead,
    OverdueTask,
    RepSpeed,
    SpeedToLead,
    TaskFigures,
    nearest_rank,
)


def task_figures(s: Session, f: q.ReportFilter, *, now: datetime, sla_hours: float, limit: int) -> TaskFigures:
    scope = {"owner": f.owner, "sequence": f.sequence}
    sla_cut = now - timedelta(hours=sla_hours)
    at_risk = tq.overdue_tasks(s, overdue_before=sla_cut, limit=limit, **scope)
    items = [
        Lead(
            enrollment_id=x.enrollment.id, email=x.prospect.display_email, name=x.prospect.name,
            company=x.prospect.company, owner=x.task.owner, sequence_id=x.enrollment.sequence_id,
            status=x.enrollment.status,
            reason=f"task {x.task.id} overdue past the {sla_hours:g} h SLA: {x.task.title}",
            step=x.task.step, at=x.task.due_at, age_hours=round((now - x.task.due_at).total_seconds() / 3600, 2),
            wait_reason=x.enrollment.wait_reason, deal_value=tq.deal_value(x.prospect.deal_value),
            sla_breached=True,
        )
        for x in at_risk
    ]
    overdue_items = [
        OverdueTask(
            enrollment_id=x.enrollment.id, email=x.prospect.display_email, name=x.prospect.name,
            company=x.prospect.company, owner=x.task.owner, sequence_id=x.enrollment.sequence_id,
            status=x.enrollment.status, reason=f"task {x.task.id} overdue: {x.task.title}",
            step=x.task.step, at=x.task.due_at, age_hours=round((now - x.task.due_at).total_seconds() / 3600, 2),
            wait_reason=x.enrollment.wait_reason, deal_value=tq.deal_value(x.prospect.deal_value),
            sla_breached=x.task.due_at < sla_cut, task_id=x.task.id, title=x.task.title,
        )
        for x in tq.overdue_tasks(s, overdue_before=now, limit=limit, **scope)
    ]
    far_future = now + timedelta(days=36500)
    return TaskFigures(
        open=tq.overdue_task_count(s, overdue_before=far_future, **scope),
        overdue=tq.overdue_task_count(s, overdue_before=now, **scope),
        at_risk=tq.overdue_task_count(s, overdue_before=sla_cut, **scope),
        sla_hours=sla_hours,
        at_risk_items=items,
        overdue_items=overdue_items,
    )


def speed_to_lead(s: Session, f: q.ReportFilter, *, limit: int) -> SpeedToLead:
    """Inbound message -> first touch or the rep's first manual email, in minutes, per rep."""
    leads = [
        lead for lead in lq.list_leads(s, since=f.since, statuses=("enrolled", "existing"), owner=f.owner, limit=100000)
        if lead.enrollment_id is not None
    ]
    first = lq.first_responses(s, [lead.enrollment_id for lead in leads if lead.enrollment_id is not None])
    per_rep: dict[str | None, list[float | None]] = {}
    for lead in leads:
        response = first.get(lead.enrollment_id)  # type: ignore[arg-type]
        minutes = None if response is None else max(0.0, (response[0] - lead.received_at).total_seconds() / 60)
        per_rep.setdefault(lead.owner, []).append(minutes)

    def figures(values: list[float | None]) -> tuple[int, int, float | None, float | None]:
        done = sorted(v for v in values if v is not None)
        if not done:
            return len(done), len(values) - len(done), None, None
        return len(done), len(values) - len(done), round(nearest_rank(done, 50), 1), round(nearest_rank(done, 90), 1)

    reps = []
    for owner in sorted(per_rep, key=lambda o: (o is None, o or "")):
        responded, waiting, median, p90 = figures(per_rep[owner])
        reps.append(RepSpeed(owner, len(per_rep[owner]), responded, waiting, median, p90))
    responded, waiting, median, p90 = figures([v for values in per_rep.values() for v in values])
    unusable = lq.list_leads(s, since=f.since, statuses=("no_address", "failed"), limit=limit)
    return SpeedToLead(
        leads=len(leads), responded=responded, waiting=waiting, median_minutes=median, p90_minutes=p90,
        per_rep=reps,
        unusable=lq.count_leads(s, statuses=("no_address", "failed"), since=f.since),
        unusable_items=[
            {"id": u.id, "received_at": u.received_at, "mailbox": u.mailbox, "from": u.from_addr,
             "subject": u.subject, "status": u.status, "reason": u.reason}
            for u in unusable
        ],
    )
