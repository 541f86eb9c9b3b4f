"""System notifications: the rep's reply alert and the manager's escalation.

Composition is pure (values in, an EmailMessage out); ``send_notification`` is the only
I/O, through the sending mailbox's SMTP pool. Every notification:

- is plain text and link-free: it must read well on a phone lock screen and carry no
  tracking or dashboard links a filter would flag;
- carries ``Auto-Submitted: auto-generated`` (RFC 3834), so vacation responders stay
  quiet and the poller never mistakes it for a human reply, and
  ``X-Sequencer-Notification`` naming its kind, so the poller skips it outright when it
  lands in a polled inbox.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any, TypeVar

from sequencer.config import MailboxConfig

NOTIFICATION_HEADER = "X-Sequencer-Notification"
T = TypeVar("T")


@dataclass(frozen=True)
class HistoryLine:
    """One line of the link-free history: when, and what happened."""

    at: datetime
    text: str


@dataclass(frozen=True)
class ReplyFacts:
    """Everything a reply alert or escalation says about one lead."""

    prospect_email: str
    prospect_name: str | None
    company: str | None
    deal_value: Decimal | None
    sequence_id: str
    sequence_name: str
    step: int | None  # the touch the prospect answered (0 = the rep's own filed email)
    step_label: str | None
    touch_subject: str | None
    reply_from: str
    reply_subject: str | None
    snippet: str
    replied_at: datetime
    owner: str | None
    history: Sequence[HistoryLine] = field(default_factory=tuple)
    reply_from_name: str | None = None  # the writer's display name (a colleague's, say)


def _who(f: ReplyFacts) -> str:
    """The prospect, or who wrote for them: "Pat Quinn (colleague of Dana Whitfield (Acme))"."""
    name = f.prospect_name or f.prospect_email
    prospect = f"{name} ({f.company})" if f.company else name
    writer = (f.reply_from or "").lower()
    if not writer or writer == f.prospect_email.lower():
        return prospect
    same_domain = writer.rpartition("@")[2] == f.prospect_email.lower().rpartition("@")[2]
    who = f"{f.reply_from_name} <{writer}>" if f.reply_from_name else writer
    return f"{who} ({'colleague of' if same_domain else 'in the thread of'} {prospect})"


def _touch(f: ReplyFacts) -> str:
    if f.step is None:
        return f"your {f.sequence_name} sequence"
    if f.step == 0:
        return f"your own email that started {f.sequence_name}"
    label = f" \u201c{f.step_label}\u201d" if f.step_label else ""
    return f"touch {f.step}{label} of {f.sequence_name}"


def format_money(value: Decimal | None) -> str:
    if value is None:
        return "not set"
    text = f"{value:,.2f}"
    return text[:-3] if text.endswith(".00") else text


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")


def _body(f: ReplyFacts, opening: list[str]) -> str:
    lines = [*opening, ""]
    lines.append(f"Prospect:   {f.prospect_name or '-'} <{f.prospect_email}>")
    if f.company:
        lines.append(f"Company:    {f.company}")
    lines.append(f"Deal value: {format_money(f.deal_value)}")
    lines.append(f"Sequence:   {f.sequence_name} ({f.sequence_id})")
    lines.append(f"Answered:   {_touch(f)}")
    if f.touch_subject:
        lines.append(f"Subject:    {f.touch_subject}")
    if f.reply_from.lower() != f.prospect_email.lower():
        lines.append(f"Reply from: {f.reply_from}")
    lines.append(f"Received:   {_when(f.replied_at)}")
    lines += ["", "What they wrote:", ""]
    lines += [f"> {line}" if line else ">" for line in (f.snippet or "(no text)").splitlines()]
    if f.history:
        lines += ["", "History:"]
        lines += [f"  {_when(h.at)}  {h.text}" for h in f.history]
    lines += ["", "The sequence will send nothing more to this prospect.", "", "-- sequencer"]
    return "\n".join(lines) + "\n"


def _message(
    *,
    kind: str,
    from_mailbox: MailboxConfig,
    to: Sequence[str],
    subject: str,
    body: str,
    now: datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name="Sequencer", addr_spec=from_mailbox.address)
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    domain = from_mailbox.address.rsplit("@", 1)[-1]
    msg["Message-ID"] = f"<sq.notify.{uuid.uuid4().hex}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg[NOTIFICATION_HEADER] = kind
    msg.set_content(body, charset="utf-8")
    return msg


def system_message(
    *,
    kind: str,
    from_mailbox: MailboxConfig,
    to: Sequence[str],
    subject: str,
    body: str,
    now: datetime,
) -> EmailMessage:
    """A plain notification (e.g. a mailbox pause notice) with the headers every one carries."""
    return _message(kind=kind, from_mailbox=from_mailbox, to=to, subject=subject, body=body, now=now)


def reply_alert(
    facts: ReplyFacts, *, from_mailbox: MailboxConfig, to: str, now: datetime
) -> EmailMessage:
    """The rep's alert: who replied, to which touch, the deal value, the snippet, the history."""
    subject = f"Reply from {_who(facts)}: {facts.reply_subject or facts.touch_subject or facts.sequence_name}"
    opening = [f"{_who(facts)} replied to {_touch(facts)}. Answer them while it is hot."]
    return _message(
        kind="reply-alert",
        from_mailbox=from_mailbox,
        to=[to],
        subject=subject[:200],
        body=_body(facts, opening),
        now=now,
    )


def escalation(
    facts: ReplyFacts,
    *,
    from_mailbox: MailboxConfig,
    to: Sequence[str],
    sla_hours: float,
    now: datetime,
) -> EmailMessage:
    """The managers' note: a reply has waited past the SLA without an answer from the rep."""
    waited = (now - facts.replied_at).total_seconds() / 3600
    owner = facts.owner or "the rep"
    subject = f"Unanswered for {waited:.0f}h: reply from {_who(facts)} ({owner})"
    opening = [
        f"{_who(facts)} replied to {_touch(facts)} {waited:.1f} hours ago and "
        f"{owner} has not answered yet (the reply SLA is {sla_hours:g} hours).",
        "This is the only escalation for this reply.",
    ]
    return _message(
        kind="escalation",
        from_mailbox=from_mailbox,
        to=list(to),
        subject=subject[:200],
        body=_body(facts, opening),
        now=now,
    )


# --- sending ------------------------------------------------------------------------------


def send_notification(mailbox: MailboxConfig, msg: EmailMessage, recipients: Sequence[str]) -> None:
    """Send through the mailbox's SMTP (the sending engine's pool); raises MailboxError."""
    from sequencer.mail.smtp import SmtpPool

    raw = msg.as_bytes()

    async def go() -> None:
        pool = SmtpPool(mailbox, concurrency=1)
        try:
            for rcpt in recipients:
                await pool.send(mailbox.address, rcpt, raw)
        finally:
            await pool.close()

    run_coroutine(go())


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` that also works when called from code already inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner, name="sequencer-notify")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


__all__ = [
    "NOTIFICATION_HEADER",
    "HistoryLine",
    "ReplyFacts",
    "escalation",
    "format_money",
    "reply_alert",
    "run_coroutine",
    "send_notification",
    "system_message",
]
