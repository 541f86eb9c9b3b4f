"""Inbound leads (service): a message in a mailbox's inbound-leads folder becomes a prospect,
an owner, an enrollment and an alert, within one poll.

A mailbox names the folder (``imap.folders.inbound_leads``, e.g. where a server rule files
the web form's notifications or ``sales@`` mail); the ``inbound`` config section says
what to do with each message:

- the prospect's address: a ``Field: value`` line of the body (``email_field``, as web-form
  notifications write them), else Reply-To, else From; our own addresses and no-reply
  senders never count;
- the owner: ``owner`` (fixed) or ``owners`` in round robin; the position lives in the
  database (``round_robin``, row-locked), so the rotation is fair across workers;
- the prospect is created or found and enrolled in ``sequence``;
- the owner is emailed at once (after the commit, retried on the next poll if SMTP fails).

Every message is recorded in ``inbound_leads`` whatever happens: one with no usable
address (or that cannot be enrolled) is kept with its reason and counted in the manager
report (``speed_to_lead.unusable``), never dropped silently.

Speed to lead (``report.speed_to_lead``) runs from the moment the poller picked the
message up to the first touch sent or the rep's first manual email, per rep.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.sequences import Sequence
from sequencer.db import leads as q
from sequencer.db import store
from sequencer.db.models import Enrollment, InboundLead, InboundMessage, Prospect
from sequencer.db.session import Database
from sequencer.errors import UserError
from sequencer.inbound.counts import Counts
from sequencer.people.enroll import enroll
from sequencer.people.task_jobs import notification_message
from sequencer.people.tasks import owner_mailbox
from sequencer.reporting import once

log = logging.getLogger(__name__)

ACTOR = "inbound"
ROUND_ROBIN = "inbound_owners"
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_NO_REPLY = re.compile(
    r"(^|[._+-])(no-?reply|do-?not-?reply)([._+-]|$)|^(mailer-daemon|postmaster|bounces?)([._+-]|$)",
    re.I,
)
_FIELD_LINE = re.compile(r"^\s*([A-Za-z][\w .-]{0,40}?)\s*:\s*(.+?)\s*$")
MAX_FIELDS = 40


def _text_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        return ""
    if part.get_content_subtype() == "html":
        text = re.sub(r"<br\s*/?>|</p>|</tr>|</div>", "\n", text, flags=re.I)
        text = re.sub(r"<[^>]+>", " ", text)
    return str(text)


def form_fields(body: str) -> dict[str, str]:
    """``Key: value`` lines of a form notification, keys lowercased (first occurrence wins)."""
    fields: dict[str, str] = {}
    for line in body.splitlines():
        m = _FIELD_LINE.match(line)
        if m and len(fields) < MAX_FIELDS:
            fields.setdefault(" ".join(m[1].lower().split()), m[2][:500])
    return fields


def lead_details(raw: bytes) -> dict[str, Any]:
    """What phase 2 needs from a lead message (stored, so it can be re-applied without IMAP)."""
    msg = message_from_bytes(raw, policy=email_policy.default)
    assert isinstance(msg, EmailMessage)

    def addresses(name: str) -> list[str]:
        values = [str(v) for v in msg.get_all(name) or []]
        return [a.lower() for _, a in getaddresses(values) if "@" in a]

    body = _text_body(msg)
    return {
        "from": addresses("From"),
        "reply_to": addresses("Reply-To"),
        "fields": form_fields(body),
        "snippet": " ".join(body.split())[:500],
    }


def usable(address: str | None, own: frozenset[str]) -> bool:
    if not address or not _ADDRESS.fullmatch(address):
        return False
    local = address.split("@", 1)[0]
    return address.lower() not in own and not _NO_REPLY.search(local)


def choose_address(
    config: Config, details: Mapping[str, Any], own: frozenset[str]
) -> tuple[str | None, str]:
    """(address, where it came from): the form field, else Reply-To, else From."""
    field = (config.inbound.email_field or "").lower()
    candidates: list[tuple[str, str]] = []
    if field:
        value = (details.get("fields") or {}).get(" ".join(field.split()))
        if value:
            found = _ADDRESS.search(value)
            candidates.append(
                (
                    found.group(0).lower() if found else value,
                    f"form field {config.inbound.email_field!r}",
                )
            )
    candidates += [(a, "Reply-To") for a in details.get("reply_to") or []]
    candidates += [(a, "From") for a in details.get("from") or []]
    for address, source in candidates:
        if usable(address, own):
            return address, source
    return None, ", ".join(dict.fromkeys(s for _, s in candidates)) or "no sender address"


def _field(config_key: str | None, details: Mapping[str, Any]) -> str | None:
    if not config_key:
        return None
    return (details.get("fields") or {}).get(" ".join(config_key.lower().split()))


def assign_owner(s: Session, config: Config, mailbox: MailboxConfig) -> str:
    """The fixed owner, else the next rep in the round robin, else the mailbox's own rep."""
    inbound = config.inbound
    if inbound.owner:
        return inbound.owner
    if inbound.owners:
        return inbound.owners[q.next_round_robin(s, ROUND_ROBIN, len(inbound.owners))]
    return mailbox.rep


