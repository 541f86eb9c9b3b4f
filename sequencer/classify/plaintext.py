"""Bounces without a delivery-status part: the words qmail, Exim, Sendmail, Exchange/Office 365,
Lotus Domino, Yahoo, Gmail and Japanese carriers write, read per recipient.

Each format names the failed address in a recognisable place (``<addr>:`` under qmail's
greeting, indented under Exim's "following address(es) failed", after Exchange's "Delivery
has failed to these recipients", ...). Those anchored places are read first; when none
matches, any address in the notice that is not ours, not the daemon's and not the returned
message's sender is a candidate, preferring those the returned message was addressed to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sequencer.classify.status import cause_of
from sequencer.classify.verdict import RecipientResult

ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# Phrases that say "this is a bounce" in the notice (MTA and provider wording, several
# languages). Any one, with a daemon sender or a null Return-Path, makes a bounce.
BOUNCE_PHRASES = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|wasn't delivered"
    r"|(undeliverable|undelivered) (mail|message)|delivery (has )?failed|delivery to the following"
    r"|permanent (fatal )?error|fatal errors|failed permanently|permanent failure"
    r"|following address(es)? failed|unable to deliver|not able to deliver|cannot be delivered"
    r"|this is the qmail-send program|mail delivery software|the mail system"
    r"|returned mail|message not delivered|address not found|delivery status notification"
    r"|delivery is delayed|has not yet been delivered|temporary problem delivering"
    r"|warning message only|transient non-fatal errors|could not be delivered for"
    r"|delivery has been delayed|delivery attempts will continue|will retry|still trying"
    r"|non-delivery|nicht zugestellt|unzustellbar|nicht zustellbar|n'a pas pu [êe]tre (remis|distribu)"
    r"|no se ha podido entregar|no pudo ser entregado|non [èe] stato possibile (consegnare|recapitare)"
    r"|kon niet worden bezorgd|não foi possível entregar|kunde inte levereras|kunne ikke leveres"
    r"|nie mo[żz]na dostarczy[ćc]|nie zosta[łl]a dostarczona|配信できませんでした|送信できませんでした"
    r"|届きませんでした|宛先不明|エラーメール|无法投递|退信|投递失败|無法傳遞",
    re.I,
)
DELAY_PHRASES = re.compile(
    r"delivery is delayed|has not yet been delivered|not yet been delivered|temporary problem"
    r"|warning message only|transient non-fatal|delivery attempts will continue|will (continue to )?(retry|try)"
    r"|still trying|has been delayed|delivery delayed|delayed mail|\(delay\)|delay(ed)? notification"
    r"|warning: could not send|retry(ing)? (for|until)|zustellung verz[öo]gert|verz[öo]gert"
    r"|remise diff[ée]r[ée]e|retrasad|ritardat|vertraagd|遅延",
    re.I,
)
# ...but a notice that gives up is a failure, even if it speaks of retries it made.
FINAL_PHRASES = re.compile(
    r"retry timeout exceeded|giving up|could not be delivered for|cannot send message for"
    r"|permanent (fatal )?errors?|permanent failure|failed permanently|permanently failed"
    r"|(?<!non-)fatal error|has been returned|expired|gave up"
    r"|delivery to the following recipients? failed|following address(es)? failed",
    re.I,
)

_A = r"<?(?P<addr>[^\s<>()\"',;:]+@[^\s<>()\"',;:]+\.[A-Za-z0-9-]+)>?"
# Places where a format names the failed address; the group 'addr' is the address.
_ANCHORS = tuple(
    re.compile(p, re.I | re.M)
    for p in (
        # qmail, Postfix-like and Yahoo lines: "<addr>:" at the start of a line
        r"^[ \t]*<(?P<addr>[^\s<>]+@[^\s<>]+)>:?",
        # Exim: indented address after "failed:" / "delayed" paragraphs
        r"(?:address(?:es)?\)? (?:failed|have not yet been delivered|has not yet been delivered)"
        r"|still (?:being tried|trying)|delivery to the following (?:recipients?|address(?:es)?)[^\n]*)"
        r":?[ \t]*\n(?:[ \t]*\n)*[ \t]+" + _A,
        # Sendmail: the list under "----- The following addresses had ... errors -----"
        r"following addresses had [^\n]*errors[^\n]*\n(?:[ \t]*\n)*[ \t]*" + _A,
        r"^[ \t]*\d{3}[ -][245]\.\d+\.\d+ <(?P<addr>[^\s<>]+@[^\s<>]+)>\.\.\.",
        # Exchange / Office 365
        r"(?:delivery has failed|delivery is delayed) to these recipients or (?:groups|distribution lists):"
        r"[ \t]*\n(?:[ \t]*\n)*[ \t]*(?:[^\n(<]*[(<])?" + _A,
        r"your message to " + _A + r" couldn't be delivered",
        r"(?:^|\n)[ \t]*"
        + _A
        + r"[ \t]*\n[ \t]*(?:remote server returned|the e-?mail address you entered)",
        r"(?:^|\n)[ \t]*" + _A + r"\s+(?:wasn't|was not) found at",
        r"the following recipient\(s\) (?:cannot|could not) be reached:\s*\n(?:[^\n]*\n){0,3}?[^\n]*?"
        + _A,
        # Gmail
        r"delivery to the following recipients? (?:failed permanently|has been delayed|failed)"
        r"[^\n]*:\s*\n(?:[ \t]*\n)*[ \t]*" + _A,
        r"(?:wasn't|was not|hasn't been|has not been) delivered to " + _A,
        r"temporary problem delivering your message to " + _A,
        # Lotus Domino
        r"was not delivered to:\s*\n(?:[ \t]*\n)*[ \t]*" + _A,
        # generic wording
        r"(?:could not be|couldn't be|cannot be|was not|wasn't|not) delivered to:?\s*" + _A,
        r"(?:unable to deliver|failed to deliver|delivery failed)[^\n@]{0,60}?(?:to|for)[: ]+" + _A,
        r"^[ \t]*(?:original-recipient|final-recipient|recipient(?: address)?|failed recipient|"
        r"to|destinataire|empf[äa]nger|destinatario|宛先|受信者|收件人)[ \t]*[:：][ \t]*(?:rfc822;[ \t]*)?"
        + _A,
        r"the following (?:recipients?|address(?:es)?|destinations?)[^\n:]{0,40}:[ \t]*(?:\n[ \t]*)*"
        + _A,
        r"RCPT TO:?[ \t]*<(?P<addr>[^\s<>]+@[^\s<>]+)>",
        r"^[ \t]*" + _A + r"[ \t]*\n[ \t]+\S",
    )
)
_NOT_RECIPIENT = re.compile(
    r"^(mailer-daemon|mailerdaemon|postmaster|mail-daemon|mdaemon|noreply|no-reply|bounce[s]?|abuse"
    r"|microsoftexchange[0-9a-f]*|double-bounce|root)@",
    re.I,
)


def candidates(text: str, exclude: Iterable[str]) -> list[tuple[str, int, bool]]:
    """(address, position, anchored) for each address the notice may name as failed."""
    excluded = {a.lower() for a in exclude}
    found: dict[str, tuple[int, bool]] = {}
    for pattern in _ANCHORS:
        for match in pattern.finditer(text):
            address = match.group("addr").strip(".<>[]").lower()
            if _acceptable(address, excluded) and address not in found:
                found[address] = (match.start("addr"), True)
    for match in ADDRESS.finditer(text):
        address = match.group(0).strip(".").lower()
        if _acceptable(address, excluded) and address not in found:
            # skip addresses inside URLs or Message-IDs
            before = text[max(0, match.start() - 1) : match.start()]
            after = text[match.end() : match.end() + 1]
            if before in ("/", "=", ".") or (before == "<" and _looks_like_msgid(address)):
                continue
            if after == "/":
                continue
            found[address] = (match.start(), False)
    return sorted(((a, pos, anchored) for a, (pos, anchored) in found.items()), key=lambda t: t[1])


def _looks_like_msgid(address: str) -> bool:
    local = address.split("@", 1)[0]
    return len(local) > 24 or local.count(".") > 3 or bool(re.search(r"\d{8,}", local))


def _acceptable(address: str, excluded: set[str]) -> bool:
    if "@" not in address or address in excluded or _NOT_RECIPIENT.match(address):
        return False
    domain = address.rsplit("@", 1)[1]
    return "." in domain and not domain.endswith((".png", ".jpg", ".gif")) and len(address) < 255


def results_from_text(
    notice: str, addresses: list[str], *, delayed: bool, field: str
) -> list[RecipientResult]:
    """One result per address, with the words after it (up to the next address) as its cause."""
    results: list[RecipientResult] = []
    lowered = notice.lower()
    spans = [lowered.find(a) for a in addresses]
    for index, address in enumerate(addresses):
        start = spans[index]
        later = [s for s in spans if s > start]
        end = min(later) if later else len(notice)
        diagnostic = notice[start : min(end, start + 600)] if start >= 0 else ""
        if not re.search(
            r"[245]\d\d|[245]\.\d\.\d|\b(unknown|full|quota|not found|exist)", diagnostic, re.I
        ):
            diagnostic = notice  # the reason is elsewhere (Exchange, Domino): read all of it
        cause = cause_of("", _squash(diagnostic), transient=delayed)
        results.append(
            RecipientResult(
                address,
                "delayed" if delayed else "failed",
                cause.status,
                _squash(diagnostic)[:500],
                cause.severity,
                "delayed" if delayed else cause.category,
                "",
                field,
            )
        )
    return results


def _squash(text: str) -> str:
    return " ".join(text.split())


def is_delay_notice(subject: str, notice: str) -> bool:
    words = f"{subject}\n{notice}"
    return bool(DELAY_PHRASES.search(words)) and not FINAL_PHRASES.search(words)
