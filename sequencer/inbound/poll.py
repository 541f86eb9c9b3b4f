"""The inbox poller (service): fetch new mail, store verdicts, apply them, alert people.

Two phases, Mailman style:

1. **Store** (``inbound/store.py``). Each new message of each polled folder is classified
   (``classify``, pure) and stored in ``inbound_messages`` keyed by (mailbox, folder,
   UIDVALIDITY, UID), in the same transaction that advances the folder's cursor.
   Re-polling is harmless.
2. **Apply** (``inbound/apply.py``). Stored, unapplied verdicts are attributed to an
   enrollment and acted on, one savepoint each: a message that raises is set aside with
   its error and the batch goes on; ``sequencer inbound retry`` puts it back.

Then the owner alerts for new replies go out (after the state change has committed, so
a failed SMTP send is retried on the next poll, never lost), and replies left unanswered
past ``reporting.reply_sla_hours`` are escalated to ``reporting.managers`` once
(``inbound/alerts.py``). Each stage returns its ``Counts``; this module adds them up.

Last, the poll watermark (``mailbox_state.last_poll_at``, which the sender waits for
before a follow-up) moves forward to the moment *before* the fetch: a reply that lands
while a poll runs is not covered by it, so it cannot let a follow-up through unread.

Folder roles: the inbox and ``imap.folders.extra`` are classified; the Sent folder is
watched for the rep's answers (``imap.folders.poll_sent``); ``imap.folders.enroll``
folders enroll what the rep files there. See README, "The inbox poller" for every effect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sequencer.clock import Clock
from sequencer.config import Config
from sequencer.core.sequences import Sequence as SequenceDef
from sequencer.db import inbound as q
from sequencer.db.session import Database
from sequencer.errors import MailboxError, SequencerError
from sequencer.inbound import alerts
from sequencer.inbound import leads as inbound_leads
from sequencer.inbound import store as inbound_store
from sequencer.inbound.apply import apply_pending
from sequencer.inbound.context import own_addresses
from sequencer.inbound.counts import Counts
from sequencer.mail.imap import ImapConnection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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

    @classmethod
    def of(
        cls, mailbox: str, counts: Counts, *, error: str | None = None, imap_commands: int = 0
    ) -> PollResult:
        return cls(
            mailbox=mailbox,
            ok=error is None,
            error=error,
            folders=list(counts.folders),
            fetched=counts.fetched,
            stored=counts.stored,
            applied=counts.applied,
            set_aside=counts.set_aside,
            kinds=dict(counts.kinds),
            replies=counts.replies,
            enrolled=counts.enrolled,
            answered=counts.answered,
            notified=counts.notified,
            escalated=counts.escalated,
            imap_commands=imap_commands,
            warnings=list(counts.warnings),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- entry points -------------------------------------------------------------------------


def poll_all(
    db: Database, config: Config, sequences: Mapping[str, SequenceDef], clock: Clock
) -> list[PollResult]:
    """One pass over every mailbox with IMAP settings; a failing mailbox never stops the others.

    The sending engine calls this before sending, so a reply that arrived overnight stops
    the next touch: each successful poll moves ``mailbox_state.last_poll_at`` forward.
    """
    return [
        poll_mailbox(db, config, sequences, clock, m.name)
        for m in config.mailboxes
        if m.imap is not None
    ]


def poll_mailbox(
    db: Database,
    config: Config,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    mailbox_name: str,
    *,
    poller: ImapConnection | None = None,
) -> PollResult:
    """Poll one mailbox: fetch + store, apply, notify, escalate, then record the poll.

    Commits as it goes (per fetched chunk, per apply batch, per alert); the watermark is
    written last and only when every step succeeded. ``poller`` is an open connection to
    reuse (``sequencer run`` and the demo keep one across polls); otherwise one is opened
    and closed here. Connection failures are retried inside the connection; if they
    persist the result carries the error and ``mailbox_state.last_poll_error`` says why.
    """
    mailbox = config.mailbox(mailbox_name)
    if mailbox.imap is None:
        return PollResult.of(mailbox.name, Counts(), error="no imap settings: nothing to poll")
    own = own_addresses(config)
    opened_here = poller is None
    connection = poller or ImapConnection(mailbox)
    commands_before = connection.commands
    counts = Counts()
    error: str | None = None
    try:
        if opened_here:
            connection.connect()
        polled_until = clock.now()  # the watermark: everything that landed before it is read
        stored, sent_polled = inbound_store.fetch_and_store(
            db, config, mailbox, connection, clock, own
        )
        counts += stored
        applied, marks = apply_pending(
            db, config, mailbox, sequences, clock.now(), connection.sent_folder()
        )
        counts += applied
        if mailbox.imap.mark_seen:
            for folder, uids in marks.items():
                connection.mark_seen(folder, uids)
        counts += alerts.send_reply_alerts(db, config, mailbox, sequences, clock)
        counts += inbound_leads.send_lead_alerts(db, config, mailbox, clock)
        if sent_polled:
            counts += alerts.escalate(db, config, mailbox, sequences, clock)
        with db.session() as s:
            q.record_poll(s, mailbox.name, now=polled_until, error=None)
    except (MailboxError, SequencerError) as exc:
        error = str(exc)
        log.warning("poll of mailbox %s failed: %s", mailbox.name, exc)
        _record_failure(db, mailbox.name, error)
    except Exception as exc:  # never a silent "ok": status shows why the poll failed
        error = f"{type(exc).__name__}: {exc}"
        log.exception("poll of mailbox %s failed", mailbox.name)
        _record_failure(db, mailbox.name, error)
    finally:
        commands = connection.commands - commands_before
        if opened_here:
            connection.close()
    return PollResult.of(mailbox.name, counts, error=error, imap_commands=commands)


def _record_failure(db: Database, mailbox: str, error: str) -> None:
    """Say why the poll failed in ``mailbox_state.last_poll_error`` (``status`` shows it)."""
    try:
        with db.session() as s:
            q.record_poll(s, mailbox, now=None, error=error[:2000])
    except Exception:  # the database itself is down: the result still carries the error
        log.exception("could not record the failed poll of mailbox %s", mailbox)


def retry_set_aside(db: Database, mailbox: str | None = None) -> int:
    """Put set-aside messages back in line (commits); the next poll applies them again."""
    with db.session() as s:
        return q.release_set_aside(s, mailbox)


def inbound_messages(
    db: Database,
    *,
    kinds: Sequence[str] = (),
    mailbox: str | None = None,
    set_aside_only: bool = False,
    limit: int = 50,
    trust: str | None = None,
) -> list[dict[str, Any]]:
    """Stored verdicts, newest first, as plain dicts (``inbound list``). Read-only."""
    with db.read_session() as s:
        rows = q.list_inbound(
            s,
            kinds=kinds,
            mailbox=mailbox,
            set_aside_only=set_aside_only,
            limit=limit,
            trust=trust,
        )
        candidates = q.prospect_emails(
            s, (int((r.details or {})["candidate_enrollment"]) for r, _ in rows
                if (r.details or {}).get("candidate_enrollment"))
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
                "message_id": r.message_id,
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
                "trust": r.trust,
                "trust_reason": (r.details or {}).get("trust_reason"),
                "complainant": r.complainant,
                "returned_refs": list(r.returned_refs or []),
                "thread_refs": list(r.thread_refs or []),
                "candidate_enrollment": (r.details or {}).get("candidate_enrollment"),
                "candidate_prospect": candidates.get(
                    int((r.details or {}).get("candidate_enrollment") or 0)
                ),
                "language": (r.details or {}).get("language"),
            }
            for r, email in rows
        ]


def apply_stored(
    db: Database,
    config: Config,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    mailbox_name: str,
) -> PollResult:
    """Apply stored verdicts without touching IMAP (``inbound retry``, benchmarks); commits per batch."""
    mailbox = config.mailbox(mailbox_name)
    sent = mailbox.imap.folders.sent if mailbox.imap else None
    counts, _marks = apply_pending(db, config, mailbox, sequences, clock.now(), sent)
    return PollResult.of(mailbox.name, counts)


__all__ = [
    "PollResult",
    "apply_stored",
    "inbound_messages",
    "poll_all",
    "poll_mailbox",
    "retry_set_aside",
]
