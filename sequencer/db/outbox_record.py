"""Named queries that move claimed touches on: sending, sent, deferred, bounced, failed, held.

Every transition is guarded in its WHERE clause on the Message row's current status
(see ``sequencer.db.outbox`` for the claim and the exactly-once argument), so a worker
that lost its lease, or recovery racing a slow worker, records the truth at most once.
``mark_sent_many`` and ``mark_attempting`` are the engine's hot path: their statements
are built once, at import, and only bound per group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db import store
from sequencer.db.models import Enrollment, Event, Message
from sequencer.db.outbox import (
    DEFERRED,
    FAILED,
    HELD,
    IN_FLIGHT,
    QUEUED,
    SENDING,
    SENT,
    WAIT_HELD,
)


def _bind(name: str, type_: Any = None, *, expanding: bool = False) -> Any:
    return bindparam(name, type_=type_, expanding=expanding)


def mark_attempting(s: Session, ids: Sequence[int], *, worker: str) -> None:
    """queued -> sending, committed by the caller right before the SMTP transactions start."""
    s.connection().execute(_ATTEMPTING, {"b_ids": list(ids), "b_worker": worker})


# --- recording outcomes ---------------------------------------------------------------


@dataclass(frozen=True)
class Advance:
    """How the enrollment moves on after its touch ``step`` was sent (computed by the service)."""

    step: int
    next_send_at: datetime | None  # None: that was the last step -> completed
    thread_subject: str | None
    thread_root_id: str | None
    last_message_id: str
    thread_refs: list[str]


def mark_sent(
    s: Session,
    message_pk: int,
    *,
    now: datetime,
    sent_at: datetime,
    advance: Advance,
    actor: str,
    note: str | None = None,
) -> bool:
    """Message sent and enrollment advanced, in the caller's transaction.

    Guarded: only a row still ``sending``/``queued``/``held`` becomes sent (a worker whose
    lease ran out and whose row was then held by recovery still records the truth).
    Returns False when the row was not in such a state (already recorded).
    """
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=SENT, sent_at=sent_at, attempts=Message.attempts + 1, error=note)
        .returning(Message.enrollment_id, Message.message_id, Message.mailbox)
    ).first()
    if row is None:
        return False
    enrollment_id, message_id, mailbox = row
    values: dict[str, Any] = {
        "steps_done": advance.step,
        "last_touch_at": sent_at,
        "last_message_id": advance.last_message_id,
        "thread_refs": advance.thread_refs,
        "thread_subject": advance.thread_subject,
        "thread_root_id": advance.thread_root_id,
        "retry_count": 0,
        "wait_reason": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if advance.next_send_at is not None:
        values["next_send_at"] = advance.next_send_at
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.steps_done == advance.step - 1)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            prospect_id=enrollment.prospect_id,
            kind="sent",
            actor=actor,
            step=advance.step,
            reason=note,
            data={"message_id": message_id, "mailbox": mailbox},
        )
    )
    if advance.next_send_at is None and enrollment.status == lifecycle.ACTIVE:
        store.transition(
            s,
            enrollment,
            lifecycle.COMPLETED,
            now=now,
            actor=actor,
            reason="every step sent, no reply",
            step=advance.step,
        )
    return True


@dataclass(frozen=True)
class SentTouch:
    """One accepted touch for ``mark_sent_many``."""

    message_pk: int
    enrollment_id: int
    prospect_id: int
    message_id: str
    sent_at: datetime
    advance: Advance
    note: str | None = None


def mark_sent_many(
    s: Session, touches: Sequence[SentTouch], *, now: datetime, mailbox: str, actor: str
) -> int:
    """``mark_sent`` for a group in a few executemany statements (the engine's hot path).

    Same guards: a message row moves only from queued/sending/held; the enrollment only
    from steps_done == step - 1, and its next_send_at only while it is still active (a
    reply recorded meanwhile keeps its state). Returns how many rows became sent. The
    statements are built once (module level) so a group costs a few executemany calls,
    not SQL construction per touch.
    """
    if not touches:
        return 0
    conn = s.connection()
    open_pks = set(conn.scalars(_OPEN_MESSAGES, {"b_ids": [t.message_pk for t in touches]}))
    todo = [t for t in touches if t.message_pk in open_pks]
    if not todo:
        return 0
    conn.execute(
        _MESSAGES_SENT,
        [{"b_id": t.message_pk, "b_sent_at": t.sent_at, "b_note": t.note} for t in todo],
    )
    conn.execute(
        _ENROLLMENTS_ADVANCED,
        [
            {
                "b_id": t.enrollment_id,
                "b_prev": t.advance.step - 1,
                "b_step": t.advance.step,
                "b_sent_at": t.sent_at,
                "b_mid": t.advance.last_message_id,
                "b_refs": t.advance.thread_refs,
                "b_subject": t.advance.thread_subject,
                "b_root": t.advance.thread_root_id,
                "b_next": t.advance.next_send_at,
            }
            for t in todo
        ],
    )
    conn.execute(
        _EVENT_INSERT,
        [
            {
                "at": now,
                "enrollment_id": t.enrollment_id,
                "prospect_id": t.prospect_id,
                "kind": "sent",
                "actor": actor,
                "step": t.advance.step,
                "reason": t.note,
                "data": {"message_id": t.message_id, "mailbox": mailbox},
            }
            for t in todo
        ],
    )
    last = [t.enrollment_id for t in todo if t.advance.next_send_at is None]
    if last:
        # store.transition(..., COMPLETED) for the whole group: one guarded UPDATE, one INSERT.
        completed = conn.execute(_COMPLETED, {"b_ids": last, "b_now": now}).all()
        if completed:
            conn.execute(
                _EVENT_INSERT,
                [
                    {
                        "at": now,
                        "enrollment_id": enrollment_id,
                        "prospect_id": prospect_id,
                        "kind": lifecycle.EVENT_FOR[lifecycle.COMPLETED],
                        "actor": actor,
                        "step": steps_done,
                        "reason": _COMPLETED_REASON,
                        "data": {"from": lifecycle.ACTIVE, "to": lifecycle.COMPLETED},
                    }
                    for enrollment_id, prospect_id, steps_done in completed
                ],
            )
            s.expire_all()  # enrollments loaded in this session no longer match their rows
    return len(todo)


def _hot_statements() -> tuple[Any, ...]:
    """The engine's per-group statements, built once: SQLAlchemy then only binds values."""
    from sqlalchemy import case

    m, e = Message.__table__, Enrollment.__table__
    in_flight = m.c.status.in_(IN_FLIGHT)
    attempting = (
        update(m)
        .where(m.c.id.in_(_bind("b_ids", expanding=True)), m.c.status == QUEUED)
        .values(status=SENDING, worker=_bind("b_worker"))
    )
    open_messages = (
        select(m.c.id)
        .where(m.c.id.in_(_bind("b_ids", expanding=True)), in_flight)
        .with_for_update()
    )
    sent = (
        update(m)
        .where(m.c.id == _bind("b_id"), or_(*(m.c.status == st for st in IN_FLIGHT)))
        .values(
            status=SENT,
            sent_at=_bind("b_sent_at", type_=m.c.sent_at.type),
            attempts=m.c.attempts + 1,
            error=_bind("b_note", type_=m.c.error.type),
        )
    )
    advanced = (
        update(e)
        .where(e.c.id == _bind("b_id"), e.c.steps_done == _bind("b_prev"))
        .values(
            steps_done=_bind("b_step"),
            last_touch_at=_bind("b_sent_at", type_=e.c.last_touch_at.type),
            last_message_id=_bind("b_mid", type_=e.c.last_message_id.type),
            thread_refs=_bind("b_refs", type_=e.c.thread_refs.type),
            thread_subject=_bind("b_subject", type_=e.c.thread_subject.type),
            thread_root_id=_bind("b_root", type_=e.c.thread_root_id.type),
            retry_count=0,
            wait_reason=None,
            lease_owner=None,
            lease_expires_at=None,
            next_send_at=case(
                (e.c.status == lifecycle.ACTIVE, _bind("b_next", type_=e.c.next_send_at.type)),
                else_=e.c.next_send_at,
            ),
        )
    )
    assert lifecycle.allowed_from(lifecycle.COMPLETED) == {lifecycle.ACTIVE}
    completed = (
        update(e)
        .where(e.c.id.in_(_bind("b_ids", expanding=True)), e.c.status == lifecycle.ACTIVE)
        .values(
            status=lifecycle.COMPLETED,
            status_reason=_COMPLETED_REASON,
            status_changed_at=_bind("b_now", type_=e.c.status_changed_at.type),
            finished_at=_bind("b_now", type_=e.c.finished_at.type),
            next_send_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(e.c.id, e.c.prospect_id, e.c.steps_done)
    )
    return attempting, open_messages, sent, advanced, completed, Event.__table__.insert()


_COMPLETED_REASON = "every step sent, no reply"
(
    _ATTEMPTING,
    _OPEN_MESSAGES,
    _MESSAGES_SENT,
    _ENROLLMENTS_ADVANCED,
    _COMPLETED,
    _EVENT_INSERT,
) = _hot_statements()


def mark_failed_temporary(
    s: Session,
    message_pk: int,
    *,
    now: datetime,
    error: str,
    base_seconds: int,
    max_retries: int,
    actor: str,
) -> datetime | None:
    """Not sent, try again: retry n waits base*2^(n-1); after max_retries the enrollment fails.

    Returns the retry time, or None when it gave up.
    """
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=DEFERRED, attempts=Message.attempts + 1, error=error)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return None
    enrollment_id, step = row
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    retries = enrollment.retry_count + 1
    if retries > max_retries:
        s.execute(update(Message).where(Message.id == message_pk).values(status=FAILED))
        enrollment.lease_owner = None
        enrollment.lease_expires_at = None
        s.flush()
        if enrollment.status == lifecycle.ACTIVE:
            store.transition(
                s,
                enrollment,
                lifecycle.FAILED,
                now=now,
                actor=actor,
                step=step,
                reason=f"gave up after {max_retries} retries: {error}",
                retry_count=retries,
            )
        return None
    until = now + timedelta(seconds=base_seconds * 2 ** (retries - 1))
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(
            retry_count=retries,
            next_send_at=until,
            wait_reason=f"retry {retries}/{max_retries}: {error}"[:500],
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            prospect_id=enrollment.prospect_id,
            kind="send_deferred",
            actor=actor,
            step=step,
            reason=error,
            data={"retry": retries, "until": until.isoformat()},
        )
    )
    return until


