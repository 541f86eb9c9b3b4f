"""Named queries that settle a touch that did not simply go: deferred, bounced, failed, held.

Every transition is guarded in its WHERE clause on the Message row's current status
(see ``sequencer.db.outbox`` for the claim and the exactly-once argument), so a worker
that lost its lease, or recovery racing a slow worker, records the truth at most once.
The hot path (``sending`` and ``sent``) lives in ``sequencer.db.outbox_sent``. None of
these functions commits: the caller's session does, and the caller decides (the policy
of which transition applies is ``sequencer.core.outcome``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db import store
from sequencer.db.models import Enrollment, Event, Message
from sequencer.db.outbox import DEFERRED, FAILED, HELD, IN_FLIGHT, QUEUED, SENDING, WAIT_HELD


def mark_deferred(
    s: Session,
    message_pk: int,
    *,
    now: datetime,
    error: str,
    until: datetime,
    retry: int,
    max_retries: int,
    actor: str,
) -> bool:
    """Not sent, try again at ``until`` (retry number ``retry``), same Message-ID.

    The back-off and the give-up point are decided by ``core.outcome``; this records
    them. Returns False when the row was no longer in flight (settled elsewhere).
    """
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=DEFERRED, attempts=Message.attempts + 1, error=error)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return False
    enrollment_id, step = row
    prospect_id = s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(
            retry_count=retry,
            next_send_at=until,
            wait_reason=f"retry {retry}/{max_retries}: {error}"[:500],
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(Enrollment.prospect_id)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            prospect_id=prospect_id,
            kind="send_deferred",
            actor=actor,
            step=step,
            reason=error,
            data={"retry": retry, "until": until.isoformat()},
        )
    )
    return True


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


def fail_enrollment(
    s: Session, enrollment_id: int, *, now: datetime, reason: str, actor: str
) -> bool:
    """An enrollment whose touch went out but whose next step cannot be scheduled ends
    ``failed`` with the reason (the operator fixes the sequence, then resumes it).
    False when it was no longer active (a reply recorded meanwhile keeps its state)."""
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    if enrollment is None or enrollment.status != lifecycle.ACTIVE:
        return False
    store.transition(
        s, enrollment, lifecycle.FAILED, now=now, actor=actor, step=enrollment.steps_done,
        reason=reason[:500],
    )
    return True


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


def release(
    s: Session,
    message_pks: Iterable[int],
    *,
    reason: str | None = None,
    worker: str | None = None,
    unsent_held: bool = False,
) -> int:
    """Give claimed-but-unsent touches back: rows deferred (same Message-ID later), leases freed.

    With ``worker``, only that worker's rows and leases are touched: a worker that lost a
    lease never releases what another worker claimed since. ``unsent_held``: the worker
    knows these rows never reached MAIL FROM, so a row recovery held meanwhile (it could
    not tell) is given back too, and the enrollment's "held" wait is cleared.
    """
    pks = list(message_pks)
    if not pks:
        return 0
    statuses = (QUEUED, SENDING, HELD) if unsent_held else (QUEUED, SENDING)
    cond = [Message.id.in_(pks), Message.status.in_(statuses)]
    if worker is not None:
        cond.append(Message.worker == worker)
    enrollment_ids = list(
        s.scalars(
            update(Message)
            .where(*cond)
            .values(status=DEFERRED, error=reason)
            .returning(Message.enrollment_id)
        )
    )
    if enrollment_ids:
        lease = [Enrollment.id.in_(enrollment_ids)]
        if worker is not None:
            lease.append(or_(Enrollment.lease_owner == worker, Enrollment.lease_owner.is_(None)))
        values: dict[str, object] = {"lease_owner": None, "lease_expires_at": None}
        if unsent_held:
            values["wait_reason"] = case(
                (Enrollment.wait_reason == WAIT_HELD, None), else_=Enrollment.wait_reason
            )
        s.execute(
            update(Enrollment)
            .where(*lease)
            .values(**values)
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
