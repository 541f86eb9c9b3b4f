"""After a poll applied its verdicts: alert owners of new replies, escalate unanswered ones.

Runs after the state change has committed, so a failed SMTP send is retried on the next
poll (up to ``NOTIFY_ATTEMPTS``), never lost. Replies the rep has not answered (seen in
the Sent folder) within ``reporting.reply_sla_hours`` go to ``reporting.managers`` once.
Every alert and escalation goes through ``reporting.once.send_once``: claimed before it
is sent, so any number of pollers and workers send each exactly once, and a crash
mid-send leaves it held for the operator instead of sending it again. Both return
their ``Counts``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.sequences import Sequence as SequenceDef
from sequencer.db import attribution, store
from sequencer.db import replies as q
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.inbound.context import ACTOR
from sequencer.inbound.counts import Counts
from sequencer.reporting import notify, once

NOTIFY_ATTEMPTS = 5


def _sequence_name(sequences: Mapping[str, SequenceDef], sequence_id: str) -> str:
    sequence = sequences.get(sequence_id)
    return sequence.name if sequence else sequence_id


def reply_facts(
    s: Session, sequences: Mapping[str, SequenceDef], enrollment: Enrollment
) -> notify.ReplyFacts:
    """What the alert and the escalation say, read from the database."""
    prospect = attribution.prospect(s, enrollment.prospect_id)
    assert prospect is not None
    reply = q.latest_reply_of_enrollment(s, enrollment.id)
    touches = q.touches_of_enrollment(s, enrollment.id)
    sequence = sequences.get(enrollment.sequence_id)
    step = enrollment.replied_step
    touch = next((t for t in touches if t.step == step), None)
    label = None
    if sequence and step and 1 <= step <= sequence.total_steps:
        label = sequence.step(step).name
    history = [
        notify.HistoryLine(
            enrollment.enrolled_at,
            f"enrolled in {_sequence_name(sequences, enrollment.sequence_id)} ({enrollment.source or 'cli'})",
        )
    ]
    if enrollment.source == "filing" and enrollment.thread_subject:
        history.append(
            notify.HistoryLine(
                enrollment.enrolled_at, f"your email filed: \u201c{enrollment.thread_subject}\u201d"
            )
        )
    for t in touches:
        if t.sent_at is not None:
            history.append(
                notify.HistoryLine(t.sent_at, f"touch {t.step} sent: \u201c{t.subject}\u201d")
            )
    for event in q.events_of_enrollment(s, enrollment.id, ("auto_reply", "soft_bounce", "intent")):
        history.append(
            notify.HistoryLine(
                event.at, f"{event.kind.replace('_', '-')}: {event.reason or ''}".strip()
            )
        )
    if enrollment.replied_at:
        history.append(
            notify.HistoryLine(
                enrollment.replied_at, f"reply from {reply.from_addr if reply else prospect.email}"
            )
        )
    history.sort(key=lambda h: h.at)
    return notify.ReplyFacts(
        prospect_email=prospect.email,
        prospect_name=prospect.name,
        company=prospect.company,
        deal_value=prospect.deal_value,
        sequence_id=enrollment.sequence_id,
        sequence_name=_sequence_name(sequences, enrollment.sequence_id),
        step=step,
        step_label=label,
        touch_subject=touch.subject
        if touch
        else (enrollment.thread_subject if step == 0 else None),
        reply_from=(reply.from_addr if reply and reply.from_addr else prospect.email),
        reply_subject=reply.subject if reply else None,
        snippet=(reply.snippet if reply else "") or "",
        replied_at=enrollment.replied_at or enrollment.status_changed_at,
        owner=enrollment.owner,
        history=tuple(history),
        reply_from_name=((reply.details or {}).get("from_name") if reply else None),
    )


def _notify_mailbox(config: Config, mailbox: MailboxConfig) -> MailboxConfig:
    name = config.reporting.notify_from
    return config.mailbox(name) if name else mailbox


def _reply_key(kind: str, enrollment: Enrollment) -> str:
    """One alert (or escalation) per reply: the enrollment and the moment it was replied."""
    replied = enrollment.replied_at or enrollment.status_changed_at
    return f"{kind}:{enrollment.id}:{int(replied.timestamp())}"


class _OneConnection:
    """Sends every alert of one poll over one SMTP connection and one event loop.

    ``notify.send_notification`` opens a loop, a connection and a login per alert and
    quits after it: with 50 new replies that was a third of a 5,000-message poll. A send
    that fails behaves as before (``send_once`` records it FAILED); the pool reconnects
    for the next one. Not used inside a running event loop (``notify`` handles that case).
    """

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._pool: Any = None

    @staticmethod
    def usable() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        return False

    def send(self, mailbox: MailboxConfig, msg: EmailMessage, recipients: Sequence[str]) -> None:
        from sequencer.mail.smtp import SmtpPool

        if self._runner is None:
            self._runner = asyncio.Runner()
        if self._pool is None or self._pool.mailbox is not mailbox:
            self._close_pool()
            self._pool = SmtpPool(mailbox, concurrency=1)
        pool, raw = self._pool, msg.as_bytes()

        async def go() -> None:
            for rcpt in recipients:
                await pool.send(mailbox.address, rcpt, raw)

        self._runner.run(go())

    def _close_pool(self) -> None:
        if self._pool is not None and self._runner is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                self._runner.run(pool.close())

    def close(self) -> None:
        self._close_pool()
        if self._runner is not None:
            self._runner.close()
            self._runner = None


def send_reply_alerts(
    db: Database,
    config: Config,
    mailbox: MailboxConfig,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    *,
    worker: str | None = None,
) -> Counts:
    """Alert the mailbox's owner of each new reply, exactly once across workers.

    Each alert is claimed before it is sent (``reporting.once``): a worker that loses the
    claim skips it, a refused send is retried on a later poll, a crash mid-send leaves
    it held for the operator.
    """
    sender = _notify_mailbox(config, mailbox)
    notified = 0
    warnings: list[str] = []
    with db.session() as s:
        pending = q.unnotified_replies(s, mailbox.name, max_attempts=NOTIFY_ATTEMPTS)
        facts = [(e, reply_facts(s, sequences, e)) for e in pending]
    connection = _OneConnection() if facts and _OneConnection.usable() else None
    try:
        for enrollment, fact in facts:
            notified += _alert(db, clock, mailbox, sender, enrollment, fact, worker, connection,
                               warnings)
    finally:
        if connection is not None:
            connection.close()
    return Counts(notified=notified, warnings=tuple(warnings))


def _alert(
    db: Database,
    clock: Clock,
    mailbox: MailboxConfig,
    sender: MailboxConfig,
    enrollment: Enrollment,
    fact: notify.ReplyFacts,
    worker: str | None,
    connection: _OneConnection | None,
    warnings: list[str],
) -> int:
    """One reply alert, exactly once (``once.send_once``); 1 if it was sent now."""

    def recorded(s: Session, now: datetime, enrollment: Enrollment = enrollment) -> None:
        store.record_event(
            s,
            now=now,
            kind="owner_notified",
            actor=ACTOR,
            enrollment=enrollment,
            reason=f"reply alert sent to {mailbox.address}",
            step=enrollment.replied_step,
        )

    outcome = once.send_once(
        db,
        clock,
        key=_reply_key("alert", enrollment),
        kind="reply-alert",
        sender=sender,
        recipients=[mailbox.address],
        compose=lambda now, fact=fact: notify.reply_alert(
            fact, from_mailbox=sender, to=mailbox.address, now=now
        ),
        on_sent=recorded,
        worker=worker,
        subject=f"reply alert: {fact.prospect_email}",
        send=connection.send if connection is not None else None,
    )
    if outcome.status == once.FAILED:
        with db.session() as s:
            store.record_event(
                s,
                now=clock.now(),
                kind="notify_failed",
                actor=ACTOR,
                enrollment=enrollment,
                reason=(outcome.error or "")[:500],
            )
        warnings.append(f"reply alert for enrollment {enrollment.id} not sent: {outcome.error}")
    return int(outcome.sent)


def escalate(
    db: Database,
    config: Config,
    mailbox: MailboxConfig,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    *,
    worker: str | None = None,
) -> Counts:
    """Tell the managers, exactly once, of each reply left unanswered past the SLA."""
    managers = config.reporting.managers
    if not managers:
        return Counts()
    escalated = 0
    warnings: list[str] = []
    now = clock.now()
    sla = config.reporting.reply_sla_hours
    sender = _notify_mailbox(config, mailbox)
    with db.session() as s:
        due = q.due_escalations(s, mailbox.name, replied_before=now - timedelta(hours=sla))
        facts = [(e, reply_facts(s, sequences, e)) for e, _ in due]
    for enrollment, fact in facts:

        def recorded(s: Session, at: datetime, enrollment: Enrollment = enrollment) -> None:
            attribution.update_enrollment(s, enrollment.id, escalated_at=at)
            store.record_event(
                s,
                now=at,
                kind="escalated",
                actor=ACTOR,
                enrollment=enrollment,
                reason=f"unanswered after {sla:g}h; sent to {', '.join(managers)}",
                step=enrollment.replied_step,
            )

        outcome = once.send_once(
            db,
            clock,
            key=_reply_key("escalation", enrollment),
            kind="escalation",
            sender=sender,
            recipients=list(managers),
            compose=lambda at, fact=fact: notify.escalation(
                fact, from_mailbox=sender, to=managers, sla_hours=sla, now=at
            ),
            on_sent=recorded,
            worker=worker,
            subject=f"escalation: {fact.prospect_email}",
        )
        if outcome.status == once.FAILED:
            warnings.append(f"escalation for enrollment {enrollment.id} not sent: {outcome.error}")
        escalated += int(outcome.sent)
    return Counts(escalated=escalated, warnings=tuple(warnings))


__all__ = ["NOTIFY_ATTEMPTS", "escalate", "reply_facts", "send_reply_alerts"]
