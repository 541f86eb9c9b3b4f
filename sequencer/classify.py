"""Inbound message -> Verdict: is this a reply, an auto-reply, a bounce, an opt-out, or noise?

The poller stops a sequence on a human reply, so the costly mistake is calling a machine's
message a reply (or a reply an out-of-office). Classification is therefore an ordered chain
of small named rules in the style of GNU Mailman: the first rule that fires decides, and the
verdict records which one (``reason``), so a wrong verdict points at one rule and a new
vendor format is one new rule plus one sample in ``tests/samples``.

Order matters and is deliberate:

1. own -- our copies in Sent carry our Message-IDs and must never count as replies.
2. bounce -- before auto-reply, because real bounces carry ``Auto-Submitted: auto-replied``
   and threading headers (Gmail, Exim, Postfix).
3. auto-reply -- RFC 3834 and vendor headers, null Return-Path, subject patterns.
4. unsubscribe -- mail to an opt-out address (List-Unsubscribe mailto), or a short
   "please remove me" reply.
5. unrelated -- list mail (newsletters) that refers to none of our messages.
6. reply -- everything else, even without threading headers: attribution by sender address
   is the poller's job.

Pure: no I/O, no clock. The reference date for an out-of-office's return date is the
``received`` parameter, else the message's own Date header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import cached_property
from typing import Literal, cast

from flufl.bounce import all_failures

Kind = Literal["reply", "auto_reply", "bounce", "unsubscribe", "unrelated", "own"]
Severity = Literal["hard", "soft"]

__all__ = [
    "RULES",
    "Decision",
    "Inbound",
    "Kind",
    "Rule",
    "Severity",
    "Verdict",
    "classify",
    "find_return_date",
    "parse_message",
    "sender_candidates",
    "snippet",
    "strip_quoted",
]


@dataclass(frozen=True)
class Verdict:
    """What one inbound message is, and everything the poller needs to attribute and act on it.

    ``refs`` are Message-IDs in ``<local@domain>`` form, most specific first: for a bounce the
    embedded original's Message-ID comes first (it is the touch that bounced).
    ``recipients`` (bounces only) are the addresses that failed at ``severity``, lowercased.
    ``return_date`` (auto-replies only) is the first day the sender says they are back.
    ``token`` is set when the message was addressed to an ``unsubscribe+TOKEN@`` address.
    """

    kind: Kind
    rule: str
    reason: str
    severity: Severity | None = None
    recipients: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    from_addr: str = ""
    from_domain: str = ""
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    message_id: str | None = None
    snippet: str = ""
    return_date: date | None = None
    token: str | None = None


@dataclass(frozen=True)
class Decision:
    """A rule's finding; ``classify`` adds the facts every verdict carries."""

    kind: Kind
    detail: str
    severity: Severity | None = None
    recipients: tuple[str, ...] = ()
    token: str | None = None


def parse_message(raw: bytes) -> EmailMessage:
    """Parse raw RFC 5322 bytes; never raises, because one broken message must not stop a poll.

    Defects are recorded on the message (``msg.defects``) by the email package as usual.
    """
    try:
        return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))
    except Exception:  # the feed parser is lenient; this is a last resort
        msg = EmailMessage(policy=policy.default)
        msg.set_payload(raw.decode("utf-8", "replace"))
        return msg


# --- header access that survives broken mail -------------------------------------------------

_MSGID = re.compile(r"<[^<>\s]+>")


def _clean(value: str) -> str:
    """Unfold and drop undecodable bytes (surrogates) so values are safe to print and store."""
    value = re.sub(r"\r?\n[ \t]*", " ", str(value)).strip()
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _raw(msg: Message, name: str) -> list[str]:
    """Raw header values; ``msg[name]`` can raise on malformed structured headers."""
    name = name.lower()
    try:
        return [_clean(v) for k, v in msg.raw_items() if k.lower() == name]
    except Exception:
        return []


def _first(msg: Message, name: str) -> str:
    values = _raw(msg, name)
    return values[0] if values else ""


def _decoded(value: str) -> str:
    try:
        return _clean(str(make_header(decode_header(value))))
    except Exception:
        return value


def _addresses(msg: Message, *names: str) -> tuple[str, ...]:
    values = [v for name in names for v in _raw(msg, name)]
    found = [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]
    return tuple(dict.fromkeys(found))


def _msgids(values: list[str]) -> list[str]:
    """Message-IDs from header values; tolerates a bare ``id@host`` without angle brackets."""
    found: list[str] = []
    for value in values:
        tokens = _MSGID.findall(value)
        if not tokens and re.fullmatch(r"[^\s<>@]+@[^\s<>@]+", value.strip()):
            tokens = [f"<{value.strip()}>"]
        found.extend(tokens)
    return found


def _thread_refs(headers: Message) -> list[str]:
    """In-Reply-To first, then References newest first: the most specific parent leads."""
    references = _msgids(_raw(headers, "references"))
    return _msgids(_raw(headers, "in-reply-to")) + references[::-1]


