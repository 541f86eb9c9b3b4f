"""What operators do with the outbox and mailboxes: status, list, resolve, unpause.

Also ``confirm_sent``, shared by ``outbox resolve ID sent`` and the engine's crash
recovery: it records a touch as sent from the database alone, through the engine's own
``mark_sent_many``, so the enrollment moves on exactly as if the engine had seen the
server's 250. The functions taking ``db`` open and commit their own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core import pacing
from sequencer.core.advance import Advance
from sequencer.core.schedule import BusinessCalendar, zone
from sequencer.core.sequences import Sequence
from sequencer.db import mailbox_state, outbox, outbox_record, outbox_sent, sent_copies
from sequencer.db.session import Database
from sequencer.errors import NotFound, UserError
from sequencer.outbound.touch import Prepared, advance_safely
from sequencer.project import business_calendar, prospect_zone


def confirm_sent(
    s: Session,
    config: Config,
    sequences: Mapping[str, Sequence],
    mailbox: MailboxConfig,
    message_pk: int,
    now: datetime,
    *,
    note: str,
    actor: str,
    calendar: BusinessCalendar | None = None,
) -> bool:
    """Mark a touch sent from the database alone (recovery and ``outbox resolve ID sent``).

    In the caller's transaction (``s``; the caller commits). Returns False when the row
    was no longer in flight (already recorded by someone else).
    """
    message = outbox.message(s, message_pk)
    if message is None:
        raise NotFound(f"no outbox message {message_pk}")
    e, p = outbox.enrollment_with_prospect(s, message.enrollment_id)
    sequence = sequences.get(e.sequence_id)
    unschedulable: str | None = None
    if sequence is None or message.step > len(sequence.steps):
        advance = Advance(
            step=message.step,
            next_send_at=None,
            thread_subject=e.thread_subject,
            thread_root_id=e.thread_root_id,
            last_message_id=message.message_id,
            thread_refs=[*(e.thread_refs or []), message.message_id],
        )
    else:
        prepared = Prepared(
            compose=None,
            sequence=sequence,
            step=message.step,
            subject=message.subject,
            tz_name=prospect_zone(config, sequence, mailbox, p.timezone),
            thread_subject=e.thread_subject,
            thread_root_id=e.thread_root_id,
            thread_refs=list(e.thread_refs or []),
        )
        advance, unschedulable = advance_safely(
            calendar or business_calendar(config), mailbox, prepared, message.message_id, now
        )
    touch = outbox_sent.SentTouch(
        message_pk=message_pk,
        enrollment_id=e.id,
        prospect_id=e.prospect_id,
        message_id=message.message_id,
        sent_at=now,
        advance=advance,
        note=note,
    )
    done = outbox_sent.mark_sent_many(s, [touch], now=now, mailbox=message.mailbox, actor=actor)
    if done and unschedulable is not None:
        outbox_record.fail_enrollment(s, e.id, now=now, reason=unschedulable, actor=actor)
    return done == 1


def resolve(
    db: Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    clock: Clock,
    message_pk: int,
    decision: str,
    *,
    actor: str = "cli",
) -> str:
    """``outbox resolve ID sent|resend`` for a held touch; returns what was done. Commits."""
    now = clock.now()
    with db.session() as s:
        message = outbox.message(s, message_pk)
        if message is None:
            raise NotFound(f"no outbox message with id {message_pk} (see `sequencer outbox list`)")
        if message.status != outbox.HELD:
            raise UserError(
                f"outbox message {message_pk} is {message.status}, not held; nothing to resolve"
            )
        if decision == "sent":
            mailbox = config.mailbox(message.mailbox)
            confirm_sent(
                s,
                config,
                sequences,
                mailbox,
                message_pk,
                now,
                note="confirmed sent by the operator",
                actor=actor,
            )
            return (
                f"message {message_pk} ({message.message_id}) marked sent; the enrollment moves on"
            )
        if decision == "resend":
            outbox_record.resend(s, message_pk, now=now, actor=actor)
            return f"message {message_pk} will be sent again at the next tick, with the same Message-ID"
        raise UserError(f"resolve takes 'sent' or 'resend', not {decision!r}")


def unpause(db: Database, clock: Clock, mailbox: str, *, actor: str = "cli") -> bool:
    """Resume a paused mailbox; False when it was not paused. Commits."""
    with db.session() as s:
        return mailbox_state.unpause_mailbox(s, mailbox, now=clock.now(), actor=actor)


# --- status -------------------------------------------------------------------------------


@dataclass
class MailboxStatus:
    name: str
    address: str
    sent_today: int
    daily_limit: int
    next_due: datetime | None
    next_send_allowed_at: datetime | None
    overdue: dict[str, int]
    waiting: dict[str, int]
    held: int
    in_flight: int
    last_poll_at: datetime | None
    last_poll_error: str | None
    paused_reason: str | None
    sent_copies_missing: int = 0  # sent touches whose copy is not in the Sent folder yet
    pause_kind: str | None = None
    paused_at: datetime | None = None
    paused_until: datetime | None = None
    # today / tomorrow: due, will_send and one number per reason the rest waits
    # (window, poll, held, pause, daily_limit, pace; task beside them): core.forecast
    forecast: dict[str, dict[str, int]] = field(default_factory=dict)


def status(db: Database, config: Config, clock: Clock) -> list[MailboxStatus]:
    """Per mailbox: sent today / limit, next due, overdue backlog and why, held rows, last poll."""
    from sequencer.outbound.forecast import mailbox_forecast

    now = clock.now()
    calendar = business_calendar(config)
    out = []
    with db.session() as s:
        states = mailbox_state.mailbox_states(s)
        missing = sent_copies.missing_by_mailbox(s)
        for mb in config.mailboxes:
            midnight = pacing.day_start(now, zone(mb.timezone or config.timezone))
            counts = mailbox_state.count_by_status(s, mb.name, outbox.IN_FLIGHT)
            st = states.get(mb.name)
            sent_today = mailbox_state.sent_since(s, mb.name, midnight)
            days = mailbox_forecast(
                s, config, calendar, mb, st, now=now, sent_today=sent_today
            )
            out.append(
                MailboxStatus(
                    name=mb.name,
                    address=mb.address,
                    sent_today=sent_today,
                    daily_limit=mb.daily_limit,
                    next_due=mailbox_state.next_due(s, mb.name),
                    next_send_allowed_at=st.next_send_allowed_at if st else None,
                    overdue=mailbox_state.overdue_by_reason(s, mb.name, now),
                    waiting=mailbox_state.waiting_by_reason(s, mb.name),
                    held=counts.get(outbox.HELD, 0),
                    in_flight=counts.get(outbox.QUEUED, 0) + counts.get(outbox.SENDING, 0),
                    last_poll_at=st.last_poll_at if st else None,
                    last_poll_error=st.last_poll_error if st else None,
                    paused_reason=st.paused_reason if st else None,
                    sent_copies_missing=missing.get(mb.name, 0),
                    pause_kind=st.pause_kind if st and st.paused_reason else None,
                    paused_at=st.paused_at if st and st.paused_reason else None,
                    paused_until=st.paused_until if st and st.paused_reason else None,
                    forecast={day: f.as_dict() for day, f in days.items()},
                )
            )
    return out


@dataclass
class OutboxRow:
    id: int
    status: str
    mailbox: str
    to: str
    step: int
    subject: str
    message_id: str
    claimed_at: datetime
    error: str | None
    enrollment_id: int


def outbox_list(
    db: Database,
    *,
    statuses: tuple[str, ...] = (
        outbox.HELD,
        outbox.QUEUED,
        outbox.SENDING,
        outbox.DEFERRED,
        outbox.FAILED,
    ),
) -> list[OutboxRow]:
    with db.session() as s:
        return [
            OutboxRow(
                m.id,
                m.status,
                m.mailbox,
                m.to_addr,
                m.step,
                m.subject,
                m.message_id,
                m.claimed_at,
                m.error,
                e.id,
            )
            for m, e in outbox.outbox_rows(s, statuses)
        ]


__all__ = [
    "MailboxStatus",
    "OutboxRow",
    "confirm_sent",
    "outbox_list",
    "resolve",
    "status",
    "unpause",
]