def _fail_message(s: Session, message_pk: int, error: str) -> tuple[Enrollment, int] | None:
    """Mark an in-flight touch failed for good and free its enrollment's lease.

    Returns the enrollment and step, or None when the row was no longer in flight
    (another worker or the operator settled it first).
    """
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=FAILED, attempts=Message.attempts + 1, error=error)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return None
    enrollment_id, step = row
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    enrollment.lease_owner = None
    enrollment.lease_expires_at = None
    s.flush()
    return enrollment, step


def mark_bounced(
    s: Session, message_pk: int, *, now: datetime, error: str, recipient: str, actor: str
) -> None:
    """A 5xx for the recipient: message failed, enrollment bounced, the address suppressed."""
    failed = _fail_message(s, message_pk, error)
    if failed is None:
        return
    enrollment, step = failed
    store.add_suppression(
        s, recipient, kind="address", reason=f"hard bounce: {error}"[:500], source="smtp", now=now
    )
    if enrollment.status in lifecycle.allowed_from(lifecycle.BOUNCED):
        store.transition(
            s, enrollment, lifecycle.BOUNCED, now=now, actor=actor, step=step, reason=error[:500]
        )


def mark_failed(s: Session, message_pk: int, *, now: datetime, error: str, actor: str) -> None:
    """The touch will never go (rejected content): message failed, enrollment failed (operator may retry)."""
    failed = _fail_message(s, message_pk, error)
    if failed is None:
        return
    enrollment, step = failed
    if enrollment.status == lifecycle.ACTIVE:
        store.transition(
            s, enrollment, lifecycle.FAILED, now=now, actor=actor, step=step, reason=error[:500]
        )