# --- MIME walking ----------------------------------------------------------------------------


def _leaves(part: Message) -> Iterator[Message]:
    """Leaf parts, treating message/* parts as leaves so an attached original stays opaque."""
    payload = part.get_payload()
    if part.get_content_maintype() == "message" or not isinstance(payload, list):
        yield part
        return
    for sub in payload:
        if isinstance(sub, Message):
            yield from _leaves(sub)


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _is_attachment(part: Message) -> bool:
    return _first(part, "content-disposition").lower().startswith("attachment")


def _body(msg: Message) -> tuple[str, bool]:
    """The first inline text/plain leaf, else the first text/html one (and whether it is HTML)."""
    leaves = [p for p in _leaves(msg) if not _is_attachment(p)]
    for ctype, is_html in (("text/plain", False), ("text/html", True)):
        for part in leaves:
            if part.get_content_type() == ctype:
                return _part_text(part), is_html
    return "", False


def _embedded_original(msg: Message) -> Message | None:
    """Headers of the returned message in a bounce (message/rfc822 or text/rfc822-headers)."""
    for part in _leaves(msg):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif ctype == "text/rfc822-headers":
            return HeaderParser(policy=policy.compat32).parsestr(_part_text(part))
    return None


_INLINE_REF = re.compile(
    r"^[ \t]*(message-id|in-reply-to|references)[ \t]*:(.*(?:\n[ \t]+<.*)*)", re.I | re.M
)
_INLINE_TO = re.compile(r"^[ \t]*to[ \t]*:(.*)", re.I | re.M)


def _inline_original_refs(text: str) -> list[str]:
    """Message-IDs from an original pasted into a non-MIME bounce (qmail, Exim)."""
    by_name: dict[str, list[str]] = {"message-id": [], "in-reply-to": [], "references": []}
    for match in _INLINE_REF.finditer(text):
        by_name[match.group(1).lower()].extend(_MSGID.findall(match.group(2)))
    return by_name["message-id"] + by_name["in-reply-to"] + by_name["references"][::-1]


# --- the facts rules look at -----------------------------------------------------------------


class Inbound:
    """One message plus the caller's context; derived facts are computed once, when needed."""

    def __init__(
        self,
        msg: Message,
        own_addresses: AbstractSet[str],
        unsubscribe_addresses: AbstractSet[str],
    ) -> None:
        self.msg = msg
        self.own_addresses = frozenset(a.lower() for a in own_addresses)
        self.unsubscribe_addresses = frozenset(a.lower() for a in unsubscribe_addresses)

    def header(self, name: str) -> str:
        return _first(self.msg, name)

    def has(self, name: str) -> bool:
        return bool(_raw(self.msg, name))

    @cached_property
    def from_addr(self) -> str:
        found = _addresses(self.msg, "from") or _addresses(self.msg, "sender")
        return found[0] if found else ""

    @cached_property
    def from_display(self) -> str:
        pairs = getaddresses(_raw(self.msg, "from"))
        return _decoded(pairs[0][0]) if pairs else ""

    @cached_property
    def subject(self) -> str:
        return _decoded(self.header("subject"))

    @cached_property
    def refs(self) -> list[str]:
        return _thread_refs(self.msg)

    @cached_property
    def text(self) -> str:
        """The whole first text body (HTML flattened), quotes included."""
        text, is_html = _body(self.msg)
        return _html_to_text(text) if is_html else text.replace("\r\n", "\n")

    @cached_property
    def reply_text(self) -> str:
        """What the sender wrote: quotes, attributions and signature removed."""
        text, is_html = _body(self.msg)
        if is_html:
            text = _html_to_text(_cut_html_quote(text))
        return strip_quoted(text)

    @cached_property
    def original(self) -> Message | None:
        return _embedded_original(self.msg)


# --- rules -----------------------------------------------------------------------------------


class Rule:
    """One named check; ``check`` returns a Decision when the rule decides, else None."""

    name: str = ""
    description: str = ""

    def check(self, mail: Inbound) -> Decision | None:
        raise NotImplementedError


class OwnMessage(Rule):
    name = "own address"
    description = "From is one of our own addresses: a copy of our touch, never a reply."

    def check(self, mail: Inbound) -> Decision | None:
        if mail.from_addr and mail.from_addr in mail.own_addresses:
            return Decision("own", mail.from_addr)
        return None


