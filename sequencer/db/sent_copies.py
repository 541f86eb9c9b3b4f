"""The durable queue of Sent-folder copies: queued with the send, deleted once appended.

``queue`` runs inside the commit that records touches sent (``record``), so a copy
exists exactly when its touch is recorded sent. ``take`` leases due rows to one worker
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two workers never take the same row), and
``done`` / ``failed`` settle them. None of them commits: the caller's session does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from sequencer.db.models import SentCopy

# Retries back off from a minute to an hour; a copy is never given up (``status`` counts it).
_BACKOFF_BASE = timedelta(minutes=1)
_BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class Copy:
    """One copy to file: which touch, its bytes and date, and whether it may be filed already."""

    id: int
    message_id: str
    raw: bytes
    sent_at: datetime
    # True when an earlier APPEND may have reached the server (another worker's lease
    # ran out, or an APPEND failed mid-command): look it up in Sent before appending.
    check_first: bool


@dataclass(frozen=True)
class NewCopy:
    message_pk: int
    message_id: str
    raw: bytes
    sent_at: datetime


def queue(
    s: Session, copies: Sequence[NewCopy], *, mailbox: str, worker: str, now: datetime, lease: timedelta
) -> list[int]:
    """Queue copies leased to ``worker`` (it appends them right after this commit); their ids."""
    if not copies:
        return []
    rows = [
        SentCopy(
            message_pk=c.message_pk,
            mailbox=mailbox,
            message_id=c.message_id,
            raw=c.raw,
            sent_at=c.sent_at,
            queued_at=now,
            attempts=0,
            lease_owner=worker,
            lease_until=now + lease,
        )
        for c in copies
    ]
    s.add_all(rows)
    s.flush()
    return [r.id for r in rows]


def take(
    s: Session, *, mailbox: str, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Copy]:
    """Lease up to ``limit`` due copies nobody holds (retries and leftovers of dead workers)."""
    t = SentCopy.__table__
    due = (
        select(t.c.id)
        .where(
            t.c.mailbox == mailbox,
            or_(t.c.next_try_at.is_(None), t.c.next_try_at <= now),
            or_(t.c.lease_until.is_(None), t.c.lease_until <= now),
        )
        .order_by(t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(s.scalars(due))
    if not ids:
        return []
    rows = s.execute(
        update(t)
        .where(t.c.id.in_(ids))
        .values(lease_owner=worker, lease_until=now + lease)
        .returning(t.c.id, t.c.message_id, t.c.raw, t.c.sent_at, t.c.attempts, t.c.lease_owner)
    ).all()
    # Anything taken here was not queued by this worker in this run: it may be filed already
    # (a crash after APPEND, before the row was deleted), so it is looked up first.
    return sorted(
        (Copy(r.id, r.message_id, r.raw, r.sent_at, check_first=True) for r in rows),
        key=lambda c: c.id,
    )


def done(s: Session, ids: Sequence[int]) -> None:
    """The copies are in Sent: forget them."""
    if ids:
        s.execute(delete(SentCopy).where(SentCopy.id.in_(list(ids))))


def failed(s: Session, ids: Sequence[int], *, now: datetime, error: str) -> None:
    """An append failed: free the rows for any worker after a back-off that grows per attempt."""
    if not ids:
        return
    t = SentCopy.__table__
    for pk, attempts in s.execute(select(t.c.id, t.c.attempts).where(t.c.id.in_(list(ids)))).all():
        wait = min(_BACKOFF_BASE * (2 ** min(attempts, 10)), _BACKOFF_MAX)
        s.execute(
            update(t)
            .where(t.c.id == pk)
            .values(
                attempts=attempts + 1,
                next_try_at=now + wait,
                lease_owner=None,
                lease_until=None,
                last_error=error[:2000],
            )
        )


def missing_by_mailbox(s: Session) -> dict[str, int]:
    """Copies not in Sent yet, per mailbox (``sequencer status``)."""
    t = SentCopy.__table__
    return dict(s.execute(select(t.c.mailbox, func.count()).group_by(t.c.mailbox)).all())  # type: ignore[arg-type]


__all__ = ["Copy", "NewCopy", "done", "failed", "missing_by_mailbox", "queue", "take"]
