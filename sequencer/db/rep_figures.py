"""Per-rep figures of a period for the Reps page: touches sent, replies and how fast they were
answered, tasks done and overdue, rotting deals, and a weekly trend.

Each is one GROUP BY owner over an index-friendly range (messages by ``sent_at``,
enrollments by ``replied_at``, tasks by ``done_at``/``due_at``); a rep is the
enrollment's owner for mail and replies, the task's owner for tasks and the prospect's
owner for deals, as everywhere else in the report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Message, Prospect, Task
from sequencer.db.reports import count_if, instant, seconds_between
from sequencer.db.stage_figures import rotting_in
from sequencer.db.stages import OPEN_STAGES
from sequencer.db.tasks import LIVE_ENROLLMENT_STATES

E = Enrollment


class whole(FunctionElement[int]):  # noqa: N801 (reads as SQL)
    """A non-negative number rounded down to an integer (SQLite truncates; PostgreSQL floors)."""

    type = Integer()
    inherit_cache = True
    name = "whole"


@compiles(whole, "sqlite")
def _whole_sqlite(element: whole, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(list(element.clauses)[0], **kw)} AS INTEGER)"


@compiles(whole)
def _whole_default(element: whole, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(list(element.clauses)[0], **kw)}) AS INTEGER)"


def touches_sent(s: Session, start: datetime, end: datetime, *, sequence: str | None = None) -> dict[str | None, int]:
    stmt = (
        select(E.owner, func.count())
        .select_from(Message)
        .join(E, E.id == Message.enrollment_id)
        .where(Message.status == "sent", Message.sent_at >= instant(start), Message.sent_at < instant(end))
        .group_by(E.owner)
    )
    if sequence is not None:
        stmt = stmt.where(E.sequence_id == sequence)
    return {owner: n for owner, n in s.execute(stmt)}


def weekly(
    s: Session, start: datetime, weeks: int, *, sequence: str | None = None
) -> dict[tuple[str | None, int], tuple[int, int]]:
    """(owner, week index from ``start``) -> (touches sent, replies received): two range scans."""
    end = start + timedelta(weeks=weeks)
    # Seconds since ``start`` (never negative here) truncated to whole weeks, on both databases.
    week = whole(seconds_between(Message.sent_at, instant(start)) / 604800.0)
    sent = (
        select(E.owner, week, func.count())
        .select_from(Message)
        .join(E, E.id == Message.enrollment_id)
        .where(Message.status == "sent", Message.sent_at >= instant(start), Message.sent_at < instant(end))
        .group_by(E.owner, week)
    )
    rweek = whole(seconds_between(E.replied_at, instant(start)) / 604800.0)
    got = (
        select(E.owner, rweek, func.count())
        .where(E.replied_at >= instant(start), E.replied_at < instant(end), E.status != lifecycle.UNENROLLED)
        .group_by(E.owner, rweek)
    )
    if sequence is not None:
        sent = sent.where(E.sequence_id == sequence)
        got = got.where(E.sequence_id == sequence)
    out: dict[tuple[str | None, int], tuple[int, int]] = {}
    for owner, w, n in s.execute(sent):
        key = (owner, int(w))
        out[key] = (out.get(key, (0, 0))[0] + n, out.get(key, (0, 0))[1])
    for owner, w, n in s.execute(got):
        key = (owner, int(w))
        out[key] = (out.get(key, (0, 0))[0], out.get(key, (0, 0))[1] + n)
    return out


def replies(
    s: Session, start: datetime, end: datetime, *, sla: timedelta, sequence: str | None = None
) -> dict[str | None, tuple[int, int, int]]:
    """Owner -> (replies received in the period, answered, answered within the SLA)."""
    answered = E.answered_at.is_not(None)
    within = and_(answered, seconds_between(E.answered_at, E.replied_at) <= sla.total_seconds())
    stmt = (
        select(E.owner, func.count(), count_if(answered), count_if(within))
        .where(
            E.replied_at >= instant(start), E.replied_at < instant(end), E.status != lifecycle.UNENROLLED
        )
        .group_by(E.owner)
    )
    if sequence is not None:
        stmt = stmt.where(E.sequence_id == sequence)
    return {owner: (n, a or 0, w or 0) for owner, n, a, w in s.execute(stmt)}


def tasks(s: Session, start: datetime, end: datetime, *, now: datetime) -> dict[str | None, tuple[int, int]]:
    """Task owner -> (tasks done in the period, open tasks overdue now)."""
    done = and_(Task.status == "done", Task.done_at >= instant(start), Task.done_at < instant(end))
    # Overdue as the report counts it: open, past due, on an enrollment still in play.
    overdue = and_(Task.status == "open", Task.due_at < instant(now), E.status.in_(LIVE_ENROLLMENT_STATES))
    stmt = (
        select(Task.owner, count_if(done), count_if(overdue))
        .join(E, E.id == Task.enrollment_id)
        .where(or_(done, overdue))
        .group_by(Task.owner)
    )
    return {owner: (d or 0, o or 0) for owner, d, o in s.execute(stmt)}


def rotting(s: Session, *, now: datetime, thresholds: dict[str, float]) -> dict[str | None, int]:
    # One query per stage: each is a range of ix_prospects_stage (an OR of them is a table scan).
    out: dict[str | None, int] = {}
    for stage, days in thresholds.items():
        if stage not in OPEN_STAGES:
            continue
        stmt = select(Prospect.owner, func.count()).where(rotting_in(stage, now, days)).group_by(Prospect.owner)
        for owner, n in s.execute(stmt):
            out[owner] = out.get(owner, 0) + n
    return out


__all__ = ["replies", "rotting", "tasks", "touches_sent", "weekly"]
