"""Named queries of a mailbox's health: what the deliverability guard and pause notices read.

Nothing here commits: the caller's session does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.inbound import complaints_for_mailbox
from sequencer.db.models import Enrollment, MailboxState, Message
from sequencer.db.outbox import FAILED, SENT, WAIT_HELD, WAIT_POLL

# ``people.tasks.WAIT_TASK``: an enrollment whose next touch waits for a rep's task.
WAIT_TASK = "task"


def recent_touches(
    s: Session, mailbox: str, *, window: int, since: datetime | None
) -> tuple[int, int]:
    """(touches, hard bounces) among the mailbox's last ``window`` touches (since ``since``).

    A touch is a message that was sent, or refused for its recipient at RCPT (failed).
    It counts as a hard bounce when its enrollment ended ``bounced``: by the server's 5xx
    at RCPT, or by a trusted DSN later (both end the enrollment bounced).
    """
    cond = [Message.mailbox == mailbox, Message.status.in_((SENT, FAILED))]
    if since is not None:
        cond.append(Message.claimed_at >= since)
    last = (
        select(Message.enrollment_id)
        .where(*cond)
        .order_by(Message.id.desc())  # claim order; the primary key walks back
        .limit(window)
        .subquery()
    )
    touches = int(s.scalar(select(func.count()).select_from(last)) or 0)
    bounced = select(func.count(func.distinct(last.c.enrollment_id))).join(
        Enrollment, Enrollment.id == last.c.enrollment_id
    ).where(Enrollment.status == lifecycle.BOUNCED)
    if since is not None:
        bounced = bounced.where(Enrollment.status_changed_at >= since)
    return touches, int(s.scalar(bounced) or 0)


def sent_between(s: Session, mailbox: str, since: datetime) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.mailbox == mailbox, Message.sent_at >= since)
        )
        or 0
    )


def complaints_since(s: Session, mailbox: str, since: datetime) -> int:
    return complaints_for_mailbox(s, mailbox, since)


def _not_on_a_task() -> Any:
    return or_(Enrollment.wait_reason.is_(None), ~Enrollment.wait_reason.like(f"{WAIT_TASK}%"))


def due_counts(s: Session, mailbox: str, bounds: Sequence[datetime]) -> list[int]:
    """Active enrollments of the mailbox due before each of ``bounds`` (one query).

    Enrollments waiting for a rep's task are left out: their next touch waits for the
    task, not for a time (``waiting_counts`` counts them).
    """
    if not bounds:
        return []
    row = s.execute(
        select(
            *(func.coalesce(func.sum(case((Enrollment.next_send_at < b, 1), else_=0)), 0)
              for b in bounds)
        ).where(
            Enrollment.status == lifecycle.ACTIVE,
            Enrollment.mailbox == mailbox,
            Enrollment.next_send_at < max(bounds),
            _not_on_a_task(),
        )
    ).one()
    return [int(n) for n in row]


def waiting_counts(s: Session, mailbox: str, now: datetime) -> dict[str, int]:
    """Due now but waiting for a poll, held after a crash; and waiting on a task."""
    active = [Enrollment.status == lifecycle.ACTIVE, Enrollment.mailbox == mailbox]
    due = [*active, Enrollment.next_send_at <= now]

    def count(*cond: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(Enrollment).where(*cond)) or 0)

    return {
        "poll": count(*due, Enrollment.wait_reason == WAIT_POLL),
        "held": count(*due, Enrollment.wait_reason == WAIT_HELD),
        "task": count(*active, Enrollment.wait_reason.like(f"{WAIT_TASK}%")),
    }


def paused_states(s: Session) -> list[MailboxState]:
    """Mailboxes in a pause episode (in force, or being retried after a back-off)."""
    return list(s.scalars(select(MailboxState).where(MailboxState.paused_at.is_not(None))))


__all__ = [
    "WAIT_TASK",
    "complaints_since",
    "due_counts",
    "paused_states",
    "recent_touches",
    "sent_between",
    "waiting_counts",
]