class DeliveryStatusReport(Rule):
    name = "delivery status report"
    description = "RFC 3464 message/delivery-status: per-recipient Action and Status decide."

    def check(self, mail: Inbound) -> Decision | None:
        reports = [
            p for p in _leaves(mail.msg) if p.get_content_type() == "message/delivery-status"
        ]
        if not reports:
            return None
        failures: dict[str, Severity] = {}
        statuses: list[str] = []
        for report in reports:
            for block in _dsn_blocks(report):
                recipient = _dsn_recipient(block)
                status = _first(block, "status").split(" ")[0]
                severity = _failure_severity(
                    _first(block, "action"), status, _first(block, "diagnostic-code")
                )
                if recipient and severity:
                    failures.setdefault(recipient, severity)
                    statuses.append(f"{recipient} {status or '?'}")
        if not failures:
            temporary, permanent = _flufl_failures(mail.msg)
            failures = {r: "soft" for r in temporary} | {r: "hard" for r in permanent}
        if not failures:
            if _BOUNCE_SUBJECT.search(mail.subject):
                return _bounce_without_recipients(mail, "no recipient blocks")
            return Decision("unrelated", "no failed or delayed recipients (a delivery receipt)")
        return _bounce(failures, ", ".join(statuses) or "parsed by flufl.bounce")


class MailerDaemonNotice(Rule):
    name = "mailer-daemon notice"
    description = (
        "A non-RFC 3464 bounce (Exim, qmail, old Exchange): X-Failed-Recipients, or a "
        "mailer-daemon/postmaster sender with a failure subject or a body flufl.bounce can parse."
    )

    def check(self, mail: Inbound) -> Decision | None:
        x_failed = _addresses(mail.msg, "x-failed-recipients")
        daemon = _is_daemon(mail.from_addr, mail.from_display)
        failure_subject = bool(_BOUNCE_SUBJECT.search(mail.subject))
        null_path = mail.header("return-path").replace(" ", "") == "<>"
        if not (x_failed or daemon or (failure_subject and null_path)):
            return None
        temporary, permanent = _flufl_failures(mail.msg)
        if not (x_failed or temporary or permanent or failure_subject):
            return None  # a postmaster writing by hand, or a daemon's non-failure notice
        notice = _notification(mail.text)
        if temporary and not permanent or _soft_notice(mail.subject, notice):
            severity: Severity = "soft"
        else:
            severity = _severity_from_text(notice)
        failed = list(dict.fromkeys([*x_failed, *permanent, *temporary]))
        if not failed:
            return _bounce_without_recipients(mail, mail.subject or "failure notice", severity)
        why = "X-Failed-Recipients" if x_failed else mail.subject or "failure notice"
        return Decision("bounce", why, severity, tuple(failed))


# --- bounce helpers ---

_DAEMON_LOCALS = {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returning message|delivery status notification \((failure|delay)\)"
    r"|delivery (failure|failed|has failed|problem|delayed|notification)|mail delivery fail"
    r"|failure notice|not? (be )?delivered|delayed mail|warning: message .* delayed"
    r"|nicht zustellbar|unzustellbar|non remis|no se (ha )?podido entregar|non recapitabile"
    r"|onbestelbaar",
    re.I,
)
_DELAY = re.compile(
    r"\(delay\)|delayed|delay(ed)? notification|verzögert|retard|retrasad|not yet been delivered"
    r"|delivery attempts will continue|will (be )?retr(y|ied)|still trying|temporar(y|ily)",
    re.I,
)
_MAILBOX_FULL = re.compile(
    r"mailbox (is )?full|over ?quota|quota (exceeded|exceed)|exceed(ed|s)? (the |its |their )?"
    r"(storage |mailbox )?quota|out of storage|insufficient (system )?storage|mailbox size limit",
    re.I,
)
_ENHANCED = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"(?<![\d.])([45])\d\d(?=[ -]\S)")
_COPY_MARKER = re.compile(
    r"^\s*-{2,}.*(copy of|original message|below this line|returned message|undelivered message)"
    r"|^(return-path|received):",
    re.I | re.M,
)


def _dsn_blocks(report: Message) -> list[Message]:
    payload = report.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    # Some MTAs send the report with a transfer encoding, so it arrives as one text payload.
    text = _part_text(report).replace("\r\n", "\n")
    return [HeaderParser(policy=policy.compat32).parsestr(b) for b in re.split(r"\n\s*\n", text)]


def _dsn_recipient(block: Message) -> str:
    """Original-Recipient is what we sent to; Final-Recipient may be after alias rewriting."""
    for name in ("original-recipient", "final-recipient"):
        value = _first(block, name)
        address = value.split(";", 1)[-1].strip().strip("<>").strip().lower()
        if "@" in address:
            return address
    return ""


def _failure_severity(action: str, status: str, diagnostic: str) -> Severity | None:
    """Hard = permanent (5.x.x); soft = delayed, 4.x.x, or a full mailbox (5.2.2), which clears."""
    action = action.strip().lower()
    if action.startswith("delayed"):
        return "soft"
    if not action.startswith(("fail", "error")):
        return None  # delivered, relayed, expanded: not a failure
    if not status:
        codes = _ENHANCED.findall(diagnostic)
        status = ".".join(codes[0]) if codes else ""
    if status.startswith("4") or status == "5.2.2" or _MAILBOX_FULL.search(diagnostic):
        return "soft"
    return "hard"


