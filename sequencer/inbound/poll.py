"""The inbox poller (service): fetch new mail, store verdicts, apply them, alert people.

Two phases, Mailman style:

1. **Store.** Each new message of each polled folder is classified (``classify``, pure)
   and stored in ``inbound_messages`` keyed by (mailbox, folder, UIDVALIDITY, UID),
   in the same transaction that advances the folder's cursor. Re-polling is harmless.
   See ``inbound_store``.
2. **Apply.** Stored, unapplied verdicts are attributed to an enrollment
   (``attribution``) and acted on (``inbound_effects``, ``filing``, ``inbound_leads``),
   one savepoint each: a message that raises is set aside with its error
   (``inbound_messages.error``) and the batch goes on; ``sequencer inbound retry``
   puts set-aside messages back.

Then the owner alerts for new replies go out (after the state change has committed, so
a failed SMTP send is retried on the next poll, never lost), and replies left unanswered
past ``reporting.reply_sla_hours`` are escalated to ``reporting.managers`` once
(``reply_alerts``).

Folder roles: the inbox and ``imap.folders.extra`` are classified; the Sent folder is
watched for the rep's answers (``imap.folders.poll_sent``); ``imap.folders.enroll``
folders enroll what the rep files there. See README, "The inbox poller" for every effect.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.sequences import Sequence as SequenceDef
from sequencer.db import inbound as q
from sequencer.db.models import InboundMessage
from sequencer.errors import MailboxError, SequencerError, UserError
from sequencer.inbound import alerts as reply_alerts
from sequencer.inbound import attribution, effects, filing
from sequencer.inbound import leads as inbound_leads
from sequencer.inbound import store as inbound_store
from sequencer.mail.imap_poll import ImapPoller

log = logging.getLogger(__name__)

APPLY_BATCH = 500


@dataclass
class PollResult:
    """What one poll of one mailbox did (``error`` set when it failed; nothing is half-done)."""

    mailbox: str
    ok: bool = True
    error: str | None = None
    folders: list[str] = field(default_factory=list)
    fetched: int = 0
    stored: int = 0
    applied: int = 0
    set_aside: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    replies: int = 0
    enrolled: int = 0
    answered: int = 0
    notified: int = 0
    escalated: int = 0
    imap_commands: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- entry points -------------------------------------------------------------------------


def poll_all(
    db: Any, config: Config, sequences: Mapping[str, SequenceDef], clock: Clock
) -> list[PollResult]:
    """One pass over every mailbox with IMAP settings; a failing mailbox never stops the others.

    The sending engine calls this before sending, so a reply that arrived overnight stops
    the next touch: each successful poll sets ``mailbox_state.last_poll_at``.
    """
    return [
        poll_mailbox(db, config, sequences, clock, m.name)
        for m in config.mailboxes
        if m.imap is not None
    ]


def poll_mailbox(
    db: Any,
    config: Config,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    mailbox_name: str,
    *,
    poller: ImapPoller | None = None,
) -> PollResult:
    """Poll one mailbox: fetch + store, apply, notify, escalate, then record the poll.

    ``poller`` lets ``sequencer run`` keep one connection (and its IDLE) across polls.
    Connection failures are retried inside the poller; if they persist the result
    carries the error and ``mailbox_state.last_poll_error`` says why.
    """
    mailbox = config.mailbox(mailbox_name)
    result = PollResult(mailbox=mailbox.name)
    own = _own_addresses(config)
    if mailbox.imap is None:
        result.ok, result.error = False, "no imap settings: nothing to poll"
        return result
    started = poller is None
    session = poller or ImapPoller(mailbox)
    commands_before = session.commands
    try:
        if started:
            session.connect()
        sent_polled = inbound_store.fetch_and_store(
            db, config, mailbox, session, clock, result, own
        )
        marks = _apply_pending(db, config, mailbox, sequences, clock, result, session.sent_folder())
        if mailbox.imap.mark_seen:
            for folder, uids in marks.items():
                session.mark_seen(folder, uids)
        reply_alerts.send_reply_alerts(db, config, mailbox, sequences, clock, result)
        leads_alerted, lead_warnings = inbound_leads.send_lead_alerts(db, config, mailbox, clock)
        result.notified += leads_alerted
        result.warnings += lead_warnings
        if sent_polled:
            reply_alerts.escalate(db, config, mailbox, sequences, clock, result)
        with db.session() as s:
            q.record_poll(s, mailbox.name, now=clock.now(), error=None)
    except (MailboxError, SequencerError) as exc:
        result.ok, result.error = False, str(exc)
        log.warning("poll of mailbox %s failed: %s", mailbox.name, exc)
        with db.session() as s:
            q.record_poll(s, mailbox.name, now=None, error=str(exc)[:2000])
    finally:
        result.imap_commands = session.commands - commands_before
        if started:
            session.close()
    return result


def retry_set_aside(db: Any, mailbox: str | None = None) -> int:
    """Put set-aside messages back in line; the next poll applies them again."""
    with db.session() as s:
        return q.release_set_aside(s, mailbox)


def inbound_messages(
    db: Any,
    *,
    kinds: Sequence[str] = (),
    mailbox: str | None = None,
    set_aside_only: bool = False,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Stored verdicts, newest first, as plain dicts (``inbound list``)."""
    with db.session() as s:
        rows = q.list_inbound(
            s, kinds=kinds, mailbox=mailbox, set_aside_only=set_aside_only, limit=limit
        )
        return [
            {
                "id": r.id,
                "received_at": r.received_at,
                "mailbox": r.mailbox,
                "folder": r.folder,
                "uid": r.uid,
                "kind": r.kind,
                "severity": r.severity,
                "from": r.from_addr,
                "subject": r.subject,
                "reason": r.reason,
                "refs": list(r.refs or []),
                "recipients": list(r.recipients or []),
                "snippet": r.snippet,
                "enrollment_id": r.enrollment_id,
                "prospect": email,
                "applied": r.applied,
                "error": r.error,
                "return_date": (r.details or {}).get("return_date"),
            }
            for r, email in rows
        ]


