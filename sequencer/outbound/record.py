"""Record what the SMTP server said about a group of touches, in one commit.

``describe_failure`` is the edge between the SMTP adapter and the core: it turns the
adapter's exceptions into a plain ``SendFailure``; ``core.outcome.outcome`` decides what
that means; ``record`` writes the decisions (``db.outbox_sent`` / ``db.outbox_record``)
and, in the same commit, hands the next group to SMTP (``queued -> sending``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sequencer.config import Config, MailboxConfig
from sequencer.core.outcome import (
    Action,
    Network,
    Outcome,
    PauseKind,
    SendFailure,
    enhanced_status,
    mailbox_backoff,
    outcome,
    retry_delay,
)
from sequencer.core.schedule import BusinessCalendar
from sequencer.db import mailbox_state, outbox, outbox_record, outbox_sent, sent_copies
from sequencer.db.models import Event
from sequencer.db.session import Database
from sequencer.mail.smtp import HardBounce, PermanentFailure, SenderRejected, TemporaryFailure
from sequencer.outbound.result import TickResult
from sequencer.outbound.touch import ComposeFailed, advance_safely

log = logging.getLogger("sequencer.outbound.engine")


@dataclass
class Delivery:
    """One touch after its SMTP conversation: sent (``sent_at``) or failed (``error``)."""

    claim: outbox.Claim
    sent_at: datetime | None = None
    error: Exception | None = None
    note: str | None = None
    withdrawn: str | None = None  # not sent: checked right before MAIL FROM (``replied``, ...)


@dataclass
class Recorded:
    """One record commit: the counts, the ids now ``sending`` (only those may be sent),
    and why the mailbox must stop this tick (None: go on)."""

    result: TickResult = field(default_factory=TickResult)
    started: set[int] = field(default_factory=set)
    stop: str | None = None
    copies: list[sent_copies.Copy] = field(default_factory=list)  # Sent copies queued, ours to file


_NETWORK_MARKS: tuple[tuple[Network, tuple[str, ...]], ...] = (
    ("tls", ("certificate", "ssl")),
    ("dns", ("name or service not known", "gaierror", "name resolution", "nodename nor")),
    ("refused", ("connection refused", "connect call failed", "errno 111")),
    ("timeout", ("timed out", "timeout")),
)


def network_kind(text: str) -> Network:
    """What kind of network fault an adapter's message describes (for the operator)."""
    low = text.lower()
    for kind, marks in _NETWORK_MARKS:
        if any(mark in low for mark in marks):
            return kind
    return "other"


def describe_failure(exc: Exception) -> SendFailure:
    """The adapter's exception as a plain value for ``core.outcome`` (no secrets in it)."""
    if isinstance(exc, ComposeFailed):
        return SendFailure("compose", str(exc))
    if isinstance(exc, PermanentFailure):  # HardBounce included: 5xx to RCPT, else after DATA
        phase = "rcpt" if isinstance(exc, HardBounce) else "data"
        return SendFailure(
            phase, f"{exc.code} {exc.reply}", code=exc.code, enhanced=enhanced_status(exc.reply)
        )
    if isinstance(exc, TemporaryFailure):
        # Broken during DATA, refused at RCPT, or the server itself (connect, greeting, 4xx).
        phase = "data" if exc.maybe_delivered else "rcpt" if exc.recipient else "connect"
        return SendFailure(
            phase,
            str(exc),
            code=exc.code,
            enhanced=enhanced_status(exc.reply),
            maybe_delivered=exc.maybe_delivered,
            network=network_kind(str(exc)) if exc.code is None else None,
        )
    if isinstance(exc, SenderRejected):
        return SendFailure("mail", str(exc))
    # A refused login (MailboxError), a password that cannot be read (SecretError):
    # the mailbox is at fault, not the touch.
    return SendFailure("auth", str(exc))


