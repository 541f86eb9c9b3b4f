"""Why a delivery failed, and whether that is permanent for the address (hard) or not (soft).

Hard means "this address will never take mail": the poller suppresses it for ever, so only
causes that say so about the address are hard (unknown user, unknown domain, bad syntax, a
moved or closed account). Everything that can clear on its own or is about this message
rather than the address -- a full mailbox, greylisting, rate limits, a spam or policy block,
a message too large, a queue that expired on 4xx answers, a delay -- is soft.

The diagnostic text decides before the code, because providers put their real reason in
words and use 550 for nearly everything; the code decides when the words say nothing
(RFC 3463: class 4 transient, class 5 permanent; subjects from the IANA enhanced status
code registry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sequencer.classify.verdict import Severity

ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
BASIC = re.compile(r"(?<![\d.:/-])([245][0-5]\d)(?=[ -]|$)", re.M)

# category -> (severity, phrases). First match wins, so specific causes come first.
_PHRASES: tuple[tuple[str, Severity, str], ...] = (
    (
        "mailbox_full",
        "soft",
        r"mailbox (is |was )?full|mail ?box full|over ?quota|quota (exceeded|exceed|full)"
        r"|exceed(ed|s|ing)? (the |its |their |his |her |your )?(storage |mailbox |disk )?quota"
        r"|(storage|disk) (quota|space) (exceeded|full)|out of storage|insufficient (system )?storage"
        r"|mailbox size limit|mailbox (has )?exceeded|not enough (storage|space)|user.{0,20}\bfull\b"
        r"|postfach (ist )?voll|speicherplatz|bo[iî]te (aux lettres )?pleine|buz[oó]n (lleno|completo)"
        r"|casella (di posta )?piena|容量|満杯",
    ),
    (
        "greylisted",
        "soft",
        r"grey ?list|gray ?list|greylisted|try again later|temporarily (deferred|rejected)",
    ),
    (
        "rate_limited",
        "soft",
        r"too many (messages|connections|recipients|emails)|rate limit|rate-limit|throttl"
        r"|sending limit|try again in|receiving mail at a rate|exceeded .{0,20}limit",
    ),
    (
        "user_unknown",
        "hard",
        r"user (is )?unknown|unknown user|no such (user|mailbox|recipient|address|account)"
        r"|(user|mailbox|recipient|address|account)( name)? (does not|doesn't|did not) exist"
        r"|(recipient|address|user|mailbox|account) (was )?not found|recipnotfound"
        r"|unknown (recipient|mailbox|address|local[- ]part)|invalid (recipient|mailbox|user|address)"
        r"|not a valid (mailbox|recipient|user)|no mailbox (here )?by that name|mailbox unavailable"
        r"|address (couldn't|could not|cannot|can't) be found|(wasn't|was not|isn't|is not) found at"
        r"|user not listed|not listed in (domino )?directory|unrouteable address|unknown address"
        r"|no longer (active|available|valid)|account (has been |is )?(disabled|deactivated|closed"
        r"|deleted|inactive|suspended|terminated)|mailbox (is )?(disabled|inactive|not available)"
        r"|account (that )?you tried to reach (does not|doesn't) exist|account that you tried to reach is disabled|this user doesn't have|not our customer|no such person"
        r"|empf[äa]nger.{0,30}(unbekannt|existiert nicht|nicht gefunden)|unbekannter empf[äa]nger"
        r"|destinataire inconnu|utilisateur inconnu|adresse (.{0,20})?(inexistante|introuvable)"
        r"|usuario (desconocido|no existe)|destinatario (desconocido|inexistente)|utente (sconosciuto|inesistente)"
        r"|宛先不明|存在しない|アドレスが見つかりません|用户不存在|收件人不存在",
    ),
    (
        "host_unknown",
        "hard",
        r"host (or domain name )?not found|domain (name )?not found|unknown host|no such domain"
        r"|name or service not known|nxdomain|no mx|unrouteable (mail )?domain|domain does not exist"
        r"|host unknown|unknown domain|dns error|domain .{0,40}(couldn't|could not) be found",
    ),
    (
        "spam_blocked",
        "soft",
        r"\bspam\b|blacklist|blocklist|block list|black list|\brbl\b|spamhaus|barracuda|junk mail"
        r"|poor reputation|reputation|bulk mail|unsolicited",
    ),
    (
        "policy_blocked",
        "soft",
        r"\bpolicy\b|not (authorized|permitted|allowed)|access denied|rejected by|blocked|refused"
        r"|not accepting (mail|messages|e-?mail)|\bdmarc\b|\bspf\b|\bdkim\b|authentication (required|failed)|relay(ing)? (denied|not permitted)",
    ),
    ("too_big", "soft", r"(message|mail) (size|too (big|large))|size limit|exceeds .{0,30}size"),
    (
        "expired",
        "soft",
        r"retry time(out)? (not reached|exceeded)|delivery time expired|too long in (the )?queue"
        r"|message expired|expired after|queue lifetime|could not be delivered for \d|giving up"
        r"|(has been|was) delayed|not yet been delivered",
    ),
)
_COMPILED = tuple((cat, sev, re.compile(pat, re.I)) for cat, sev, pat in _PHRASES)

# RFC 3463 subject.detail -> (category, severity) where the code alone says what happened.
_CODES: dict[str, tuple[str, Severity]] = {
    "1.0": ("bad_address", "hard"),
    "1.1": ("user_unknown", "hard"),
    "1.2": ("host_unknown", "hard"),
    "1.3": ("bad_address", "hard"),
    "1.6": ("moved", "hard"),
    "1.10": ("user_unknown", "hard"),  # RFC 7505 null MX
    "2.1": ("disabled", "hard"),
    "2.2": ("mailbox_full", "soft"),
    "2.3": ("too_big", "soft"),
    "3.4": ("too_big", "soft"),
    "4.4": ("host_unknown", "hard"),
    "4.7": ("expired", "soft"),
    "7.1": ("policy_blocked", "soft"),
    "7.0": ("policy_blocked", "soft"),
}


@dataclass(frozen=True)
class Cause:
    """A failure read from an enhanced code and/or diagnostic words."""

    severity: Severity
    category: str
    status: str  # the enhanced code found, else the basic reply code, else ""


def status_code(text: str) -> str:
    """The first enhanced status code in text, else the first basic SMTP reply code."""
    enhanced = ENHANCED.search(text)
    if enhanced:
        return ".".join(enhanced.groups())
    basic = BASIC.search(text)
    return basic.group(1) if basic else ""


def phrase_category(text: str) -> tuple[str, Severity] | None:
    for category, severity, pattern in _COMPILED:
        if pattern.search(text):
            return category, severity
    return None


def cause_of(status: str, diagnostic: str, *, transient: bool = False) -> Cause:
    """The failure's cause. ``transient`` (an Action: delayed, a queue still retrying) is
    never hard, whatever the code says: the address may yet take the mail."""
    code = status or status_code(diagnostic)
    klass = code[:1]
    found = phrase_category(diagnostic)
    if found is None:
        subject = ".".join(code.split(".")[1:3]) if code.count(".") == 2 else ""
        found = _CODES.get(subject)
    if found is None:
        if klass == "4":
            found = ("temporary", "soft")
        elif klass == "5":
            found = ("permanent", "hard")
        else:
            found = ("unknown", "hard")
    category, severity = found
    # A 4xx is the server's "not now", whatever its words: the address may yet take mail.
    if transient or klass == "4":
        severity = "soft"
    return Cause(severity, category, code)
