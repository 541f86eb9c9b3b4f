"""Named queries of the rep workflow: tasks, and the enrollments a manual email belongs to.

Every transition of a task is a guarded UPDATE (``... WHERE status = 'open'``), so a
task closed by the rep and auto-skipped by a worker at the same moment is closed once;
the loser learns it from the row count. Escalations are claimed the same way
(``escalated_at IS NULL``), which makes "escalated once" hold across workers.
Inbound leads and their round robin are in ``sequencer.db.leads``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db import store
from sequencer.db.models import (
    Enrollment,
    Message,
    Prospect,
    Task,
)

OPEN = "open"
DONE = "done"
SKIPPED = "skipped"
# A task is listed, reminded and escalated while its enrollment still concerns the rep:
# running, paused, or answered by the prospect (the promised proposal is still owed).
# A stopped, bounced, unsubscribed or unenrolled lead has no task left to do.
LIVE_ENROLLMENT_STATES = (lifecycle.ACTIVE, lifecycle.PAUSED, lifecycle.REPLIED)


# --- tasks ------------------------------------------------------------------------------


def task_of_step(s: Session, enrollment_id: int, step: int) -> Task | None:
    return s.scalars(
        select(Task).where(Task.enrollment_id == enrollment_id, Task.step == step)
    ).first()


def create_task(
    s: Session,
    *,
    enrollment_id: int,
    step: int,
    owner: str | None,
    title: str,
    kind: str,
    due_at: datetime,
    now: datetime,
) -> tuple[Task, bool]:
    """The task of (enrollment, step), created if missing; returns (task, created).

    UNIQUE(enrollment, step) with ON CONFLICT DO NOTHING: a task step is never created twice.
    """
    result = s.execute(
        store.insert_or_ignore(s)(Task)
        .values(
            enrollment_id=enrollment_id,
            step=step,
            owner=owner,
            title=title,
            kind=kind,
            due_at=due_at,
            created_at=now,
            status=OPEN,
        )
        .on_conflict_do_nothing(index_elements=["enrollment_id", "step"])
        .returning(Task.id)
    ).first()
    task = task_of_step(s, enrollment_id, step)
    assert task is not None
    return task, result is not None


def task(s: Session, task_id: int) -> Task | None:
    return s.get(Task, task_id, populate_existing=True)


def close_task(
    s: Session, task_id: int, *, status: str, now: datetime, note: str | None, actor: str
) -> bool:
    """open -> done | skipped; False when it was not open any more (someone got there first)."""
    result = s.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == OPEN)
        .values(status=status, done_at=now, note=note, done_by=actor)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def open_email_task(s: Session, enrollment_id: int) -> Task | None:
    """The enrollment's open ``email`` task, the one a manual email completes."""
    return s.scalars(
        select(Task)
        .where(Task.enrollment_id == enrollment_id, Task.status == OPEN, Task.kind == "email")
        .order_by(Task.step)
    ).first()


def lock_enrollment(s: Session, enrollment_id: int) -> Enrollment | None:
    """The enrollment, row-locked (PostgreSQL) so a task's close and a claim never interleave."""
    return s.get(Enrollment, enrollment_id, with_for_update=True, populate_existing=True)


