"""Named queries of the inbox poller: folder cursors, stored verdicts, attribution lookups.

The poll service calls these and nothing else. Storing a verdict is idempotent on
(mailbox, folder, UIDVALIDITY, UID), so re-polling the same messages is harmless and
a fixed bug can replay stored verdicts (``inbound retry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import (
    Enrollment,
    Event,
    FolderState,
    InboundMessage,
    MailboxState,
    Message,
    Prospect,
)

# --- folder cursors and mailbox bookkeeping --------------------------------------------


def folder_cursor(s: Session, mailbox: str, folder: str) -> FolderState | None:
    return s.get(FolderState, (mailbox, folder))


def save_folder_cursor(
    s: Session,
    mailbox: str,
    folder: str,
    *,
    uidvalidity: int,
    last_uid: int,
    highestmodseq: int | None,
    now: datetime,
) -> None:
    row = s.get(FolderState, (mailbox, folder))
    if row is None:
        row = FolderState(mailbox=mailbox, folder=folder)
        s.add(row)
    row.uidvalidity = uidvalidity
    row.last_uid = last_uid
    row.highestmodseq = highestmodseq
    row.last_poll_at = now


def record_poll(s: Session, mailbox: str, *, now: datetime | None, error: str | None) -> None:
    """A successful poll sets last_poll_at (the sender waits for it); a failure records why."""
    row = s.get(MailboxState, mailbox)
    if row is None:
        row = MailboxState(name=mailbox)
        s.add(row)
    if error is None:
        row.last_poll_at = now
        row.last_poll_error = None
    else:
        row.last_poll_error = error


def last_poll_at(s: Session, mailbox: str) -> datetime | None:
    row = s.get(MailboxState, mailbox)
    return row.last_poll_at if row else None


# --- storing verdicts (phase 1) ----------------------------------------------------------


def known_message_ids(
    s: Session, mailbox: str, folder: str, message_ids: Iterable[str]
) -> set[str]:
    """Message-IDs already stored for this folder (dedupes a rescan after UIDVALIDITY changed)."""
    ids = list({m for m in message_ids if m})
    if not ids:
        return set()
    rows = s.scalars(
        select(InboundMessage.message_id).where(
            InboundMessage.mailbox == mailbox,
            InboundMessage.folder == folder,
            InboundMessage.message_id.in_(ids),
        )
    )
    return set(rows)


def store_inbound(s: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert verdict rows, skipping any whose (mailbox, folder, uidvalidity, uid) exists."""
    if not rows:
        return 0
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(InboundMessage).values(list(rows))
    stmt = stmt.on_conflict_do_nothing(
        index_elements=["mailbox", "folder", "uidvalidity", "uid"]
    ).returning(InboundMessage.id)
    return len(s.execute(stmt).all())


# --- applying verdicts (phase 2) ---------------------------------------------------------


def pending_inbound(
    s: Session, mailbox: str, sent_folder: str | None, limit: int
) -> list[InboundMessage]:
    """Stored, not yet applied, not set aside; the Sent folder last so replies come first."""
    sent_last = (InboundMessage.folder == (sent_folder or "")).label("sent_last")
    return list(
        s.scalars(
            select(InboundMessage)
            .where(
                InboundMessage.mailbox == mailbox,
                InboundMessage.applied.is_(False),
                InboundMessage.error.is_(None),
            )
            .order_by(sent_last, InboundMessage.id)
            .limit(limit)
        )
    )


def mark_applied(s: Session, row_id: int, *, enrollment_id: int | None) -> None:
    s.execute(
        update(InboundMessage)
        .where(InboundMessage.id == row_id)
        .values(applied=True, error=None, enrollment_id=enrollment_id)
        .execution_options(synchronize_session=False)
    )


def set_aside(s: Session, row_id: int, error: str) -> None:
    """Quarantine one message with its error; ``inbound retry`` puts it back."""
    s.execute(
        update(InboundMessage)
        .where(InboundMessage.id == row_id)
        .values(error=error[:2000])
        .execution_options(synchronize_session=False)
    )


