"""Named queries of the notification claims: exactly once, across workers and machines.

Every system notification (reply alert, escalation, digest, task reminder, task
escalation, inbound-lead alert, mailbox notice) is one ``notifications`` row with a
unique ``key``. The protocol, like the touches':

1. ``claim`` (its own committed transaction): INSERT the row as ``claimed`` with this
   worker and a lease; the unique key makes the loser of a race a no-op. A ``failed``
   row (SMTP refused it, so it did not go out) may be claimed again, up to a limit.
2. The caller sends, holding no database lock across the SMTP conversation.
3. ``mark_sent`` / ``mark_failed`` in a short transaction, fenced on the worker.

A ``claimed`` row whose lease ran out was left by a worker that died mid-send: nobody
knows whether the mail went out, so ``hold_expired`` makes it ``held`` (never resent by
itself) and the operator resolves it with ``resolve``. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sequencer.db.models import Notification

CLAIMED, SENT, FAILED, HELD = "claimed", "sent", "failed", "held"


def _insert(s: Session):  # type: ignore[no-untyped-def]
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(Notification)


def claim(
    s: Session,
    key: str,
    *,
    kind: str,
    now: datetime,
    lease_until: datetime,
    worker: str,
    recipients: Sequence[str],
    subject: str | None = None,
    max_attempts: int = 5,
) -> bool:
    """True for the one caller that may send this notification now.

    False when another worker holds it, it was sent, it is held, or it failed
    ``max_attempts`` times. A stale claim met here is turned ``held`` on the way.
    """
    inserted = s.execute(
        _insert(s)
        .values(
            key=key,
            kind=kind,
            status=CLAIMED,
            recipients=list(recipients),
            subject=subject,
            worker=worker,
            claimed_at=now,
            lease_until=lease_until,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.id)
    ).first()
    if inserted is not None:
        return True
    retaken = s.execute(
        update(Notification)
        .where(
            Notification.key == key,
            Notification.status == FAILED,
            Notification.attempts < max_attempts,
        )
        .values(status=CLAIMED, worker=worker, claimed_at=now, lease_until=lease_until)
        .returning(Notification.id)
    ).first()
    if retaken is not None:
        return True
    _hold(s, now, Notification.key == key)
    return False


def mark_sent(s: Session, key: str, *, worker: str, now: datetime) -> bool:
    """The SMTP server took it: sent. Fenced on the worker that claimed it (a claim held
    meanwhile because this worker was slow is confirmed too: it did go out)."""
    result = s.execute(
        update(Notification)
        .where(
            Notification.key == key,
            Notification.worker == worker,
            Notification.status.in_([CLAIMED, HELD]),
        )
        .values(status=SENT, sent_at=now, attempts=Notification.attempts + 1, error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(s: Session, key: str, *, worker: str, error: str) -> None:
    """The SMTP server refused it (it did not go out): claimable again by a later tick."""
    s.execute(
        update(Notification)
        .where(Notification.key == key, Notification.worker == worker, Notification.status == CLAIMED)
        .values(status=FAILED, attempts=Notification.attempts + 1, error=error[:1000])
    )


def _hold(s: Session, now: datetime, *where) -> int:  # type: ignore[no-untyped-def]
    result = s.execute(
        update(Notification)
        .where(Notification.status == CLAIMED, Notification.lease_until < now, *where)
        .values(
            status=HELD,
            error="claimed but never confirmed (the worker stopped mid-send?); "
            "it may or may not have arrived",
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def hold_expired(s: Session, now: datetime) -> int:
    """Claims past their lease become ``held`` (never resent by themselves); returns how many."""
    return _hold(s, now)


def needing_attention(s: Session, *, max_attempts: int = 5) -> list[Notification]:
    """Held notifications and those that failed for good: what the operator must look at."""
    return list(
        s.scalars(
            select(Notification)
            .where(
                or_(
                    Notification.status == HELD,
                    (Notification.status == FAILED) & (Notification.attempts >= max_attempts),
                )
            )
            .order_by(Notification.claimed_at, Notification.id)
        )
    )


def count_by_status(s: Session) -> dict[str, int]:
    from sqlalchemy import func

    return dict(
        s.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()  # type: ignore[arg-type]
    )


def resolve(s: Session, notification_id: int, *, arrived: bool) -> bool:
    """The operator's answer for a held (or given-up) notification.

    ``arrived``: it did reach its recipients (marked sent, never resent); otherwise it
    goes back to ``failed`` with its attempts reset, so the next tick sends it once.
    """
    values: dict[str, object] = (
        {"status": SENT, "error": "confirmed sent by the operator"}
        if arrived
        else {"status": FAILED, "attempts": 0, "error": "resend requested by the operator"}
    )
    result = s.execute(
        update(Notification)
        .where(
            Notification.id == notification_id, Notification.status.in_([HELD, FAILED])
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def status_of(s: Session, key: str) -> str | None:
    return s.scalar(select(Notification.status).where(Notification.key == key))


__all__ = [
    "CLAIMED",
    "FAILED",
    "HELD",
    "SENT",
    "claim",
    "count_by_status",
    "hold_expired",
    "mark_failed",
    "mark_sent",
    "needing_attention",
    "resolve",
    "status_of",
]