def _bounce(failures: dict[str, Severity], detail: str) -> Decision:
    """A report mixing hard and soft failures is hard, and names only the hard recipients."""
    severity: Severity = "hard" if "hard" in failures.values() else "soft"
    recipients = tuple(r for r, s in failures.items() if s == severity)
    return Decision("bounce", detail, severity, recipients)


def _bounce_without_recipients(mail: Inbound, detail: str, severity: Severity = "hard") -> Decision:
    """No parsable recipient: fall back to the To of the returned message, if we have it."""
    recipients: tuple[str, ...] = ()
    if mail.original is not None:
        recipients = _addresses(mail.original, "to")
    else:
        match = _INLINE_TO.search(mail.text)
        if match:
            recipients = tuple(a.lower() for _, a in getaddresses([match.group(1)]) if "@" in a)
    detail += "; recipient from the returned message" if recipients else "; recipient unknown"
    return Decision("bounce", detail, severity, recipients)


def _flufl_failures(msg: Message) -> tuple[list[str], list[str]]:
    """flufl.bounce's (temporary, permanent) addresses; its heuristics may raise on odd mail."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:
        return [], []

    def norm(found: frozenset[bytes]) -> list[str]:
        return sorted({a.decode("ascii", "replace").strip().lower() for a in found if b"@" in a})

    return norm(temporary), norm(permanent)


def _is_daemon(address: str, display: str) -> bool:
    local = address.split("@", 1)[0]
    return (
        local in _DAEMON_LOCALS
        or local.startswith("microsoftexchange")
        or display.lower() in {"mail delivery system", "mail delivery subsystem"}
    )


def _notification(text: str) -> str:
    """The MTA's own words, without the pasted original (whose IPs look like status codes)."""
    match = _COPY_MARKER.search(text)
    return text[: match.start()] if match else text


def _soft_notice(subject: str, notice: str) -> bool:
    return bool(_DELAY.search(subject) or _DELAY.search(notice) or _MAILBOX_FULL.search(notice))


def _severity_from_text(notice: str) -> Severity:
    codes = [".".join(c) for c in _ENHANCED.findall(notice)]
    if any(c.startswith("5") and c != "5.2.2" for c in codes):
        return "hard"
    if codes:
        return "soft"
    basic = _BASIC.findall(notice)
    return "soft" if basic and "5" not in basic else "hard"


# --- auto-reply rules ------------------------------------------------------------------------


class AutoSubmittedHeader(Rule):
    name = "auto-submitted header"
    description = "RFC 3834 Auto-Submitted with any value but 'no'."

    def check(self, mail: Inbound) -> Decision | None:
        value = mail.header("auto-submitted")
        keyword = re.split(r"[\s;(]", value.strip().lower(), maxsplit=1)[0] if value else ""
        return Decision("auto_reply", value) if keyword and keyword != "no" else None


class AutoReplyHeader(Rule):
    name = "autoreply header"
    description = "Vendor headers only responders set (X-Autoreply, X-Autorespond, ...)."

    # X-Auto-Response-Suppress is deliberately absent: Outlook sets it on human mail too.
    HEADERS = (
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-autoreply-from",
        "x-mail-autoreply",
        "x-autogenerated",
        "x-fc-machinegenerated",
    )

    def check(self, mail: Inbound) -> Decision | None:
        for name in self.HEADERS:
            value = mail.header(name)
            if mail.has(name) and value.lower() not in {"no", "false", "0"}:
                return Decision("auto_reply", f"{name}: {value}".rstrip(": "))
        if "autoresponder" in mail.header("x-post-messageclass").lower():
            return Decision("auto_reply", "x-post-messageclass: autoresponder")
        return None


class PrecedenceHeader(Rule):
    name = "precedence header"
    description = "Precedence: auto_reply or junk (vacation(1) and friends)."

    def check(self, mail: Inbound) -> Decision | None:
        value = mail.header("precedence").strip().lower()
        return Decision("auto_reply", value) if value in {"auto_reply", "junk"} else None


class ExchangeRuleReply(Rule):
    name = "exchange inbox rule"
    description = (
        "X-MS-Exchange-Inbox-Rules-Loop naming the sender itself: an Outlook rule answered. "
        "A rule that forwards someone else's mail names a different mailbox, so is not decided here."
    )

    def check(self, mail: Inbound) -> Decision | None:
        looped = _addresses(mail.msg, "x-ms-exchange-inbox-rules-loop")
        if mail.from_addr and mail.from_addr in looped:
            return Decision("auto_reply", f"rule of {mail.from_addr}")
        return None


class NullReturnPath(Rule):
    name = "null return path"
    description = "Return-Path <> on a non-bounce: RFC 3834 responders send with a null sender."

    def check(self, mail: Inbound) -> Decision | None:
        values = _raw(mail.msg, "return-path")
        if values and values[0].replace(" ", "") == "<>":
            return Decision("auto_reply", "Return-Path: <>")
        return None