def apply_stored(
    db: Any, config: Config, sequences: Mapping[str, SequenceDef], clock: Clock, mailbox_name: str
) -> PollResult:
    """Apply stored verdicts without touching IMAP (``inbound retry --now``, benchmarks)."""
    mailbox = config.mailbox(mailbox_name)
    result = PollResult(mailbox=mailbox.name)
    _apply_pending(
        db,
        config,
        mailbox,
        sequences,
        clock,
        result,
        mailbox.imap.folders.sent if mailbox.imap else None,
    )
    return result


def _own_addresses(config: Config) -> frozenset[str]:
    return frozenset(m.address.lower() for m in config.mailboxes)


# --- phase 2: apply ---------------------------------------------------------------------


def _apply_pending(
    db: Any,
    config: Config,
    mailbox: MailboxConfig,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    result: PollResult,
    sent_folder: str | None,
) -> dict[str, list[int]]:
    """Apply every pending verdict; returns the UIDs to flag \\Seen per folder (mark_seen)."""
    from sequencer.project import business_calendar

    ctx = effects.ApplyContext(
        config,
        mailbox,
        sequences,
        clock.now(),
        result,
        _own_addresses(config),
        business_calendar(config),
    )
    marks: dict[str, list[int]] = {}
    kinds: Counter[str] = Counter(result.kinds)
    while True:
        with db.session() as s:
            rows = q.pending_inbound(s, mailbox.name, sent_folder, APPLY_BATCH)
            if not rows:
                break
            for row in rows:
                savepoint = s.begin_nested()
                try:
                    enrollment_id = _apply_one(s, ctx, row)
                    q.mark_applied(s, row.id, enrollment_id=enrollment_id)
                    savepoint.commit()
                except Exception as exc:  # quarantine, never crash the batch
                    savepoint.rollback()
                    message = (
                        f"{type(exc).__name__}: {exc}"
                        if not isinstance(exc, UserError)
                        else str(exc)
                    )
                    log.warning(
                        "inbound message %s (%s uid %s) set aside: %s",
                        row.id,
                        row.folder,
                        row.uid,
                        message,
                    )
                    q.set_aside(s, row.id, message)
                    result.set_aside += 1
                    continue
                result.applied += 1
                kinds[row.kind] += 1
                if enrollment_id is not None and row.kind in ("auto_reply", "bounce"):
                    marks.setdefault(row.folder, []).append(row.uid)
    result.kinds = dict(kinds)
    return marks


def _apply_one(s: Session, ctx: effects.ApplyContext, row: InboundMessage) -> int | None:
    if row.kind in ("own", "unrelated"):
        return None
    if row.kind == "sent":
        return effects.apply_sent(s, ctx, row)
    if row.kind == "filed":
        return filing.apply_filed(s, ctx, row)
    if row.kind == "lead":
        return inbound_leads.apply_lead(s, ctx.config, ctx.sequences, ctx.mailbox, row, ctx.now)
    enrollment, step, how = attribution.attribute(s, ctx, row)
    if enrollment is None:
        if row.kind == "unsubscribe":
            effects.unsubscribe(s, ctx, row, None)
        return None
    if row.kind == "reply":
        effects.apply_reply(s, ctx, row, enrollment, step, how)
    elif row.kind == "auto_reply":
        effects.apply_auto_reply(s, ctx, row, enrollment, step)
    elif row.kind == "bounce":
        effects.apply_bounce(s, ctx, row, enrollment, step)
    elif row.kind == "unsubscribe":
        effects.unsubscribe(s, ctx, row, enrollment)
    return enrollment.id


def summarize(results: Sequence[PollResult]) -> dict[str, int]:
    """Totals over mailboxes, for one-line CLI output."""
    keys = (
        "fetched",
        "applied",
        "set_aside",
        "replies",
        "enrolled",
        "answered",
        "notified",
        "escalated",
    )
    return {k: sum(getattr(r, k) for r in results) for k in keys}


__all__ = [
    "PollResult",
    "apply_stored",
    "inbound_messages",
    "poll_all",
    "poll_mailbox",
    "retry_set_aside",
    "summarize",
]
