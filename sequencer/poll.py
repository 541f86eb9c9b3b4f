"""The inbox poller (service): fetch new mail, store verdicts, apply them, alert people.

Two phases, Mailman style:

1. **Store.** Each new message of each polled folder is classified (``classify``, pure)
   and stored in ``inbound_messages`` keyed by (mailbox, folder, UIDVALIDITY, UID),
   in the same transaction that advances the folder's cursor. Re-polling is harmless.
2. **Apply.** Stored, unapplied verdicts are attributed to an enrollment and acted on,
   one savepoint each: a message that raises is set aside with its error
   (``inbound_messages.error``) and the batch goes on; ``sequencer inbound retry``
   puts set-aside messages back.

Then the owner alerts for new replies go out (after the state change has committed, so
a failed SMTP send is retried on the next poll, never lost), and replies left unanswered
past ``reporting.reply_sla_hours`` are escalated to ``reporting.managers`` once.

Folder roles: the inbox and ``imap.folders.extra`` are classified; the Sent folder is
watched for the rep's answers (``imap.folders.poll_sent``); ``imap.folders.enroll``
folders enroll what the rep files there. See README, "The inbox poller" for every effect.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from sqlalchemy.orm import Session

from sequencer import classify as cls
from sequencer import inbound_leads, lifecycle, notify, tasks
from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.db import inbound as q
from sequencer.db import store
from sequencer.db.models import Enrollment, InboundMessage, Prospect
from sequencer.errors import MailboxError, SequencerError, UserError
from sequencer.mail.imap_poll import FetchedMail, FolderBatch, FolderCursor, ImapPoller
from sequencer.schedule import BusinessCalendar, add_wait, local_to_utc, zone
from sequencer.sequences import Policies
from sequencer.sequences import Sequence as SequenceDef

log = logging.getLogger(__name__)

ACTOR = "poller"
RESCAN_DAYS = 7  # window fetched on a first sync or after UIDVALIDITY changed
RESCAN_LIMIT = 500  # ... at most this many of the newest messages
RECENTLY_FINISHED = timedelta(days=30)  # sender attribution also looks at these
SOFT_BOUNCE_LIMIT = 3  # soft bounces of one enrollment before it counts as bounced
SOFT_BOUNCE_DELAY = timedelta(days=1)  # the next touch waits this long after a soft bounce
NOTIFY_ATTEMPTS = 5
APPLY_BATCH = 500

ROLE_INBOX, ROLE_SENT, ROLE_ENROLL = "inbox", "sent", "enroll"
ROLE_LEADS = "leads"  # imap.folders.inbound_leads: each message is a new lead (inbound_leads.py)


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
        sent_polled = _fetch_and_store(db, config, mailbox, session, clock, result, own)
        marks = _apply_pending(db, config, mailbox, sequences, clock, result, session.sent_folder())
        if mailbox.imap.mark_seen:
            for folder, uids in marks.items():
                session.mark_seen(folder, uids)
        _send_reply_alerts(db, config, mailbox, sequences, clock, result)
        leads_alerted, lead_warnings = inbound_leads.send_lead_alerts(db, config, mailbox, clock)
        result.notified += leads_alerted
        result.warnings += lead_warnings
        if sent_polled:
            _escalate(db, config, mailbox, sequences, clock, result)
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


# --- phase 1: fetch and store ----------------------------------------------------------


def _own_addresses(config: Config) -> frozenset[str]:
    return frozenset(m.address.lower() for m in config.mailboxes)


def _folders(mailbox: MailboxConfig, poller: ImapPoller) -> list[tuple[str, str]]:
    """(folder, role) in the order they are polled; the inbox first."""
    assert mailbox.imap is not None
    folders = mailbox.imap.folders
    out = [(folders.inbox, ROLE_INBOX)]
    out += [(f, ROLE_INBOX) for f in folders.extra]
    out += [(f, ROLE_ENROLL) for f in folders.enroll]
    if folders.inbound_leads:
        out.append((folders.inbound_leads, ROLE_LEADS))
    if folders.poll_sent:
        sent = poller.sent_folder()
        if sent:
            out.append((sent, ROLE_SENT))
    seen: set[str] = set()
    return [(f, r) for f, r in out if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]


def _fetch_and_store(
    db: Any,
    config: Config,
    mailbox: MailboxConfig,
    poller: ImapPoller,
    clock: Clock,
    result: PollResult,
    own: frozenset[str],
) -> bool:
    """Returns whether the Sent folder was polled (escalations need it)."""
    sent_polled = False
    for folder, role in _folders(mailbox, poller):
        with db.session() as s:
            row = q.folder_cursor(s, mailbox.name, folder)
            cursor = (
                FolderCursor(row.uidvalidity, row.last_uid, row.highestmodseq)
                if row
                else FolderCursor()
            )
        now = clock.now()
        try:
            batches = poller.fetch_new(
                folder,
                cursor,
                since=(now - timedelta(days=RESCAN_DAYS)).date(),
                window_limit=RESCAN_LIMIT,
            )
            for batch in batches:
                _store_batch(db, config, mailbox, batch, role, now, result, own)
        except MailboxError as exc:
            if role == ROLE_INBOX and folder == mailbox.imap.folders.inbox:  # type: ignore[union-attr]
                raise
            result.warnings.append(f"folder {folder!r} skipped: {exc}")
            continue
        result.folders.append(folder)
        sent_polled = sent_polled or role == ROLE_SENT
    return sent_polled


def _store_batch(
    db: Any,
    config: Config,
    mailbox: MailboxConfig,
    batch: FolderBatch,
    role: str,
    now: datetime,
    result: PollResult,
    own: frozenset[str],
) -> None:
    rows = [
        inbound_row(
            config, mailbox, batch.folder, role, batch.cursor.uidvalidity or 0, mail, now, own
        )
        for mail in batch.messages
    ]
    result.fetched += len(rows)
    with db.session() as s:
        if batch.rescan and rows:
            known = q.known_message_ids(
                s, mailbox.name, batch.folder, [r["message_id"] for r in rows]
            )
            rows = [r for r in rows if not r["message_id"] or r["message_id"] not in known]
        result.stored += q.store_inbound(s, rows)
        q.save_folder_cursor(
            s,
            mailbox.name,
            batch.folder,
            uidvalidity=batch.cursor.uidvalidity or 0,
            last_uid=batch.cursor.last_uid,
            highestmodseq=batch.cursor.highestmodseq,
            now=now,
        )


_HEADERS = BytesHeaderParser(policy=compat32)
_MSGID = re.compile(r"<[^<>\s]+>")


def _header_addresses(headers: Any, *names: str) -> list[str]:
    values = [v for n in names for v in (headers.get_all(n) or [])]
    return list(
        dict.fromkeys(a.lower() for _, a in getaddresses([str(v) for v in values]) if "@" in a)
    )


def _header_date(headers: Any) -> str | None:
    try:
        value = headers.get("Date")
        when = parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def plus_detail(headers: Any, mailbox_address: str) -> str | None:
    """The ``+detail`` of the mailbox's own address this copy was delivered to (BCC), if any.

    A BCC is not in the message's headers; the receiving server records the envelope
    recipient in Delivered-To / X-Original-To / Envelope-To (Dovecot, Postfix, Gmail,
    Exim) or in a Received ``for <...>`` clause.
    """
    base, _, domain = mailbox_address.lower().partition("@")
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(base)}\+([\w.-]+)@{re.escape(domain)}", re.I)
    for name in (
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
        "X-Delivered-To",
        "Received",
    ):
        for value in headers.get_all(name) or []:
            match = pattern.search(str(value))
            if match:
                return match.group(1).lower()
    return None


def inbound_row(
    config: Config,
    mailbox: MailboxConfig,
    folder: str,
    role: str,
    uidvalidity: int,
    mail: FetchedMail,
    now: datetime,
    own: frozenset[str],
) -> dict[str, Any]:
    """The stored form of one fetched message (phase 1): classification plus the facts phase 2 needs."""
    headers = _HEADERS.parsebytes(mail.raw)
    to = _header_addresses(headers, "To")
    cc = _header_addresses(headers, "Cc")
    details: dict[str, Any] = {
        "to": to,
        "cc": cc,
        "date": _header_date(headers),
        "truncated": mail.truncated,
        "internaldate": mail.internaldate.isoformat() if mail.internaldate else None,
    }
    base = {
        "mailbox": mailbox.name,
        "folder": folder,
        "uidvalidity": uidvalidity,
        "uid": mail.uid,
        "received_at": now,
        "applied": False,
        "error": None,
        "enrollment_id": None,
    }
    if role == ROLE_LEADS:
        lead = inbound_leads.lead_details(mail.raw)
        return {
            **base,
            "message_id": next(iter(_MSGID.findall(str(headers.get("Message-ID") or ""))), None),
            "from_addr": next(iter(lead["from"]), None),
            "subject": _subject(headers),
            "kind": "lead",
            "severity": None,
            "reason": f"inbound leads folder {folder}",
            "refs": [],
            "recipients": to + [a for a in cc if a not in to],
            "snippet": lead["snippet"] or None,
            "details": {**details, **lead},
        }
    if role in (ROLE_SENT, ROLE_ENROLL):
        refs = _MSGID.findall(str(headers.get("In-Reply-To") or ""))
        refs += _MSGID.findall(str(headers.get("References") or ""))[::-1]
        msgid = next(iter(_MSGID.findall(str(headers.get("Message-ID") or ""))), None)
        from_addr = next(iter(_header_addresses(headers, "From")), None)
        kind = "sent" if role == ROLE_SENT else "filed"
        if role == ROLE_ENROLL:
            assert mailbox.imap is not None
            details["sequence"] = mailbox.imap.folders.enroll[folder]
        return {
            **base,
            "message_id": msgid,
            "from_addr": from_addr,
            "subject": _subject(headers),
            "kind": kind,
            "severity": None,
            "reason": f"{role} folder {folder}",
            "refs": list(dict.fromkeys(refs)),
            "recipients": to + [a for a in cc if a not in to],
            "snippet": None,
            "details": details,
        }
    verdict = cls.classify(
        mail.raw,
        own_addresses=own,
        unsubscribe_addresses=_unsubscribe_addresses(config),
        received=now.date(),
    )
    kind, reason = verdict.kind, verdict.reason
    if headers.get(notify.NOTIFICATION_HEADER):
        kind, reason = "own", f"our own {headers.get(notify.NOTIFICATION_HEADER)} notification"
    elif kind == "own":
        detail = plus_detail(headers, mailbox.address)
        if detail:
            kind, reason = (
                "filed",
                f"sent with a BCC to {mailbox.address.replace('@', '+' + detail + '@')}",
            )
            details["sequence"] = detail
    details.update(
        return_date=verdict.return_date.isoformat() if verdict.return_date else None,
        token=verdict.token,
        reply_to=list(verdict.reply_to),
        rule=verdict.rule,
    )
    recipients = (
        list(verdict.recipients) if kind == "bounce" else to + [a for a in cc if a not in to]
    )
    return {
        **base,
        "message_id": verdict.message_id,
        "from_addr": verdict.from_addr or None,
        "subject": verdict.subject[:2000] or None,
        "kind": kind,
        "severity": verdict.severity,
        "reason": reason,
        "refs": list(verdict.refs),
        "recipients": recipients,
        "snippet": verdict.snippet or None,
        "details": details,
    }


def _subject(headers: Any) -> str | None:
    from email.header import decode_header, make_header

    value = headers.get("Subject")
    if not value:
        return None
    try:
        return " ".join(str(make_header(decode_header(str(value)))).split())[:2000]
    except Exception:  # undecodable: keep the raw text
        return " ".join(str(value).split())[:2000]


def _unsubscribe_addresses(config: Config) -> frozenset[str]:
    mailto = config.unsubscribe.mailto
    if not mailto:
        return frozenset()
    return frozenset({mailto.lower().removeprefix("mailto:")})


# --- phase 2: apply ---------------------------------------------------------------------


@dataclass
class _Ctx:
    config: Config
    mailbox: MailboxConfig
    sequences: Mapping[str, SequenceDef]
    now: datetime
    result: PollResult
    own: frozenset[str]
    calendar: BusinessCalendar


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
    from sequencer.enroll import business_calendar

    ctx = _Ctx(
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


def _apply_one(s: Session, ctx: _Ctx, row: InboundMessage) -> int | None:
    if row.kind in ("own", "unrelated"):
        return None
    if row.kind == "sent":
        return _apply_sent(s, ctx, row)
    if row.kind == "filed":
        return _apply_filed(s, ctx, row)
    if row.kind == "lead":
        return inbound_leads.apply_lead(s, ctx.config, ctx.sequences, ctx.mailbox, row, ctx.now)
    enrollment, step, how = attribute(s, ctx, row)
    if enrollment is None:
        if row.kind == "unsubscribe":
            _unsubscribe(s, ctx, row, None)
        return None
    if row.kind == "reply":
        _apply_reply(s, ctx, row, enrollment, step, how)
    elif row.kind == "auto_reply":
        _apply_auto_reply(s, ctx, row, enrollment, step)
    elif row.kind == "bounce":
        _apply_bounce(s, ctx, row, enrollment, step)
    elif row.kind == "unsubscribe":
        _unsubscribe(s, ctx, row, enrollment)
    return enrollment.id


def attribute(
    s: Session, ctx: _Ctx, row: InboundMessage
) -> tuple[Enrollment | None, int | None, str]:
    """Which enrollment a message is about, which touch it answers, and how we know.

    In order: a ref (In-Reply-To/References, or a bounce's embedded original) naming one
    of our touches, or the first email of a filed thread; the opt-out token; then the
    failed recipient (bounces) or the sender / Reply-To (everything else) against the
    address's open, then recently finished, enrollments in this mailbox.
    """
    refs = list(row.refs or [])
    touches = q.touches_by_message_ids(s, refs)
    for ref in refs:
        touch = touches.get(ref)
        if touch is not None and touch.mailbox == ctx.mailbox.name:
            found = q.enrollment(s, touch.enrollment_id)
            if found is not None:
                return found, touch.step, f"refers to touch {touch.step} ({ref})"
    threads = q.enrollments_by_thread_ids(s, ctx.mailbox.name, refs)
    for ref in refs:
        found = threads.get(ref)
        if found is not None:
            step = (
                0 if ref == found.thread_root_id and found.source == "filing" else found.steps_done
            )
            return found, step, f"refers to the thread of enrollment {found.id} ({ref})"
    token = (row.details or {}).get("token")
    if token:
        found = q.enrollment_by_token(s, token)
        if found is not None:
            return found, found.steps_done, "opt-out token"
    if row.kind == "bounce":
        candidates = list(row.recipients or [])
    else:
        candidates = [a for a in [row.from_addr, *((row.details or {}).get("reply_to") or [])] if a]
    for address in dict.fromkeys(a.lower() for a in candidates):
        if address in ctx.own:
            continue
        found_list = q.recent_enrollments_of_address(
            s, address, mailbox=ctx.mailbox.name, finished_since=ctx.now - RECENTLY_FINISHED
        )
        if found_list:
            found = found_list[0]
            return (
                found,
                found.steps_done,
                f"{'failed recipient' if row.kind == 'bounce' else 'sender'} {address}",
            )
    return None, None, "no enrollment matches"


def _policies(ctx: _Ctx, enrollment: Enrollment) -> Policies:
    sequence = ctx.sequences.get(enrollment.sequence_id)
    return sequence.policies if sequence else Policies()


def _apply_reply(
    s: Session, ctx: _Ctx, row: InboundMessage, enrollment: Enrollment, step: int | None, how: str
) -> None:
    prospect = q.prospect(s, enrollment.prospect_id)
    assert prospect is not None
    sender = (row.from_addr or "").lower()
    data = {
        "snippet": row.snippet,
        "from": sender,
        "subject": row.subject,
        "message_id": row.message_id,
        "via": how,
    }
    if (
        sender
        and sender != prospect.email
        and sender not in ((row.details or {}).get("reply_to") or [])
    ):
        same_domain = sender.rsplit("@", 1)[-1] == prospect.email.rsplit("@", 1)[-1]
        if same_domain and not _policies(ctx, enrollment).stop_on_reply_from_domain:
            store.record_event(
                s,
                now=ctx.now,
                kind="colleague_reply",
                actor=ACTOR,
                enrollment=enrollment,
                reason=f"{sender} replied in the thread (stop_on_reply_from_domain is off)",
                step=step,
                data=data,
            )
            return
        data["colleague"] = sender
    if enrollment.status in lifecycle.TRANSITIONS[lifecycle.REPLIED]:
        store.transition(
            s,
            enrollment,
            lifecycle.REPLIED,
            now=ctx.now,
            actor=ACTOR,
            reason=f"reply from {sender or 'unknown sender'}",
            step=step,
            data=data,
            replied_at=ctx.now,
            replied_step=step,
        )
        ctx.result.replies += 1
    else:
        store.record_event(
            s,
            now=ctx.now,
            kind="reply_received",
            actor=ACTOR,
            enrollment=enrollment,
            reason=f"another message from {sender} (enrollment already {enrollment.status})",
            step=step,
            data=data,
        )


def _zone_name(ctx: _Ctx, enrollment: Enrollment) -> str:
    sequence = ctx.sequences.get(enrollment.sequence_id)
    prospect_tz = enrollment.prospect.timezone if enrollment.prospect else None
    return (
        prospect_tz
        or (sequence.timezone if sequence else None)
        or ctx.mailbox.timezone
        or ctx.config.timezone
    )


def _hold_until(s: Session, enrollment: Enrollment, until: datetime, reason: str) -> bool:
    """Push the next touch to ``until`` (never earlier than planned); True if it moved."""
    if enrollment.status != lifecycle.ACTIVE or enrollment.next_send_at is None:
        return False
    if enrollment.next_send_at >= until:
        return False
    q.update_enrollment(s, enrollment.id, next_send_at=until, wait_reason=reason)
    s.refresh(enrollment)
    return True


def _apply_auto_reply(
    s: Session, ctx: _Ctx, row: InboundMessage, enrollment: Enrollment, step: int | None
) -> None:
    details = row.details or {}
    return_date = date.fromisoformat(details["return_date"]) if details.get("return_date") else None
    data: dict[str, Any] = {
        "snippet": row.snippet,
        "from": row.from_addr,
        "subject": row.subject,
        "return_date": details.get("return_date"),
        "rule": details.get("rule"),
    }
    held = None
    if return_date is not None:
        resume_day = ctx.calendar.next_business_day(return_date)
        until = local_to_utc(resume_day, time(0, 0), zone(_zone_name(ctx, enrollment)))
        if _hold_until(s, enrollment, until, f"out of office until {return_date.isoformat()}"):
            held = until
    else:
        pause = _policies(ctx, enrollment).auto_reply_pause
        if pause is not None:
            until = add_wait(ctx.now, pause, zone(_zone_name(ctx, enrollment)), ctx.calendar)
            if _hold_until(s, enrollment, until, f"auto-reply: on_auto_reply {pause}"):
                held = until
    if held is not None:
        data["next_send_at"] = held.isoformat()
    store.record_event(
        s,
        now=ctx.now,
        kind="auto_reply",
        actor=ACTOR,
        enrollment=enrollment,
        reason=row.reason,
        step=step,
        data=data,
    )


def _apply_bounce(
    s: Session, ctx: _Ctx, row: InboundMessage, enrollment: Enrollment, step: int | None
) -> None:
    prospect = q.prospect(s, enrollment.prospect_id)
    assert prospect is not None
    data = {
        "severity": row.severity,
        "recipients": list(row.recipients or []),
        "message_id": row.message_id,
    }
    hard = row.severity != "soft"
    reason = row.reason or "bounce"
    if not hard:
        store.record_event(
            s,
            now=ctx.now,
            kind="soft_bounce",
            actor=ACTOR,
            enrollment=enrollment,
            reason=reason,
            step=step,
            data=data,
        )
        s.flush()
        if q.count_events(s, enrollment.id, "soft_bounce") < SOFT_BOUNCE_LIMIT:
            _hold_until(s, enrollment, ctx.now + SOFT_BOUNCE_DELAY, f"soft bounce: {reason}")
            return
        reason = f"{SOFT_BOUNCE_LIMIT} soft bounces; last: {reason}"
    store.add_suppression(
        s,
        prospect.email,
        kind="address",
        reason=f"bounced: {reason}"[:500],
        source=ACTOR,
        now=ctx.now,
    )
    if enrollment.status in lifecycle.TRANSITIONS[lifecycle.BOUNCED]:
        store.transition(
            s,
            enrollment,
            lifecycle.BOUNCED,
            now=ctx.now,
            actor=ACTOR,
            reason=reason,
            step=step,
            data=data,
        )
    else:
        store.record_event(
            s,
            now=ctx.now,
            kind="bounce_received",
            actor=ACTOR,
            enrollment=enrollment,
            reason=reason,
            step=step,
            data=data,
        )


def _unsubscribe(s: Session, ctx: _Ctx, row: InboundMessage, enrollment: Enrollment | None) -> None:
    prospect: Prospect | None = q.prospect(s, enrollment.prospect_id) if enrollment else None
    if prospect is None and row.from_addr:
        prospect = store.prospect_by_email(s, row.from_addr)
    address = prospect.email if prospect else (row.from_addr or "").lower()
    if not address or address in ctx.own:
        return
    store.add_suppression(
        s,
        address,
        kind="address",
        reason=f"unsubscribed: {row.reason}"[:500],
        source=ACTOR,
        now=ctx.now,
    )
    if prospect is None:
        return
    targets = {e.id: e for e in q.open_enrollments_of_prospect(s, prospect.id)}
    if (
        enrollment is not None
        and enrollment.status in lifecycle.TRANSITIONS[lifecycle.UNSUBSCRIBED]
    ):
        targets.setdefault(enrollment.id, enrollment)
    for e in targets.values():
        store.transition(
            s,
            e,
            lifecycle.UNSUBSCRIBED,
            now=ctx.now,
            actor=ACTOR,
            reason=f"asked to be removed ({row.reason})",
            step=e.steps_done,
            data={"from": row.from_addr, "snippet": row.snippet},
        )


def _apply_sent(s: Session, ctx: _Ctx, row: InboundMessage) -> int | None:
    """A message in Sent: our touch's copy (nothing to do), else the rep's manual email.

    One row, both signals: a manual email to a prospect is recorded on the timeline and
    applies ``on_manual_email`` (``tasks.capture_manual_email``), and if it follows the
    prospect's reply it is also the rep's answer (``answered_at``, the reply SLA).
    """
    if row.message_id and q.touches_by_message_ids(s, [row.message_id]):
        return None
    manual = tasks.capture_manual_email(
        s, ctx.config, ctx.sequences, ctx.mailbox, row, ctx.now, ctx.calendar, actor=ACTOR
    )
    captured = manual.enrollment_ids[0] if manual.enrollment_ids else None
    recipients = [a.lower() for a in row.recipients or []]
    waiting = q.awaiting_answer(s, ctx.mailbox.name)
    if not waiting:
        return captured
    by_reply = q.reply_message_ids(s, [e.id for e, _ in waiting])
    chosen: Enrollment | None = None
    for ref in row.refs or []:
        if ref in by_reply:
            chosen = next(e for e, _ in waiting if e.id == by_reply[ref])
            break
    if chosen is None:
        sent_at = _iso((row.details or {}).get("date"))
        for e, p in waiting:
            if p.email in recipients:
                reply = q.latest_reply_of_enrollment(s, e.id)
                reply_at = _iso((reply.details or {}).get("date")) if reply else None
                if sent_at and reply_at and sent_at < reply_at:
                    continue  # written before the reply arrived: not an answer to it
                chosen = e
                break
    if chosen is None or chosen.replied_at is None:
        return captured
    q.update_enrollment(s, chosen.id, answered_at=ctx.now)
    seconds = max(0.0, (ctx.now - chosen.replied_at).total_seconds())
    store.record_event(
        s,
        now=ctx.now,
        kind="answered",
        actor=ACTOR,
        enrollment=chosen,
        reason=f"the rep answered after {seconds / 3600:.1f}h",
        step=chosen.replied_step,
        data={"response_seconds": seconds, "message_id": row.message_id, "subject": row.subject},
    )
    ctx.result.answered += 1
    return chosen.id


def _iso(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _apply_filed(s: Session, ctx: _Ctx, row: InboundMessage) -> int | None:
    """Enroll the To recipients of a filed (or plus-BCC'd) email, threaded onto it.

    The filed email is touch 0: it starts the thread, and every step of the sequence,
    step 1 included, follows as a reply in it (``Re: <its subject>``).
    """
    from sequencer.enroll import enroll

    details = row.details or {}
    sequence_id = details.get("sequence") or ""
    if sequence_id not in ctx.sequences:
        raise UserError(
            f"no sequence {sequence_id!r} to enroll into (known: {', '.join(sorted(ctx.sequences)) or 'none'})"
        )
    if not row.message_id:
        raise UserError("the filed email has no Message-ID, so follow-ups cannot thread onto it")
    plus = ctx.mailbox.address.replace("@", f"+{sequence_id}@")
    recipients = [a for a in details.get("to") or [] if a not in ctx.own and a != plus.lower()]
    if not recipients:
        raise UserError("the filed email has no To recipient outside our own mailboxes")
    already = {
        e.prospect_id for e in q.enrollment_with_thread_root(s, ctx.mailbox.name, row.message_id)
    }
    thread = [*reversed(list(row.refs or [])), row.message_id]
    first_id: int | None = None
    failures: list[str] = []
    for address in recipients:
        existing = store.prospect_by_email(s, address)
        if existing is not None and existing.id in already:
            continue
        try:
            outcome = enroll(
                s,
                ctx.config,
                ctx.sequences,
                email=address,
                sequence_id=sequence_id,
                owner=ctx.mailbox.rep,
                now=ctx.now,
                actor=ACTOR,
                source="filing",
            )
        except UserError as exc:
            failures.append(f"{address}: {exc}")
            continue
        if outcome.enrolled and outcome.enrollment_id is not None:
            q.update_enrollment(
                s,
                outcome.enrollment_id,
                thread_root_id=row.message_id,
                last_message_id=row.message_id,
                thread_refs=list(dict.fromkeys(thread)),
                thread_subject=row.subject,
            )
            ctx.result.enrolled += 1
            first_id = first_id or outcome.enrollment_id
    if failures:
        raise UserError("; ".join(failures))
    return first_id


# --- after apply: alerts and escalations --------------------------------------------------


def _sequence_name(sequences: Mapping[str, SequenceDef], sequence_id: str) -> str:
    sequence = sequences.get(sequence_id)
    return sequence.name if sequence else sequence_id


def reply_facts(
    s: Session, sequences: Mapping[str, SequenceDef], enrollment: Enrollment
) -> notify.ReplyFacts:
    """What the alert and the escalation say, read from the database."""
    prospect = q.prospect(s, enrollment.prospect_id)
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
    for event in q.events_of_enrollment(s, enrollment.id, ("auto_reply", "soft_bounce")):
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
    )


def _notify_mailbox(config: Config, mailbox: MailboxConfig) -> MailboxConfig:
    name = config.reporting.notify_from
    return config.mailbox(name) if name else mailbox


def _send_reply_alerts(
    db: Any,
    config: Config,
    mailbox: MailboxConfig,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    result: PollResult,
) -> None:
    sender = _notify_mailbox(config, mailbox)
    with db.session() as s:
        pending = q.unnotified_replies(s, mailbox.name, max_attempts=NOTIFY_ATTEMPTS)
        facts = [(e, reply_facts(s, sequences, e)) for e in pending]
    for enrollment, fact in facts:
        now = clock.now()
        msg = notify.reply_alert(fact, from_mailbox=sender, to=mailbox.address, now=now)
        try:
            notify.send_notification(sender, msg, [mailbox.address])
        except (MailboxError, OSError) as exc:
            with db.session() as s:
                store.record_event(
                    s,
                    now=now,
                    kind="notify_failed",
                    actor=ACTOR,
                    enrollment=enrollment,
                    reason=str(exc)[:500],
                )
            result.warnings.append(f"reply alert for enrollment {enrollment.id} not sent: {exc}")
            continue
        with db.session() as s:
            store.record_event(
                s,
                now=now,
                kind="owner_notified",
                actor=ACTOR,
                enrollment=enrollment,
                reason=f"reply alert sent to {mailbox.address}",
                step=enrollment.replied_step,
                data={"message_id": msg["Message-ID"]},
            )
        result.notified += 1


def _escalate(
    db: Any,
    config: Config,
    mailbox: MailboxConfig,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    result: PollResult,
) -> None:
    managers = config.reporting.managers
    if not managers:
        return
    now = clock.now()
    sla = config.reporting.reply_sla_hours
    sender = _notify_mailbox(config, mailbox)
    with db.session() as s:
        due = q.due_escalations(s, mailbox.name, replied_before=now - timedelta(hours=sla))
        facts = [(e, reply_facts(s, sequences, e)) for e, _ in due]
    for enrollment, fact in facts:
        msg = notify.escalation(fact, from_mailbox=sender, to=managers, sla_hours=sla, now=now)
        try:
            notify.send_notification(sender, msg, managers)
        except (MailboxError, OSError) as exc:
            result.warnings.append(f"escalation for enrollment {enrollment.id} not sent: {exc}")
            continue
        with db.session() as s:
            q.update_enrollment(s, enrollment.id, escalated_at=now)
            store.record_event(
                s,
                now=now,
                kind="escalated",
                actor=ACTOR,
                enrollment=enrollment,
                reason=f"unanswered after {sla:g}h; sent to {', '.join(managers)}",
                step=enrollment.replied_step,
            )
        result.escalated += 1


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
    "attribute",
    "inbound_row",
    "plus_detail",
    "poll_all",
    "poll_mailbox",
    "reply_facts",
    "retry_set_aside",
    "summarize",
]