class AutoReplySubject(Rule):
    name = "auto-reply subject"
    description = "Subjects responders use, in several languages, at the start of the subject."

    # Anchored at the start: "Re: Out of office furniture quote" is a human reply.
    PATTERN = re.compile(
        r"^\W*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automatic response"
        r"|auto:|out of (the )?office|ooo\b|away from (the )?office|on vacation|on holiday"
        r"|abwesenheitsnotiz|abwesend|abwesenheit|automatische antwort|au(ß|ss)er haus|urlaub"
        r"|r[ée]ponse automatique|absence|absent|message d'absence"
        r"|respuesta autom[áa]tica|fuera de (la )?oficina|ausente"
        r"|risposta automatica|fuori (ufficio|sede)|assente"
        r"|automatisch antwoord|afwezig|afwezigheid|resposta autom[áa]tica"
        r"|autosvar|automatiskt svar|automaattinen vastaus)(?!\w)",
        re.I,
    )

    def check(self, mail: Inbound) -> Decision | None:
        match = self.PATTERN.search(mail.subject)
        return Decision("auto_reply", match.group(1)) if match else None


# --- unsubscribe rules -----------------------------------------------------------------------

_RECIPIENT_HEADERS = (
    "to",
    "cc",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "x-delivered-to",
)


class UnsubscribeAddress(Rule):
    name = "unsubscribe address"
    description = (
        "Sent to one of our opt-out addresses (the List-Unsubscribe mailto), with or without a "
        "+TOKEN: unsubscribe_addresses entries, unsubscribe+TOKEN@ at one of our domains, or "
        "own+unsubscribe-TOKEN@."
    )

    def check(self, mail: Inbound) -> Decision | None:
        own_domains = {a.rsplit("@", 1)[-1] for a in mail.own_addresses}
        for address in _addresses(mail.msg, *_RECIPIENT_HEADERS):
            if address in mail.unsubscribe_addresses:
                return Decision("unsubscribe", address)
            local, _, domain = address.rpartition("@")
            base, plus, tag = local.partition("+")
            if not plus or not tag:
                continue
            if f"{base}@{domain}" in mail.unsubscribe_addresses or (
                base == "unsubscribe" and domain in own_domains
            ):
                return Decision("unsubscribe", address, token=tag)
            own_tag = re.fullmatch(r"unsubscribe(?:[-_.+=](.+))?", tag, re.I)
            if own_tag and f"{base}@{domain}" in mail.own_addresses:
                return Decision("unsubscribe", address, token=own_tag.group(1))
        return None


class ListMail(Rule):
    name = "list mail"
    description = (
        "List-Id / List-Unsubscribe / Precedence bulk|list and no reference to any message: "
        "a newsletter, not a prospect answering us."
    )

    def check(self, mail: Inbound) -> Decision | None:
        if mail.refs:
            return None
        for name in ("list-id", "list-unsubscribe", "list-post"):
            if mail.has(name):
                return Decision("unrelated", f"{name}: {mail.header(name)}"[:120])
        precedence = mail.header("precedence").strip().lower()
        return (
            Decision("unrelated", f"precedence: {precedence}")
            if precedence in {"bulk", "list"}
            else None
        )


class UnsubscribeSubject(Rule):
    name = "unsubscribe subject"
    description = "A subject that is just an opt-out word (what List-Unsubscribe mailto sends)."

    PATTERN = re.compile(
        r"^\W*(unsubscribe|remove( me)?|opt[- ]?out|stop|abmelden|d[ée]sabonner|d[ée]sinscription"
        r"|baja|darme de baja|cancelar suscripci[óo]n)\W*$",
        re.I,
    )

    def check(self, mail: Inbound) -> Decision | None:
        match = self.PATTERN.match(mail.subject)
        return Decision("unsubscribe", match.group(1)) if match else None