def record(
    db: Database,
    config: Config,
    calendar: BusinessCalendar,
    mailbox: MailboxConfig,
    deliveries: list[Delivery],
    start: list[outbox.Claim],
    *,
    now: datetime,
    worker: str,
    copy_lease: timedelta | None = None,
) -> Recorded:
    """Commit the deliveries' outcomes and mark ``start`` sending, in one transaction.

    ``start`` is marked only when nothing here says stop. With ``copy_lease`` (the
    mailbox wants Sent copies) each touch recorded sent gets its copy queued, leased to
    ``worker`` for that long, in the same commit (``outbound.copies`` files them). Commits.
    """
    out = Recorded()
    result = out.result
    sending = config.sending
    pause: Outcome | None = None
    with db.session() as s:
        accepted: list[outbox_sent.SentTouch] = []
        unschedulable: dict[int, str] = {}  # enrollment id -> why its next step cannot be
        for d in deliveries:
            if d.error is not None or d.sent_at is None:
                continue
            advance, why = advance_safely(
                calendar, mailbox, d.claim.payload, d.claim.message_id, d.sent_at
            )
            if why is not None:
                log.error("enrollment %s: %s", d.claim.enrollment_id, why)
                unschedulable[d.claim.enrollment_id] = why
            accepted.append(
                outbox_sent.SentTouch(
                    message_pk=d.claim.id,
                    enrollment_id=d.claim.enrollment_id,
                    prospect_id=d.claim.prospect_id,
                    message_id=d.claim.message_id,
                    sent_at=d.sent_at,
                    advance=advance,
                    note=d.note,
                )
            )
        moved: list[int] = []
        result.sent += outbox_sent.mark_sent_many(
            s, accepted, now=now, mailbox=mailbox.name, actor=worker, moved=moved
        )
        if copy_lease is not None and moved:
            out.copies = _queue_copies(s, deliveries, set(moved), mailbox.name, worker, now, copy_lease)
        if result.sent:
            mailbox_state.sent_through(s, mailbox.name, now=now)
        for enrollment_id, why in unschedulable.items():
            if outbox_record.fail_enrollment(s, enrollment_id, now=now, reason=why, actor=worker):
                result.failed += 1
                result.errors.append(f"enrollment {enrollment_id}: {why}")
        withdrawn = [d for d in deliveries if d.withdrawn is not None]
        for d in withdrawn:
            assert d.withdrawn is not None
            _withdraw(
                s, [d.claim], {d.claim.id: d.withdrawn}, now=now, worker=worker, result=result
            )
        for d in deliveries:
            if d.error is None:
                continue
            c = d.claim
            decided = outcome(describe_failure(d.error), c.retries, max_retries=sending.max_retries)
            out.stop = out.stop or decided.stop_mailbox
            if decided.action is Action.HOLD:
                outbox_record.hold(s, c.id, now=now, actor=worker, reason=decided.reason)
                result.held += 1
            elif decided.action is Action.RETRY:
                outbox_record.mark_deferred(
                    s,
                    c.id,
                    now=now,
                    error=decided.reason,
                    until=now + retry_delay(c.retries, base_seconds=sending.retry_base_seconds),
                    retry=c.retries + 1,
                    max_retries=sending.max_retries,
                    actor=worker,
                )
                result.retrying += 1
            elif decided.action is Action.BOUNCE:
                outbox_record.mark_bounced(
                    s, c.id, now=now, error=decided.reason, recipient=c.to_addr, actor=worker
                )
                result.bounced += 1
            elif decided.action is Action.FAIL:
                outbox_record.mark_failed(s, c.id, now=now, error=decided.reason, actor=worker)
                result.failed += 1
            else:  # PAUSE_MAILBOX: the touch goes back untouched, the mailbox stops
                outbox_record.release(s, [c.id], reason=decided.reason, worker=worker)
                result.released += 1
                pause = pause or decided
        if pause is not None:
            _pause(s, mailbox, pause, now=now, result=result)
            out.stop = pause.reason
        elif out.stop is None and start:
            out.started, lost = outbox_sent.mark_attempting(s, start, worker=worker, now=now)
            _withdraw(
                s, [c for c in start if c.id in lost], lost, now=now, worker=worker, result=result
            )
    return out


def _queue_copies(
    s: Session,
    deliveries: list[Delivery],
    moved: set[int],
    mailbox: str,
    worker: str,
    now: datetime,
    lease: timedelta,
) -> list[sent_copies.Copy]:
    new = [
        sent_copies.NewCopy(d.claim.id, d.claim.message_id, d.claim.payload.raw, d.sent_at)
        for d in deliveries
        if d.claim.id in moved and d.sent_at is not None
    ]
    ids = sent_copies.queue(s, new, mailbox=mailbox, worker=worker, now=now, lease=lease)
    return [
        sent_copies.Copy(pk, c.message_id, c.raw, c.sent_at, check_first=False)
        for pk, c in zip(ids, new, strict=True)
    ]


def _pause(
    s: Session, mailbox: MailboxConfig, decided: Outcome, *, now: datetime, result: TickResult
) -> None:
    """Pause the mailbox as ``decided``: until the operator (AUTH), the provider's window
    (QUOTA) or the mailbox back-off (UNREACHABLE), which grows with each failed try. The
    SMTP settings' fingerprint goes with it: a fixed config is tried at the next tick."""
    from sequencer.outbound.health import config_print

    name = mailbox.name
    state = mailbox_state.lock_mailbox_state(s, name)
    until: datetime | None = None
    if decided.pause_kind is PauseKind.QUOTA and decided.pause_for is not None:
        until = now + decided.pause_for
    elif decided.pause_kind is PauseKind.UNREACHABLE:
        until = now + mailbox_backoff(state.pause_failures or 0)
    kind = str(decided.pause_kind) if decided.pause_kind else None
    mailbox_state.pause_mailbox(
        s,
        name,
        reason=decided.reason,
        now=now,
        kind=kind,
        until=until,
        config_print=config_print(mailbox),
    )
    if kind == PauseKind.UNREACHABLE:
        result.unreachable[name] = decided.reason
    else:
        result.paused[name] = decided.reason
    log.error("mailbox %s paused (%s): %s", name, kind, decided.reason)


def _withdraw(
    s: Session,
    claims: list[outbox.Claim],
    reasons: dict[int, str],
    *,
    now: datetime,
    worker: str,
    result: TickResult,
) -> None:
    """Claims this worker will not send (replied meanwhile, lease lost): give back what is
    still ours with the reason, leave alone what another worker owns, say why in events."""
    for c in claims:
        reason = reasons[c.id]
        given_back = outbox_record.release(
            s, [c.id], reason=f"not sent: {reason}", worker=worker, unsent_held=True
        )
        result.count(result.withdrawn, reason)
        if given_back:
            s.add(
                Event(
                    at=now,
                    enrollment_id=c.enrollment_id,
                    prospect_id=c.prospect_id,
                    kind="send_withdrawn",
                    actor=worker,
                    step=c.step,
                    reason=reason,
                )
            )
        log.info("touch %s to enrollment %s not sent: %s", c.message_id, c.enrollment_id, reason)


def release(db: Database, claims: list[outbox.Claim], reason: str, worker: str) -> TickResult:
    """Give claimed touches back unsent (same Message-ID later); commits."""
    result = TickResult()
    if claims:
        with db.session() as s:
            result.released = outbox_record.release(
                s, [c.id for c in claims], reason=reason, worker=worker
            )
    return result


__all__ = ["Delivery", "Recorded", "describe_failure", "record", "release"]
