"""Phase 1 of the inbox poller: fetch each polled folder's new mail and store its verdicts.

Each message becomes one ``inbound_messages`` row (``inbound_row``): its classification
plus the header facts phase 2 needs, stored in the same transaction that advances the
folder's cursor, so re-polling is harmless. Nothing here changes an enrollment.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from typing import Any

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.addresses import address_pairs
from sequencer.db import inbound as q
from sequencer.db.session import Database
from sequencer.errors import MailboxError
from sequencer.inbound import leads as inbound_leads
from sequencer.inbound import limits
from sequencer.inbound.counts import Counts
from sequencer.inbound.filing import plus_detail
from sequencer.mail.imap import ImapConnection
from sequencer.mail.imap_fetch import FetchedMail, FolderBatch, FolderCursor
from sequencer.reporting import notify

RESCAN_DAYS = 7  # window fetched on a first sync or after UIDVALIDITY changed
RESCAN_LIMIT = 500  # ... at most this many of the newest messages

ROLE_INBOX, ROLE_SENT, ROLE_ENROLL = "inbox", "sent", "enroll"
ROLE_LEADS = "leads"  # imap.folders.inbound_leads: each message is a new lead (inbound_leads.py)


def _folders(mailbox: MailboxConfig, connection: ImapConnection) -> list[tuple[str, str]]:
    """(folder, role) in the order they are polled; the inbox first."""
    assert mailbox.imap is not None
    folders = mailbox.imap.folders
    out = [(folders.inbox, ROLE_INBOX)]
    out += [(f, ROLE_INBOX) for f in folders.extra]
    out += [(f, ROLE_ENROLL) for f in folders.enroll]
    if folders.inbound_leads:
        out.append((folders.inbound_leads, ROLE_LEADS))
    if folders.poll_sent:
        sent = connection.sent_folder()
        if sent:
            out.append((sent, ROLE_SENT))
    seen: set[str] = set()
    return [(f, r) for f, r in out if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]


def fetch_and_store(
    db: Database,
    config: Config,
    mailbox: MailboxConfig,
    connection: ImapConnection,
    clock: Clock,
    own: frozenset[str],
) -> tuple[Counts, bool]:
    """Fetch and store every polled folder's new mail; also whether Sent was polled (escalations need it).

    Commits once per fetched chunk, together with the folder's cursor, so a crash
    mid-folder re-fetches at most one chunk. A folder other than the inbox that fails
    is skipped with a warning; the inbox failing raises ``MailboxError``.
    """
    counts = Counts()
    sent_polled = False
    for folder, role in _folders(mailbox, connection):
        with db.session() as s:
            row = q.folder_cursor(s, mailbox.name, folder)
            cursor = (
                FolderCursor(row.uidvalidity, row.last_uid, row.highestmodseq)
                if row
                else FolderCursor()
            )
        now = clock.now()
        stored = Counts()
        try:
            batches = connection.fetch_new(
                folder,
                cursor,
                since=(now - timedelta(days=RESCAN_DAYS)).date(),
                window_limit=RESCAN_LIMIT,
            )
            for batch in batches:
                stored += _store_batch(db, config, mailbox, batch, role, now, own)
        except MailboxError as exc:
            if role == ROLE_INBOX and folder == mailbox.imap.folders.inbox:  # type: ignore[union-attr]
                raise
            counts += stored + Counts(warnings=(f"folder {folder!r} skipped: {exc}",))
            continue
        counts += stored + Counts(folders=(folder,))
        sent_polled = sent_polled or role == ROLE_SENT
    return counts, sent_polled


def _store_batch(
    db: Database,
    config: Config,
    mailbox: MailboxConfig,
    batch: FolderBatch,
    role: str,
    now: datetime,
    own: frozenset[str],
) -> Counts:
    """Store one chunk and advance the folder's cursor past it, in one transaction (commits).

    No single message can stop this: one that cannot be classified or stored is kept as a
    set-aside row with its error (``inbound list --set-aside``), the rest are stored.
    """
    uidvalidity = batch.cursor.uidvalidity or 0
    rows = [
        safe_row(config, mailbox, batch.folder, role, uidvalidity, mail, now, own)
        for mail in batch.messages
    ]
    fetched = len(rows)
    warnings: list[str] = []
    with db.session() as s:
        if batch.rescan and rows:
            known = q.known_message_ids(
                s, mailbox.name, batch.folder, [r["message_id"] for r in rows]
            )
            rows = [r for r in rows if not r["message_id"] or r["message_id"] not in known]
        try:
            with s.begin_nested():
                stored = q.store_inbound(s, rows)
        except Exception:  # one bad row: store them one by one, set aside what still fails
            stored = 0
            for row in rows:
                try:
                    with s.begin_nested():
                        stored += q.store_inbound(s, [row])
                except Exception as exc:
                    stored += _store_set_aside(s, row, exc, warnings)
        q.save_folder_cursor(
            s,
            mailbox.name,
            batch.folder,
            uidvalidity=batch.cursor.uidvalidity or 0,
            last_uid=batch.cursor.last_uid,
            highestmodseq=batch.cursor.highestmodseq,
            now=now,
        )
    return Counts(fetched=fetched, stored=stored, warnings=tuple(warnings))


def safe_row(
    config: Config,
    mailbox: MailboxConfig,
    folder: str,
    role: str,
    uidvalidity: int,
    mail: FetchedMail,
    now: datetime,
    own: frozenset[str],
) -> dict[str, Any]:
    """``inbound_row`` fitted to the columns; a message that cannot be read becomes a set-aside row."""
    try:
        row = inbound_row(config, mailbox, folder, role, uidvalidity, mail, now, own)
    except Exception as exc:  # a classifier bug must not stop the poll
        row = {
            **_placeholder(mailbox.name, folder, uidvalidity, mail.uid, now),
            "error": (f"could not be read: {type(exc).__name__}: {exc}"),
        }
    return limits.fit_row(row)


def _placeholder(
    mailbox: str, folder: str, uidvalidity: int, uid: int, now: datetime
) -> dict[str, Any]:
    return {
        "mailbox": mailbox,
        "folder": folder,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "received_at": now,
        "applied": False,
        "error": None,
        "enrollment_id": None,
        "message_id": None,
        "from_addr": None,
        "subject": None,
        "kind": "unrelated",
        "severity": None,
        "reason": None,
        "refs": [],
        "recipients": [],
        "snippet": None,
        "details": {},
        **NO_TRUST,
    }


def _store_set_aside(s: Any, row: dict[str, Any], exc: Exception, warnings: list[str]) -> int:
    """Keep a message the database refused as a bare set-aside row, so the cursor can move on."""
    error = f"could not be stored: {type(exc).__name__}: {str(exc)[:500]}"
    bare = {
        **_placeholder(
            row["mailbox"], row["folder"], row["uidvalidity"], row["uid"], row["received_at"]
        ),
        "kind": limits.clip(str(row.get("kind") or "unrelated"), 20),
        "subject": limits.clip(str(row.get("subject") or ""), 200) or None,
        "error": error,
    }
    try:
        with s.begin_nested():
            return q.store_inbound(s, [limits.fit_row(bare)])
    except Exception:
        warnings.append(f"message uid {row['uid']} in {row['folder']!r} skipped: {error}")
        return 0


NO_TRUST: dict[str, Any] = {
    "complainant": None,
    "returned_refs": None,
    "thread_refs": None,
    "trust": None,
}  # every row carries the trust columns (one multi-row INSERT needs the same keys)

_HEADERS = BytesHeaderParser(policy=compat32)
_MSGID = re.compile(r"<[^<>\s]+>")


def _header_addresses(headers: Message, *names: str) -> list[str]:
    values = [v for n in names for v in (headers.get_all(n) or [])]
    return list(dict.fromkeys(a.lower() for _, a in address_pairs([str(v) for v in values]) if "@" in a))


def _from_name(headers: Message) -> str | None:
    """The writer's display name (the rep's alert names a colleague who answered)."""
    pairs = address_pairs([str(v) for v in headers.get_all("From") or []])
    try:
        return str(make_header(decode_header(pairs[0][0])))[:200] or None if pairs else None
    except (ValueError, LookupError):
        return pairs[0][0][:200] or None


def _message_id(headers: Message) -> str | None:
    return next(iter(_MSGID.findall(str(headers.get("Message-ID") or ""))), None)


def _header_date(headers: Message) -> str | None:
    try:
        value = headers.get("Date")
        when = parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


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
    """The stored form of one fetched message (phase 1): classification plus the facts phase 2 needs.

    A message to classify is parsed once, and the classifier reads that parse: parsing
    the headers here and the whole message again in ``classify`` cost a fifth of the store.
    """
    if role in (ROLE_LEADS, ROLE_SENT, ROLE_ENROLL):
        headers = _HEADERS.parsebytes(mail.raw)  # only the headers are read
    else:
        from sequencer.classify.message import parse_raw

        headers = parse_raw(mail.raw)
    to = _header_addresses(headers, "To")
    cc = _header_addresses(headers, "Cc")
    addressed = to + [a for a in cc if a not in to]
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
            "message_id": _message_id(headers),
            "from_addr": next(iter(lead["from"]), None),
            "subject": _subject(headers),
            "kind": "lead",
            "severity": None,
            "reason": f"inbound leads folder {folder}",
            "refs": [],
            "recipients": addressed,
            "snippet": lead["snippet"] or None,
            "details": {**details, **lead},
            **NO_TRUST,
        }
    if role in (ROLE_SENT, ROLE_ENROLL):
        refs = _MSGID.findall(str(headers.get("In-Reply-To") or ""))
        refs += _MSGID.findall(str(headers.get("References") or ""))[::-1]
        msgid = _message_id(headers)
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
            "recipients": addressed,
            "snippet": None,
            "details": details,
            **NO_TRUST,
        }
    # here, not at the top: the rule chain costs ~0.1 s to import, and a poll that finds
    # no new mail (most ticks) classifies nothing
    from sequencer import classify as cls

    verdict = cls.classify(
        headers,
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
        from_name=_from_name(headers),
        dmarc=verdict.dmarc,
        language=verdict.language,
        feedback_type=verdict.feedback_type,
        delayed=verdict.only_delayed if kind == "bounce" else None,
        intent=verdict.intent.as_dict() if verdict.intent else None,  # reply intent (people.intent_effects)
    )
    if kind == "bounce":
        recipients = list(verdict.recipients)
    elif kind == "complaint":
        recipients = [verdict.complainant] if verdict.complainant else []
    else:
        recipients = addressed
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
        "complainant": verdict.complainant,
        "returned_refs": list(verdict.returned_refs),
        "thread_refs": list(verdict.thread_refs),
        "trust": None,  # decided in phase 2, against the touches we sent
    }


def _subject(headers: Message) -> str | None:
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


__all__ = ["fetch_and_store", "inbound_row"]
