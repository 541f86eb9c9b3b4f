"""The Reps page's figures: per rep over the chosen period, what they sent, how fast they
answered, their tasks, their speed to lead, their rotting deals, and a weekly trend.

Period figures (touches, replies, tasks done) count what happened in [start, end);
"now" figures (tasks overdue, rotting) are as of ``now``. Median time to answer and
speed to lead are the report's own per-rep figures, so the Reps page and ``report``
agree. Reads only, one read-only session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sequencer.config import Config
from sequencer.db import rep_figures as q
from sequencer.db.session import Database
from sequencer.reporting.model import Report

TREND_WEEKS = 8


@dataclass
class Week:
    start: datetime
    touches: int
    replies: int


@dataclass
class RepFigures:
    owner: str | None
    touches_sent: int = 0
    replies: int = 0
    reply_rate: float | None = None  # replies received per touch sent in the period
    answered: int = 0
    answered_within_sla: int = 0
    median_hours_to_answer: float | None = None
    tasks_done: int = 0
    tasks_overdue: int = 0
    speed_to_lead_minutes: float | None = None
    rotting: int = 0
    trend: list[Week] = field(default_factory=list)


def rep_figures(
    db: Database, config: Config, report: Report, *, now: datetime, start: datetime, end: datetime,
    sequence: str | None = None, owner: str | None = None,
) -> list[RepFigures]:
    sla = timedelta(hours=config.reporting.reply_sla_hours)
    weeks = [end - timedelta(weeks=TREND_WEEKS - i) for i in range(TREND_WEEKS)]
    with db.read_session() as s:
        sent = q.touches_sent(s, start, end, sequence=sequence)
        replied = q.replies(s, start, end, sla=sla, sequence=sequence)
        tasks = q.tasks(s, start, end, now=now)
        rotting = q.rotting(s, now=now, thresholds=config.reporting.rotting_days)
        trend = q.weekly(s, weeks[0], TREND_WEEKS, sequence=sequence)
    answer = {fig.owner: fig.time_to_answer.median_hours for fig in report.reps}
    speed = {x.owner: x.median_minutes for x in report.speed_to_lead.per_rep}
    owners = {*sent, *replied, *tasks, *rotting, *answer}
    if owner is not None:
        owners = {owner}
    out = []
    for who in sorted(owners, key=lambda o: (o is None, o or "")):
        n_sent = sent.get(who, 0)
        n_replies, n_answered, n_within = replied.get(who, (0, 0, 0))
        done, overdue = tasks.get(who, (0, 0))
        out.append(RepFigures(
            owner=who, touches_sent=n_sent, replies=n_replies,
            reply_rate=round(n_replies / n_sent, 4) if n_sent else None,
            answered=n_answered, answered_within_sla=n_within, median_hours_to_answer=answer.get(who),
            tasks_done=done, tasks_overdue=overdue, speed_to_lead_minutes=speed.get(who),
            rotting=rotting.get(who, 0),
            trend=[Week(w, *trend.get((who, i), (0, 0))) for i, w in enumerate(weeks)],
        ))  # fmt: skip
    return out


__all__ = ["TREND_WEEKS", "RepFigures", "Week", "rep_figures"]