def release_set_aside(s: Session, mailbox: str | None = None) -> int:
    """Clear the error of set-aside messages so the next apply phase retries them."""
    stmt = update(InboundMessage).where(
        InboundMessage.applied.is_(False), InboundMessage.error.is_not(None)
    )
    if mailbox:
        stmt = stmt.where(InboundMessage.mailbox == mailbox)
    result = s.execute(stmt.values(error=None).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_inbound(
    s: Session,
    *,
    kinds: Sequence[str] = (),
    mailbox: str | None = None,
    set_aside_only: bool = False,
    limit: int = 100,
) -> list[tuple[InboundMessage, str | None]]:
    """Newest first, with the attributed prospect's address."""
    stmt = (
        select(InboundMessage, Prospect.email)
        .outerjoin(Enrollment, Enrollment.id == InboundMessage.enrollment_id)
        .outerjoin(Prospect, Prospect.id == Enrollment.prospect_id)
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    if kinds:
        stmt = stmt.where(InboundMessage.kind.in_(list(kinds)))
    if mailbox:
        stmt = stmt.where(InboundMessage.mailbox == mailbox)
    if set_aside_only:
        stmt = stmt.where(InboundMessage.error.is_not(None))
    return [(row, email) for row, email in s.execute(stmt).all()]


# --- attribution lookups -----------------------------------------------------------------


def touches_by_message_ids(s: Session, message_ids: Sequence[str]) -> dict[str, Message]:
    ids = [m for m in message_ids if m]
    if not ids:
        return {}
    return {m.message_id: m for m in s.scalars(select(Message).where(Message.message_id.in_(ids)))}


def enrollments_by_thread_ids(
    s: Session, mailbox: str, message_ids: Sequence[str]
) -> dict[str, Enrollment]:
    """Enrollments whose thread started with (or last continued from) one of these ids.

    Catches replies to a filed email (touch 0), which is not one of our Message rows.
    """
    ids = [m for m in message_ids if m]
    if not ids:
        return {}
    out: dict[str, Enrollment] = {}
    rows = s.scalars(
        select(Enrollment).where(
            Enrollment.mailbox == mailbox,
            or_(Enrollment.thread_root_id.in_(ids), Enrollment.last_message_id.in_(ids)),
        )
    )
    for e in rows:
        for key in (e.thread_root_id, e.last_message_id):
            if key in ids:
                out.setdefault(key, e)
    return out


def enrollment(s: Session, enrollment_id: int) -> Enrollment | None:
    return s.get(Enrollment, enrollment_id)


def enrollment_by_token(s: Session, token: str) -> Enrollment | None:
    return s.scalars(select(Enrollment).where(Enrollment.token == token)).first()


def prospect(s: Session, prospect_id: int) -> Prospect | None:
    return s.get(Prospect, prospect_id)


def recent_enrollments_of_address(
    s: Session, email: str, *, mailbox: str, finished_since: datetime
) -> list[Enrollment]:
    """The address's open enrollments in this mailbox, then recently finished ones; newest first."""
    return list(
        s.scalars(
            select(Enrollment)
            .join(Prospect, Prospect.id == Enrollment.prospect_id)
            .where(
                Prospect.email == email.lower(),
                Enrollment.mailbox == mailbox,
                or_(
                    Enrollment.status.in_(lifecycle.OPEN_STATES),
                    Enrollment.finished_at >= finished_since,
                ),
            )
            .order_by(Enrollment.status.in_(lifecycle.OPEN_STATES).desc(), Enrollment.id.desc())
        )
    )


def open_enrollments_of_prospect(s: Session, prospect_id: int) -> list[Enrollment]:
    return list(
        s.scalars(
            select(Enrollment)
            .where(
                Enrollment.prospect_id == prospect_id, Enrollment.status.in_(lifecycle.OPEN_STATES)
            )
            .order_by(Enrollment.id)
        )
    )


def enrollment_with_thread_root(s: Session, mailbox: str, message_id: str) -> list[Enrollment]:
    return list(
        s.scalars(
            select(Enrollment).where(
                Enrollment.mailbox == mailbox, Enrollment.thread_root_id == message_id
            )
        )
    )


def count_events(s: Session, enrollment_id: int, kind: str, *, step: int | None = None) -> int:
    stmt = select(func.count(Event.id)).where(
        Event.enrollment_id == enrollment_id, Event.kind == kind
    )
    if step is not None:
        stmt = stmt.where(Event.step == step)
    return int(s.scalar(stmt) or 0)


def update_enrollment(s: Session, enrollment_id: int, **values: Any) -> None:
    """Plain field updates that are not state changes (thread ids, next_send_at, answered_at)."""
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


# --- the rep's answer, escalations, notifications ---------------------------------------


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
    "count_events",
    "due_escalations",
    "enrollment",
    "enrollment_by_token",
    "enrollment_with_thread_root",
    "enrollments_by_thread_ids",
    "events_of_enrollment",
    "folder_cursor",
    "known_message_ids",
    "last_poll_at",
    "latest_reply_of_enrollment",
    "list_inbound",
    "mark_applied",
    "open_enrollments_of_prospect",
    "pending_inbound",
    "prospect",
    "recent_enrollments_of_address",
    "record_poll",
    "release_set_aside",
    "reply_message_ids",
    "save_folder_cursor",
    "set_aside",
    "store_inbound",
    "touches_by_message_ids",
    "touches_of_enrollment",
    "unnotified_replies",
    "update_enrollment",
]