def hold(s: Session, message_pk: int, *, now: datetime, reason: str, actor: str) -> bool:
    """Maybe sent, cannot confirm: park the row for ``outbox resolve``; the enrollment waits."""
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_((QUEUED, SENDING)))
        .values(status=HELD, error=reason)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return False
    enrollment_id, step = row
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(wait_reason=WAIT_HELD, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            kind="send_held",
            actor=actor,
            step=step,
            reason=reason,
        )
    )
    return True


def release(s: Session, message_pks: Iterable[int], *, reason: str | None = None) -> int:
    """Give claimed-but-unsent touches back: rows deferred (same Message-ID later), leases freed."""
    pks = list(message_pks)
    if not pks:
        return 0
    enrollment_ids = list(
        s.scalars(
            update(Message)
            .where(Message.id.in_(pks), Message.status.in_((QUEUED, SENDING)))
            .values(status=DEFERRED, error=reason)
            .returning(Message.enrollment_id)
        )
    )
    if enrollment_ids:
        s.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(enrollment_ids))
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
    return len(enrollment_ids)


def stale_sending(
    s: Session, now: datetime, *, lease_seconds: int, mailbox: str | None = None
) -> list[Message]:
    """Rows a dead worker left ``queued``/``sending`` (claimed longer than a lease ago)."""
    q = select(Message).where(
        Message.status.in_((QUEUED, SENDING)),
        Message.claimed_at < now - timedelta(seconds=lease_seconds),
    )
    if mailbox is not None:
        q = q.where(Message.mailbox == mailbox)
    return list(s.scalars(q.order_by(Message.id).with_for_update(skip_locked=True)))


def resend(s: Session, message_pk: int, *, now: datetime, actor: str) -> bool:
    """Operator says a held touch never arrived: it goes again (same Message-ID) at the next tick."""
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status == HELD)
        .values(status=DEFERRED, error="resend requested by operator")
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return False
    enrollment_id, step = row
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(next_send_at=now, wait_reason=None, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            kind="send_resend",
            actor=actor,
            step=step,
            reason="held touch resent by operator",
        )
    )
    return True
