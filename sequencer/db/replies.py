"""Named queries about replies after they are applied: the rep's answer, alerts, escalations.

``inbound/effects.apply_sent`` finds the reply a message in Sent answers;
``inbound/alerts`` finds the owner alerts still to send and the escalations due, and
reads what they say. None of these commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Event, InboundMessage, Message, Prospect


def awaiting_answer(
    s: Session, mailbox: str, prospect_emails: Iterable[str] = ()
) -> list[tuple[Enrollment, Prospect]]:
    """Replied enrollments of this mailbox the rep has not answered yet (optionally by address)."""
    stmt = (
        select(Enrollment, Prospect)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(
            Enrollment.mailbox == mailbox,
            Enrollment.replied_at.is_not(None),
            Enrollment.answered_at.is_(None),
        )
        .order_by(Enrollment.replied_at)
    )
    emails = [e.lower() for e in prospect_emails]
    if emails:
        stmt = stmt.where(Prospect.email.in_(emails))
    return [(e, p) for e, p in s.execute(stmt).all()]


def reply_message_ids(s: Session, enrollment_ids: Sequence[int]) -> dict[str, int]:
    """Message-ID of every stored reply -> its enrollment (for spotting the rep's answer)."""
    if not enrollment_ids:
        return {}
    rows = s.execute(
        select(InboundMessage.message_id, InboundMessage.enrollment_id).where(
            InboundMessage.enrollment_id.in_(list(enrollment_ids)),
            InboundMessage.kind == "reply",
            InboundMessage.message_id.is_not(None),
        )
    )
    return {mid: eid for mid, eid in rows.all() if mid and eid is not None}


def due_escalations(
    s: Session, mailbox: str, *, replied_before: datetime
) -> list[tuple[Enrollment, Prospect]]:
    return [
        (e, p)
        for e, p in s.execute(
            select(Enrollment, Prospect)
            .join(Prospect, Prospect.id == Enrollment.prospect_id)
            .where(
                Enrollment.mailbox == mailbox,
                Enrollment.status == lifecycle.REPLIED,
                Enrollment.answered_at.is_(None),
                Enrollment.escalated_at.is_(None),
                Enrollment.replied_at <= replied_before,
            )
            .order_by(Enrollment.replied_at)
        ).all()
    ]


def unnotified_replies(s: Session, mailbox: str, *, max_attempts: int) -> list[Enrollment]:
    """Replies whose owner alert has not gone out yet (sent after the state change commits)."""
    notified = exists().where(
        Event.enrollment_id == Enrollment.id,
        Event.kind == "owner_notified",
        Event.at >= Enrollment.replied_at,
    )
    failures = (
        select(func.count(Event.id))
        .where(Event.enrollment_id == Enrollment.id, Event.kind == "notify_failed")
        .scalar_subquery()
    )
    return list(
        s.scalars(
            select(Enrollment)
            .where(
                Enrollment.mailbox == mailbox,
                Enrollment.replied_at.is_not(None),
                Enrollment.status == lifecycle.REPLIED,
                ~notified,
                failures < max_attempts,
            )
            .order_by(Enrollment.replied_at)
        )
    )


def touches_of_enrollment(s: Session, enrollment_id: int) -> list[Message]:
    return list(
        s.scalars(
            select(Message).where(Message.enrollment_id == enrollment_id).order_by(Message.step)
        )
    )


def latest_reply_of_enrollment(s: Session, enrollment_id: int) -> InboundMessage | None:
    return s.scalars(
        select(InboundMessage)
        .where(InboundMessage.enrollment_id == enrollment_id, InboundMessage.kind == "reply")
        .order_by(InboundMessage.id.desc())
        .limit(1)
    ).first()


def events_of_enrollment(s: Session, enrollment_id: int, kinds: Sequence[str] = ()) -> list[Event]:
    stmt = select(Event).where(Event.enrollment_id == enrollment_id).order_by(Event.at, Event.id)
    if kinds:
        stmt = stmt.where(Event.kind.in_(list(kinds)))
    return list(s.scalars(stmt))


__all__ = [
    "awaiting_answer",
    "due_escalations",
    "events_of_enrollment",
    "latest_reply_of_enrollment",
    "reply_message_ids",
    "touches_of_enrollment",
    "unnotified_replies",
]
