"""Bounces: RFC 3464 delivery status reports and the non-standard notices MTAs still send.

Severity drives what the poller does to a prospect: hard (permanent, 5.x.x) stops them for
good, soft (delayed, 4.x.x, a full mailbox) only pauses. When our own parsing finds no failed
recipient, flufl.bounce's vendor heuristics get a turn before we fall back to the returned
message's To.
"""

from __future__ import annotations

import re
from email.message import Message

from flufl.bounce import all_failures

from sequencer.classify.message import (
    MSGID,
    Inbound,
    addresses,
    addresses_in,
    first,
    leaves,
    message_ids,
    parse_headers,
    part_text,
    thread_refs,
)
from sequencer.classify.verdict import Decision, Rule, Severity

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
_INLINE_REF = re.compile(
    r"^[ \t]*(message-id|in-reply-to|references)[ \t]*:(.*(?:\n[ \t]+<.*)*)", re.I | re.M
)
_INLINE_TO = re.compile(r"^[ \t]*to[ \t]*:(.*)", re.I | re.M)


class DeliveryStatusReport(Rule):
    name = "delivery status report"
    description = "RFC 3464 message/delivery-status: per-recipient Action and Status decide."

    def check(self, mail: Inbound) -> Decision | None:
        reports = [p for p in leaves(mail.msg) if p.get_content_type() == "message/delivery-status"]
        if not reports:
            return None
        failures: dict[str, Severity] = {}
        statuses: list[str] = []
        for report in reports:
            for block in _dsn_blocks(report):
                recipient = _dsn_recipient(block)
                status = first(block, "status").split(" ")[0]
                severity = _failure_severity(
                    first(block, "action"), status, first(block, "diagnostic-code")
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
        x_failed = addresses(mail.msg, "x-failed-recipients")
        daemon = _is_daemon(mail.from_addr, mail.from_display)
        failure_subject = bool(_BOUNCE_SUBJECT.search(mail.subject))
        if not (x_failed or daemon or (failure_subject and mail.null_return_path)):
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


def bounced_refs(mail: Inbound) -> list[str]:
    """Message-IDs of the returned message, its own first: that is the touch that bounced."""
    original = mail.original
    if original is not None:
        return message_ids(original) + thread_refs(original)
    return _inline_original_refs(mail.text)


def _inline_original_refs(text: str) -> list[str]:
    """Message-IDs from an original pasted into a non-MIME bounce (qmail, Exim)."""
    by_name: dict[str, list[str]] = {"message-id": [], "in-reply-to": [], "references": []}
    for match in _INLINE_REF.finditer(text):
        by_name[match.group(1).lower()].extend(MSGID.findall(match.group(2)))
    return by_name["message-id"] + by_name["in-reply-to"] + by_name["references"][::-1]


def _dsn_blocks(report: Message) -> list[Message]:
    payload = report.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    # Some MTAs send the report with a transfer encoding, so it arrives as one text payload.
    text = part_text(report).replace("\r\n", "\n")
    return [parse_headers(b) for b in re.split(r"\n\s*\n", text)]


def _dsn_recipient(block: Message) -> str:
    """Original-Recipient is what we sent to; Final-Recipient may be after alias rewriting."""
    for name in ("original-recipient", "final-recipient"):
        value = first(block, name)
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
        recipients = addresses(mail.original, "to")
    else:
        match = _INLINE_TO.search(mail.text)
        if match:
            recipients = addresses_in([match.group(1)])
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