class UnsubscribeRequest(Rule):
    name = "unsubscribe request"
    description = (
        "A short reply (under 40 words of new text) asking to be removed. Phrases need a "
        "first-person object ('remove me', 'take me off'), so 'I can't remove the old vendor' "
        "stays a reply."
    )

    MAX_WORDS = 40
    NEGATION = re.compile(r"\b(not|never|no need to)\b|n't\b", re.I)
    PATTERN = re.compile(
        r"^\W*(unsubscribe|stop|remove|opt[- ]?out|abmelden|d[ée]sabonner|baja)\W*$"
        r"|\b(?P<negatable>unsubscribe|opt (me |us )?out)\b"
        r"|\b(remove|delete|drop|exclude) (me|us)\b"
        r"|\b(remove|delete) (my|our) (e-?mail|address|name|contact|details|data)"
        r"|\b(take|get) (me|us) off\b|\b(take|get) (my|our) (e-?mail|address|name)\w* off\b"
        r"|\b(stop|quit) (e-?mailing|mailing|contacting|messaging|writing to|sending me|sending us)\b"
        r"|\b(do not|don't|dont|never) (contact|e-?mail|write to|message) (me|us)"
        r"( again| anymore| any more| in the future)?\s*([.!]|$)"
        r"|\bno longer (wish|want) to (receive|hear|be contacted)\b"
        r"|\babmelden\b|\bkeine (weiteren (e-?mails|mails|nachrichten)|(e-?mails|mails|nachrichten) mehr)\b"
        r"|\bentfernen sie mich\b|\baus (ihrem|dem) verteiler\b|\bnicht mehr (kontaktieren|anschreiben)\b"
        r"|\bd[ée]sabonne|\bd[ée]sinscri|\bretirez[- ]moi\b"
        r"|\bne (plus|pas) me (contacter|recontacter|[ée]crire)\b|\bne me (contactez|[ée]crivez) plus\b"
        r"|\bdar(me|nos)? de baja\b|\bdarse de baja\b|\bcancelar (la |mi )?suscripci[óo]n\b"
        r"|\bno me (contacten|escriban|env[íi]en)\b|\bdejen? de (enviarme|escribirme|contactarme)\b"
        r"|\beliminar(me|nos)? de (su|la|vuestra) lista\b",
        re.I,
    )

    def check(self, mail: Inbound) -> Decision | None:
        text = " ".join(mail.reply_text.replace("\u2019", "'").split())
        if not text or len(text.split()) >= self.MAX_WORDS:
            return None
        for match in self.PATTERN.finditer(text):
            before = text[max(0, match.start() - 25) : match.start()]
            if match.group("negatable") and self.NEGATION.search(before):
                continue  # "I'm not going to unsubscribe", "don't unsubscribe me"
            return Decision("unsubscribe", repr(match.group(0).strip()))
        return None


class HumanReply(Rule):
    name = "human reply"
    description = "Nothing machine-made or opt-out about it: a person wrote back."

    def check(self, mail: Inbound) -> Decision | None:
        return Decision("reply", "in thread" if mail.refs else "no threading headers")


RULES: tuple[Rule, ...] = (
    OwnMessage(),
    DeliveryStatusReport(),
    MailerDaemonNotice(),
    AutoSubmittedHeader(),
    AutoReplyHeader(),
    PrecedenceHeader(),
    ExchangeRuleReply(),
    NullReturnPath(),
    AutoReplySubject(),
    UnsubscribeAddress(),
    ListMail(),
    UnsubscribeSubject(),
    UnsubscribeRequest(),
    HumanReply(),
)


# --- classify --------------------------------------------------------------------------------