def advance_past_task(
    s: Session, enrollment_id: int, *, step: int, next_send_at: datetime | None
) -> bool:
    """steps_done step-1 -> step, next touch scheduled; guarded on steps_done (moved once)."""
    result = s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.steps_done == step - 1)
        .values(steps_done=step, next_send_at=next_send_at, wait_reason=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TaskListing:
    """An open (or closed) task with what the rep needs to act on it."""

    task: Task
    enrollment: Enrollment
    prospect: Prospect


def list_tasks(
    s: Session,
    *,
    owner: str | None = None,
    due_before: datetime | None = None,
    statuses: Sequence[str] = (OPEN,),
    live_only: bool = True,
    limit: int = 500,
) -> list[TaskListing]:
    """Tasks oldest due first, read through ix_tasks_open (status, due_at, owner)."""
    stmt = (
        select(Task, Enrollment, Prospect)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(Task.status.in_(list(statuses)))
        .order_by(Task.due_at, Task.id)
        .limit(limit)
    )
    if owner is not None:
        stmt = stmt.where(Task.owner == owner)
    if due_before is not None:
        stmt = stmt.where(Task.due_at < due_before)
    if live_only:
        stmt = stmt.where(Enrollment.status.in_(LIVE_ENROLLMENT_STATES))
    return [TaskListing(t, e, p) for t, e, p in s.execute(stmt).all()]


def owners_with_open_tasks(s: Session, *, due_before: datetime) -> list[str | None]:
    stmt = (
        select(Task.owner)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .where(
            Task.status == OPEN,
            Task.due_at < due_before,
            Enrollment.status.in_(LIVE_ENROLLMENT_STATES),
        )
        .distinct()
    )
    return list(s.scalars(stmt))


def claim_task_escalation(s: Session, task_id: int, now: datetime) -> bool:
    """Mark a task escalated; True only for the one caller that set it (once across workers)."""
    result = s.execute(
        update(Task)
        .where(Task.id == task_id, Task.escalated_at.is_(None), Task.status == OPEN)
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_task_escalation(s: Session, task_id: int) -> None:
    """The escalation email failed: let a later run try again."""
    s.execute(update(Task).where(Task.id == task_id).values(escalated_at=None))


@dataclass(frozen=True)
class TouchSummary:
    sent: int
    last_subject: str | None
    last_sent_at: datetime | None


def touch_summaries(s: Session, enrollment_ids: Iterable[int]) -> dict[int, TouchSummary]:
    """Per enrollment: touches sent so far and the latest one's subject (for todo lists)."""
    ids = list(set(enrollment_ids))
    if not ids:
        return {}
    rows = s.execute(
        select(Message.enrollment_id, Message.subject, Message.sent_at)
        .where(Message.enrollment_id.in_(ids), Message.status == "sent")
        .order_by(Message.enrollment_id, Message.sent_at)
    ).all()
    out: dict[int, TouchSummary] = {}
    for enrollment_id, subject, sent_at in rows:
        before = out.get(enrollment_id)
        out[enrollment_id] = TouchSummary((before.sent if before else 0) + 1, subject, sent_at)
    return out


def overdue_task_count(
    s: Session, *, overdue_before: datetime, owner: str | None = None, sequence: str | None = None
) -> int:
    stmt = (
        select(func.count())
        .select_from(Task)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .where(
            Task.status == OPEN,
            Task.due_at < overdue_before,
            Enrollment.status.in_(LIVE_ENROLLMENT_STATES),
        )
    )
    if owner is not None:
        stmt = stmt.where(Enrollment.owner == owner)
    if sequence is not None:
        stmt = stmt.where(Enrollment.sequence_id == sequence)
    return int(s.scalar(stmt) or 0)


def overdue_tasks(
    s: Session,
    *,
    overdue_before: datetime,
    owner: str | None = None,
    sequence: str | None = None,
    limit: int = 200,
) -> list[TaskListing]:
    stmt = (
        select(Task, Enrollment, Prospect)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(
            Task.status == OPEN,
            Task.due_at < overdue_before,
            Enrollment.status.in_(LIVE_ENROLLMENT_STATES),
        )
        .order_by(Task.due_at, Task.id)
        .limit(limit)
    )
    if owner is not None:
        stmt = stmt.where(Enrollment.owner == owner)
    if sequence is not None:
        stmt = stmt.where(Enrollment.sequence_id == sequence)
    return [TaskListing(t, e, p) for t, e, p in s.execute(stmt).all()]


# --- manual emails ----------------------------------------------------------------------


def enrollments_of_recipients(
    s: Session, mailbox: str, emails: Iterable[str], statuses: Sequence[str]
) -> list[tuple[Enrollment, Prospect]]:
    """Enrollments of this mailbox, in ``statuses``, whose prospect is one of ``emails``."""
    wanted = sorted({e.lower() for e in emails})
    if not wanted:
        return []
    return [
        (e, p)
        for e, p in s.execute(
            select(Enrollment, Prospect)
            .join(Prospect, Prospect.id == Enrollment.prospect_id)
            .where(
                Prospect.email.in_(wanted),
                Enrollment.mailbox == mailbox,
                Enrollment.status.in_(list(statuses)),
            )
            .order_by(Enrollment.id)
        ).all()
    ]


def deal_value(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
