"""Send one system notification exactly once, whatever the number of workers.

``send_once`` is the one path every notification takes (reply alerts, SLA escalations,
the digest, task reminders and escalations, inbound-lead alerts, mailbox notices):
claim the notification's key in a committed transaction, send with no database lock
held, then record it as sent (and whatever the caller records with it, in the same
short transaction). See ``sequencer.db.notifications`` for the states. A notification
claimed by a worker that then died is ``held`` for the operator
(``sequencer notifications``), never sent twice and never silently dropped.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import MailboxConfig
from sequencer.db import notifications as q
from sequencer.db.session import Database
from sequencer.errors import MailboxError
from sequencer.reporting import notify

# A notification is one small SMTP conversation; a claim older than this was left by a
# worker that stopped, so it is held instead of being sent again.
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 5

SENT, TAKEN, FAILED = "sent", "taken", "failed"


def this_worker() -> str:
    """Who claims: host, process and thread, so threads of one process fence each other too."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


@dataclass(frozen=True)
class Sent:
    """What became of one ``send_once`` call: SENT, TAKEN (not ours to send) or FAILED."""

    status: str
    error: str | None = None

    @property
    def sent(self) -> bool:
        return self.status == SENT


def send_once(
    db: Database,
    clock: Clock,
    *,
    key: str,
    kind: str,
    sender: MailboxConfig,
    recipients: Sequence[str],
    compose: Callable[[datetime], EmailMessage],
    on_sent: Callable[[Session, datetime], Any] | None = None,
    worker: str | None = None,
    subject: str | None = None,
    send: Callable[[MailboxConfig, EmailMessage, Sequence[str]], None] | None = None,
) -> Sent:
    """Claim ``key``, send, record. Never raises for a mail failure (FAILED: retried later).

    ``compose(now)`` builds the message only once the claim is ours; ``on_sent(session,
    now)`` records the caller's own facts (an event, ``escalated_at``) in the transaction
    that marks it sent. ``send`` defaults to ``notify.send_notification``.
    """
    me = worker or this_worker()
    now = clock.now()
    with db.session() as s:
        ours = q.claim(
            s,
            key,
            kind=kind,
            now=now,
            lease_until=now + LEASE,
            worker=me,
            recipients=recipients,
            subject=subject,
            max_attempts=MAX_ATTEMPTS,
        )
    if not ours:
        return Sent(TAKEN)
    try:
        msg = compose(now)
        (send or notify.send_notification)(sender, msg, list(recipients))
    except (MailboxError, OSError) as exc:
        with db.session() as s:
            q.mark_failed(s, key, worker=me, error=str(exc))
        return Sent(FAILED, str(exc))
    except Exception as exc:
        # A bug in composing: nothing went out. (An interrupt, BaseException, leaves the
        # claim alone: its lease runs out and it is held, as the mail may have gone.)
        with db.session() as s:
            q.mark_failed(s, key, worker=me, error=f"{type(exc).__name__}: {exc}")
        raise
    with db.session() as s:
        q.mark_sent(s, key, worker=me, now=now)
        if on_sent is not None:
            on_sent(s, now)
    return Sent(SENT)


@dataclass(frozen=True)
class AttentionRow:
    """A notification the operator must look at (``sequencer notifications``)."""

    id: int
    key: str
    kind: str
    status: str
    recipients: tuple[str, ...]
    subject: str | None
    claimed_at: datetime
    worker: str | None
    attempts: int
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["recipients"] = list(self.recipients)
        d["claimed_at"] = self.claimed_at.isoformat()
        return d


def needing_attention(db: Database, *, now: datetime) -> list[AttentionRow]:
    """Held notifications (a worker stopped mid-send) and those that failed for good."""
    with db.session() as s:
        q.hold_expired(s, now)
        rows = q.needing_attention(s, max_attempts=MAX_ATTEMPTS)
        return [
            AttentionRow(
                r.id, r.key, r.kind, r.status, tuple(r.recipients or ()), r.subject,
                r.claimed_at, r.worker, r.attempts, r.error,
            )
            for r in rows
        ]


def hold_expired(db: Database, *, now: datetime) -> int:
    with db.session() as s:
        return q.hold_expired(s, now)


def resolve(db: Database, notification_id: int, *, arrived: bool) -> bool:
    """``arrived``: confirmed delivered (never resent); else sent once more by the next tick."""
    with db.session() as s:
        return q.resolve(s, notification_id, arrived=arrived)


__all__ = [
    "FAILED",
    "LEASE",
    "MAX_ATTEMPTS",
    "SENT",
    "TAKEN",
    "AttentionRow",
    "Sent",
    "hold_expired",
    "needing_attention",
    "resolve",
    "send_once",
    "this_worker",
]