def classify(
    msg: EmailMessage | Message | bytes,
    *,
    own_addresses: AbstractSet[str],
    unsubscribe_addresses: AbstractSet[str] = frozenset(),
    received: date | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> Verdict:
    """Run the rules in order; the first that decides names the verdict's ``reason``.

    ``own_addresses`` are the reps' mailbox addresses (case-insensitive). ``received`` anchors
    year and weekday inference of an out-of-office's return date; without it the message's
    Date header is used, and without that only fully dated return dates are found.
    """
    if isinstance(msg, bytes | bytearray):
        msg = parse_message(bytes(msg))
    mail = Inbound(msg, own_addresses, unsubscribe_addresses)
    rule, decision = _decide(mail, rules)
    refs = mail.refs
    if decision.kind == "bounce":
        original = mail.original
        embedded = (
            _msgids(_raw(original, "message-id")) + _thread_refs(original)
            if original is not None
            else _inline_original_refs(mail.text)
        )
        refs = embedded + refs
    reference = received or _date_header(msg)
    return Verdict(
        kind=decision.kind,
        rule=rule,
        reason=f"{rule}: {decision.detail}" if decision.detail else rule,
        severity=decision.severity,
        recipients=decision.recipients,
        refs=tuple(dict.fromkeys(refs)),
        from_addr=mail.from_addr,
        from_domain=mail.from_addr.rpartition("@")[2],
        reply_to=_addresses(msg, "reply-to"),
        subject=mail.subject,
        message_id=next(iter(_msgids(_raw(msg, "message-id"))), None),
        snippet=snippet(mail.reply_text),
        return_date=(
            find_return_date(f"{mail.subject}\n{mail.reply_text}", reference)
            if decision.kind == "auto_reply"
            else None
        ),
        token=decision.token,
    )


def _decide(mail: Inbound, rules: tuple[Rule, ...]) -> tuple[str, Decision]:
    for rule in rules:
        decision = rule.check(mail)
        if decision is not None:
            return rule.name, decision
    return HumanReply.name, Decision("reply", "no rule decided")


def sender_candidates(verdict: Verdict) -> list[str]:
    """Addresses to try, in order, when no ref matches one of our Message-IDs.

    For a bounce these are the failed recipients (the prospects); for a reply, auto-reply or
    opt-out the sender and its Reply-To. Our own copies and unrelated mail have none.
    """
    if verdict.kind == "bounce":
        return list(verdict.recipients)
    if verdict.kind in ("own", "unrelated"):
        return []
    return list(dict.fromkeys(a for a in (verdict.from_addr, *verdict.reply_to) if a))


def _date_header(msg: Message) -> date | None:
    try:
        return parsedate_to_datetime(_first(msg, "date")).date()
    except Exception:
        return None


# --- the human part of a reply ---------------------------------------------------------------

_ATTRIBUTION = re.compile(
    r"^[ \t>]*(On|Am|Le|El|Il|Op)\b[^\n]{0,200}(?:\n[^\n]{0,200}){0,2}?"
    r"\b(wrote|schrieb|a [ée]crit|escribi[óo]|ha scritto|schreef)\b[^\n]{0,80}:[ \t]*$"
    r"|^[ \t]*-{2,}\s*(Original Message|Urspr[üu]ngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Forwarded message)\s*-{2,}"
    r"|^[ \t]*Begin forwarded message:"
    r"|^[ \t]*_{8,}[ \t]*$"
    r"|^[ \t]*\*?(From|Von|De|Da|Van)\*?[ \t]*:[^\n]*\n(?:[^\n]*\n){0,3}?"
    r"[ \t]*\*?(Sent|Date|Gesendet|Datum|Envoy[ée]|Enviado|Fecha|Inviato|Verzonden)\*?[ \t]*:",
    re.M | re.I,
)
_SIGNATURE = re.compile(
    r"^-- ?$|^(Sent from my |Sent from Outlook|Get Outlook for |Von meinem .* gesendet"
    r"|Envoy[ée] de mon |Enviado desde mi )",
    re.M,
)
_HTML_QUOTE = re.compile(
    r"<div[^>]+(gmail_quote|divRplyFwdMsg|appendonsend|moz-cite-prefix|yahoo_quoted)"
    r"|<blockquote|<hr\b",
    re.I,
)


def _cut_html_quote(html_text: str) -> str:
    match = _HTML_QUOTE.search(html_text)
    return html_text[: match.start()] if match else html_text


def _html_to_text(html_text: str) -> str:
    import html

    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", html_text)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d|table)\s*>", "\n", text)
    text = re.sub(r"<[^>]*>", "", text)
    return html.unescape(text).replace("\xa0", " ")