def apply_lead(
    s: Session,
    config: Config,
    sequences: Mapping[str, Sequence],
    mailbox: MailboxConfig,
    row: InboundMessage,
    now: datetime,
) -> int | None:
    """Phase 2 for one lead message: record it, and enroll it when it has a usable address.

    Runs in the caller's savepoint (never commits); returns the enrollment, if any.
    """
    existing = q.lead_of_inbound(s, row.id)
    if existing is not None:  # re-applied (inbound retry): done already
        return existing.enrollment_id
    details = row.details or {}
    own = frozenset(m.address.lower() for m in config.mailboxes)
    address, source = choose_address(config, details, own)
    base = {
        "inbound_id": row.id,
        "mailbox": mailbox.name,
        "received_at": now,
        "from_addr": row.from_addr,
        "subject": row.subject,
        "email": address,
    }
    if address is None:
        reason = f"no usable address (looked at: {source})"
        q.record_lead(s, **base, status="no_address", reason=reason)
        log.warning("inbound lead %s in %s: %s", row.id, mailbox.name, reason)
        return None
    sequence_id = config.inbound.sequence
    if not sequence_id or sequence_id not in sequences:
        known = ", ".join(sorted(sequences)) or "none"
        reason = f"inbound.sequence {sequence_id!r} is not a loaded sequence (known: {known})"
        q.record_lead(s, **base, status="failed", reason=reason)
        return None
    owner = assign_owner(s, config, mailbox)
    savepoint = s.begin_nested()
    try:
        outcome = enroll(
            s,
            config,
            sequences,
            email=address,
            sequence_id=sequence_id,
            owner=owner,
            name=_field(config.inbound.name_field, details),
            company=_field(config.inbound.company_field, details),
            fields={"lead_subject": row.subject} if row.subject else None,
            now=now,
            actor=ACTOR,
            source="inbound",
        )
    except UserError as exc:
        savepoint.rollback()
        q.record_lead(s, **base, owner=owner, status="failed", reason=str(exc)[:2000])
        return None
    savepoint.commit()
    status = "enrolled" if outcome.enrolled else "existing"
    q.record_lead(
        s,
        **base,
        owner=owner,
        prospect_id=outcome.prospect_id,
        enrollment_id=outcome.enrollment_id,
        status=status,
        reason=f"address from {source}"
        + ("" if outcome.enrolled else f"; {outcome.skipped_reason}"),
    )
    enrollment = s.get(Enrollment, outcome.enrollment_id)
    store.record_event(
        s,
        now=now,
        kind="inbound_lead",
        actor=ACTOR,
        enrollment=enrollment,
        reason=f"inbound lead \u201c{row.subject or '(no subject)'}\u201d assigned to {owner}",
        data={
            "subject": row.subject,
            "from": row.from_addr,
            "address_from": source,
            "owner": owner,
        },
    )
    return outcome.enrollment_id


def lead_alert(
    lead: InboundLead, prospect: Prospect | None, *, sender: MailboxConfig, to: str, now: datetime
) -> EmailMessage:
    who = (prospect.name if prospect else None) or lead.email or lead.from_addr or "unknown"
    subject = f"New inbound lead for you: {who}" + (f" ({lead.subject})" if lead.subject else "")
    lines = [
        f"A new inbound lead was assigned to you ({lead.owner}). Speed wins: answer it now.",
        "",
        f"Prospect:  {who} <{lead.email or '-'}>",
        f"Subject:   {lead.subject or '-'}",
        f"Arrived:   {lead.received_at:%a %d %b %Y %H:%M} UTC",
        f"Status:    {lead.status}" + (f" ({lead.reason})" if lead.reason else ""),
        "",
        "The inbound sequence sends its first touch on schedule unless you write first;",
        "a personal email from your mailbox counts as the first response.",
        "",
        "-- sequencer",
    ]
    return notification_message("inbound-lead", sender, [to], subject, "\n".join(lines) + "\n", now)


def send_lead_alerts(db: Database, config: Config, mailbox: MailboxConfig, clock: Clock) -> Counts:
    """Email each newly assigned lead's owner, exactly once (a claimed notification, key
    ``lead:<id>``); a refused send is retried by the next poll."""
    warnings: list[str] = []
    sent = 0
    with db.session() as s:
        pending = q.unnotified_leads(s, mailbox.name)
        for lead, prospect in pending:
            s.expunge(lead)
            if prospect is not None:
                s.expunge(prospect)
    for lead, prospect in pending:
        target = owner_mailbox(config, lead.owner)
        if target is None:
            warnings.append(f"inbound lead {lead.id}: owner {lead.owner!r} has no mailbox to alert")
            continue
        sender = (
            config.mailbox(config.reporting.notify_from) if config.reporting.notify_from else target
        )
        outcome = once.send_once(
            db,
            clock,
            key=f"lead:{lead.id}",
            kind="inbound-lead",
            sender=sender,
            recipients=[target.address],
            compose=lambda at, lead=lead, prospect=prospect, sender=sender, target=target: lead_alert(
                lead, prospect, sender=sender, to=target.address, now=at
            ),
            on_sent=lambda s, at, lead_id=lead.id: q.mark_lead_notified(s, lead_id, at),
            subject=f"inbound lead {lead.email or lead.from_addr or lead.id}",
        )
        if outcome.status == once.FAILED:
            warnings.append(f"inbound lead alert {lead.id} not sent: {outcome.error}")
        sent += int(outcome.sent)
    return Counts(notified=sent, warnings=tuple(warnings))


__all__ = ["apply_lead", "choose_address", "form_fields", "lead_details", "send_lead_alerts"]