def strip_quoted(text: str) -> str:
    """The text a person typed: cut at the first attribution/forward block and signature,
    then drop ``>`` lines (interleaved quotes)."""
    text = text.replace("\r\n", "\n").replace("\u2019", "'")
    for pattern in (_ATTRIBUTION, _SIGNATURE):
        match = pattern.search(text)
        if match:
            text = text[: match.start()]
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def snippet(text: str, limit: int = 300) -> str:
    """Whitespace-collapsed, cut on a word boundary: enough for a notification line."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# --- an out-of-office's return date ----------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janvier janv enero ene",
        "february feb februar février fevrier févr fevr febrero",
        "march mar märz maerz mär mars marzo",
        "april apr avril avr abril",
        "may mai mayo",
        "june jun juni juin junio",
        "july jul juli juillet juil julio",
        "august aug août aout agosto ago",
        "september sept sep septembre septiembre setiembre",
        "october oct oktober okt octobre octubre",
        "november nov novembre noviembre",
        "december dec dezember dez décembre decembre déc diciembre dic",
    ),
    start=1,
):
    _MONTHS.update(dict.fromkeys(_names.split(), _number))
_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "monday montag lundi lunes",
        "tuesday dienstag mardi martes",
        "wednesday mittwoch mercredi miércoles miercoles",
        "thursday donnerstag jeudi jueves",
        "friday freitag vendredi viernes",
        "saturday samstag sonnabend samedi sábado sabado",
        "sunday sonntag dimanche domingo",
    )
):
    _WEEKDAYS.update(dict.fromkeys(_names.split(), _number))

_MON = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?!\w)\.?"
_DATE_FORMS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}|\d{2})?(?!\d)"),
    re.compile(r"\b(?P<a>\d{1,2})(?P<sep>[/-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})\b"),
    re.compile(
        r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|er|\.|º)?\s+(?:of\s+|de\s+)?"
        + _MON
        + r"(?:,?\s+(?:de\s+)?(?P<y>\d{4}))?",
        re.I,
    ),
    re.compile(r"\b" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4}))?", re.I),
)
_WEEKDAY_FIRST = re.compile(
    r"^\W*(?:on\s+|am\s+|le\s+|el\s+|next\s+|this\s+|kommenden\s+|nächsten\s+)?(?P<wd>"
    + "|".join(_WEEKDAYS)
    + r")\b",
    re.I,
)
# Cues: "back" dates are the day they are back; "from" dates too, but only when a word like
# "wieder" follows the date ("ab dem 9. März wieder erreichbar", not "ab 2. März im Urlaub");
# "until" dates are the last day away, the same day unless stated as inclusive; "to" (range
# ends: "2 to 6 March", "du 2 au 6 mars") counts only when the date follows at once.
_CUES = re.compile(
    r"\b(?:(?P<back>back|return|returning|will be in the office|in the office again"
    r"|available again|reachable again|zurück|de retour|retour|rentre|rentrerai|volveré"
    r"|regreso|regresaré|de vuelta|me reincorporo|rientro|terug)"
    r"|(?P<from>ab dem|ab|à partir du|à partir de|dès le|a partir del|a partir de|vanaf|from)"
    r"|(?P<until>until|till|til|through|thru|bis|jusqu'au|jusqu'à|jusqu'a|hasta)"
    r"|(?P<to>to|au|al|tot))\b",
    re.I,
)
_BACK_MARKER = re.compile(
    r"^\W*(\w+\W+){0,3}?(wieder|zurück|erreichbar|im büro|de retour|retour|disponible|joignable"
    r"|au bureau|de vuelta|en la oficina|regres|volver|terug|aanwezig|bereikbaar|back|available"
    r"|in the office)",
    re.I,
)
_INCLUSIVE = re.compile(
    r"\b(through|thru|inclusive|einschlie(ß|ss)lich|inkl|inclus|incluido)", re.I
)
_SENTENCE_END = re.compile(r"(?<![\d\s])[!?]|(?<!\d)(?<!\b\w\w\w)\.(\s|$)")


def find_return_date(text: str, reference: date | None) -> date | None:
    """The first day an out-of-office says its sender is back, or None when unsure.

    A "back on" date is taken first; otherwise an "until/bis/jusqu'au/hasta" date, plus one
    day only when stated as inclusive ("through", "einschließlich"). Ambiguous numeric dates
    (03/04/2026) are resolved only when one reading is within 120 days after ``reference``.
    """
    text = " ".join(text.replace("\u2019", "'").split())
    back: list[date] = []
    until: list[date] = []
    for cue in _CUES.finditer(text):
        window = text[cue.end() : cue.end() + 60]
        end = _SENTENCE_END.search(window)
        window = window[: end.start()] if end else window
        hit = _date_in(window, reference)
        if hit is None:
            continue
        start, stop, found = hit
        kind = cue.lastgroup
        if kind == "from" and not _BACK_MARKER.search(window[stop:]):
            continue
        if kind == "to" and start > 1:
            continue
        if kind in ("back", "from"):
            back.append(found)
        elif _INCLUSIVE.search(cue.group(0) + window):
            until.append(date.fromordinal(found.toordinal() + 1))
        else:
            until.append(found)
    return (back or until or [None])[0]


def _date_in(window: str, reference: date | None) -> tuple[int, int, date] | None:
    """The first date in the window as (start, end, date); a bare weekday needs ``reference``."""
    matches = [m for form in _DATE_FORMS if (m := form.search(window))]
    weekday = _WEEKDAY_FIRST.search(window)
    if matches:
        match = min(matches, key=lambda m: m.start())
        if weekday is None or match.start() <= weekday.end() + 3:
            found = _resolve(match, reference)
            return (match.start(), match.end(), found) if found else None
    if weekday is not None and reference is not None:
        ahead = (_WEEKDAYS[weekday.group("wd").lower()] - reference.weekday()) % 7 or 7
        found = date.fromordinal(reference.toordinal() + ahead)
        return weekday.start("wd"), weekday.end(), found
    return None


def _resolve(match: re.Match[str], reference: date | None) -> date | None:
    groups = match.groupdict()
    year = int(groups["y"]) if groups.get("y") else None
    if year is not None and year < 100:
        year += 2000
    if groups.get("a"):  # a/b/y: day-first or month-first, decided by plausibility only
        a, b = int(groups["a"]), int(groups["b"])
        readings = {_make(year, b, a), _make(year, a, b)} - {None}
        if reference is not None:
            readings = {d for d in readings if d and 0 <= (d - reference).days <= 120}
        return readings.pop() if len(readings) == 1 else None
    month = _MONTHS[groups["mon"].lower()] if groups.get("mon") else int(groups["m"])
    day = int(groups["d"])
    if year is None:
        if reference is None:
            return None
        found = _make(reference.year, month, day)
        if found is not None and (reference - found).days > 14:  # "back 5 January" in December
            found = _make(reference.year + 1, month, day)
    else:
        found = _make(year, month, day)
    if found is None or reference is None:
        return found
    return found if -1 <= (found - reference).days <= 366 else None


def _make(year: int | None, month: int, day: int) -> date | None:
    try:
        return date(year, month, day) if year is not None else None
    except ValueError:
        return None
