"""Bounces: RFC 3464 delivery status reports and the plain-text notices MTAs still send.

Severity drives what the poller does to a prospect: hard (the address will never take mail)
suppresses for ever, soft (full mailbox, greylisting, policy or spam block, a delay, a queue
that expired on 4xx answers) does not. A delay is a soft notice, never hard. A report made
only of delivered/relayed/expanded lines is a success report and stops nothing.

A bounce without recipient lines is still a bounce: calling it a reply would stop the
sequence and inflate the reply rate, so any bounce evidence (a daemon sender, a failure
subject, X-Failed-Recipients, MTA wording under a null Return-Path) wins over the
auto-reply and reply rules that follow.
"""

from __future__ import annotations

import re
from dataclasses import replace

from flufl.bounce import all_failures

from sequencer.classify.dsn import recipient_results, report_parts
from sequencer.classify.message import Inbound, addresses, message_ids, msgids, thread_refs
from sequencer.classify.plaintext import (
    BOUNCE_PHRASES,
    candidates,
    is_delay_notice,
    results_from_text,
)
from sequencer.classify.status import cause_of
from sequencer.classify.verdict import Decision, RecipientResult, Rule, Severity

_DAEMON_LOCALS = {
    "mailer-daemon",
    "mailerdaemon",
    "mail-daemon",
    "postmaster",
    "mdaemon",
    "mailer",
    "mail.delivery.system",
    "bounce",
    "bounces",
    "nobody",
}
_DAEMON_NAMES = re.compile(
    r"^(mail delivery (system|subsystem|service)|mail administrator|mailer[- ]daemon|postmaster"
    r"|microsoft outlook|mail delivery|delivery status notification|mail system|e-?mail system)",
    re.I,
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returning message|delivery status notification"
    r"|delivery (failure|failed|has failed|problem|delayed|notification|report)"
    r"|mail delivery fail|failure notice|not? (be )?delivered|n['\u2019]t (be )?delivered|^ndn:|unable to deliver|delivery report|delayed mail|warning: message .* delayed"
    r"|warning: could not send|mail system error|nondeliverable|non-delivery|could not send"
    r"|message (you sent )?(blocked|rejected|not delivered)|delivery status|permanent error"
    r"|nicht zustellbar|unzustellbar|zustellung|non remis|non distribu|[ée]chec de (la )?remise"
    r"|no se (ha )?podido entregar|no entregado|non recapitabile|mancato recapito"
    r"|no se puede entregar|n[ãa]o [ée] poss[ií]vel entregar|kan inte levereras|kan ikke leveres"
    r"|ei voi toimittaa|nie mo[żz]na dostarczy[ćc]|配信不能|无法送达|無法傳遞|無法送達"
    r"|onbestelbaar|niet bezorgd|não entregue|n[aã]o foi poss[ií]vel entregar|kunde inte levereras"
    r"|ej levererat|kunne ikke leveres|ikke levert|ei voitu toimittaa|niedoręczon|nie dostarczono"
    r"|配信エラー|配送エラー|送信エラー|届きませんでした|エラーメール|退信|无法投递|投递失败|系统退信",
    re.I,
)
_INLINE_REF = re.compile(
    r"(?im)^[ \t>]*(?:original[- ])?(message-id|in-reply-to|references|x-original-message-id)"
    r"[ \t]*[:=][ \t]*(.*(?:\n[ \t]+<.*)*)"
)
_FORWARD_OR_REPLY = re.compile(r"^\s*(re|fwd?|aw|wg|tr|rv|sv|vs|r|i|enc|doorst|antw)\s*:", re.I)
_EXCHANGE_NDR = ("x-ms-exchange-message-is-ndr", "x-ms-exchange-crosstenant-originalarrivaltime")


class DeliveryStatusReport(Rule):
    name = "delivery status report"
    description = (
        "RFC 3464 message/delivery-status: each recipient's Action and Status (RFC 3463) decide; "
        "failed -> bounce, delayed -> soft bounce, delivered/relayed/expanded only -> unrelated."
    )

    def check(self, mail: Inbound) -> Decision | None:
        if not report_parts(mail.parts):
            return None
        results = [_with_notice_words(r, mail.notice) for r in recipient_results(mail.parts)]
        failures = [r for r in results if r.action in ("failed", "delayed")]
        if failures:
            return _bounce(results)
        if results:
            lines = ", ".join(f"{r.address} {r.action}" for r in results[:5])
            return Decision("unrelated", f"success report ({lines})", results=tuple(results))
        return None  # an empty report: let the plain-text rule read the words


class PlainTextBounce(Rule):
    name = "plain-text bounce"
    description = (
        "A bounce without recipient lines (qmail, Exim, Sendmail, Exchange/Office 365, Domino, "
        "Yahoo, Gmail, Japanese carriers): X-Failed-Recipients, a daemon sender or failure "
        "subject, or MTA wording under a null Return-Path; the notice's words name the failed "
        "addresses and their causes."
    )

    def check(self, mail: Inbound) -> Decision | None:
        evidence = bounce_evidence(mail)
        if evidence is None:
            return None
        x_failed = addresses(mail.msg, "x-failed-recipients")
        notice = mail.notice
        delayed = is_delay_notice(mail.subject, notice)
        found = candidates(notice, _not_recipients(mail))
        returned_to = addresses(mail.original, "to", "cc") if mail.original is not None else ()
        anchored = [a for a, _, strong in found if strong]
        loose = [a for a, _, strong in found if not strong]
        if x_failed:
            chosen, field = list(x_failed), "X-Failed-Recipients"
        elif anchored:
            chosen, field = anchored, "the notice's wording"
        elif returned_to and set(loose) & set(returned_to):
            chosen, field = [a for a in loose if a in returned_to], "the notice, as addressed"
        else:
            temporary, permanent = _flufl_failures(mail)
            if temporary or permanent:
                results = [
                    *results_from_text(notice, permanent, delayed=delayed, field="flufl.bounce"),
                    *results_from_text(notice, temporary, delayed=True, field="flufl.bounce"),
                ]
                return _bounce(results, evidence)
            if returned_to:
                chosen, field = list(returned_to), "the returned message's To"
            else:
                chosen, field = loose[:3], "an address in the notice"
        results = results_from_text(notice, chosen, delayed=delayed, field=field)
        if not results:
            severity: Severity = "soft" if delayed else _notice_severity(notice)
            return Decision("bounce", f"{evidence}; recipient unknown", severity)
        return _bounce(results, evidence)


def _with_notice_words(result: RecipientResult, notice: str) -> RecipientResult:
    """A report without Diagnostic-Code (OpenSMTPD, some appliances) often says why in its
    text part, on the recipient's line: read the cause from there."""
    if result.diagnostic or result.action not in ("failed", "delayed"):
        return result
    at = notice.lower().find(result.address)
    if at < 0:
        return result
    lines = notice[at + len(result.address) : at + 2000].split("\n")
    kept = [lines[0]]
    for line in lines[1:]:  # the recipient's line and its indented continuation lines
        if not line.strip() or line[:1] not in (" ", "\t"):
            break
        kept.append(line)
    words = " ".join(" ".join(kept).split())
    cause = cause_of(result.status, words, transient=result.action == "delayed")
    category = "delayed" if result.action == "delayed" else cause.category
    return replace(result, diagnostic=words[:500], severity=cause.severity, category=category)


def bounce_evidence(mail: Inbound) -> str | None:
    """Why this looks like a bounce (header, sender, subject, wording), or None."""
    if mail.has("x-failed-recipients"):
        return "X-Failed-Recipients header"
    for name in _EXCHANGE_NDR[:1]:
        if mail.header(name).strip().lower() in ("true", "yes", "1"):
            return f"{name} header"
    ctype = mail.header("content-type").lower()
    if "report-type=delivery-status" in ctype.replace('"', "").replace(" ", ""):
        return "multipart/report; report-type=delivery-status"
    subject = mail.subject
    reply_like = bool(_FORWARD_OR_REPLY.match(subject))
    subject_match = None if reply_like else BOUNCE_SUBJECT.search(subject)
    phrase = BOUNCE_PHRASES.search(mail.notice[:20000])
    daemon = is_daemon(mail.from_addr, mail.from_display)
    if daemon and not (subject_match or phrase):
        phrase = re.search(
            r"\b[45]\.\d{1,3}\.\d{1,3}\b|^[ \t]*[45]\d\d[ -]", mail.notice[:20000], re.M
        )
    if daemon and (subject_match or phrase):
        return f"sender {mail.from_addr or mail.from_display}" + (
            f", subject {subject_match.group(0)!r}"
            if subject_match
            else f", wording {phrase.group(0)!r}"  # type: ignore[union-attr]
        )
    machine = mail.null_return_path or mail.header("auto-submitted").lower().startswith("auto")
    if subject_match and (phrase or machine):
        return f"subject {subject_match.group(0)!r}"
    if machine and phrase and (mail.original is not None or subject_match):
        return f"null sender, wording {phrase.group(0)!r}"
    return None


def is_daemon(address: str, display: str) -> bool:
    local = address.split("@", 1)[0]
    return (
        local in _DAEMON_LOCALS
        or local.startswith(("microsoftexchange", "mailer-daemon", "postmaster"))
        or bool(_DAEMON_NAMES.match(display.strip()))
    )


def bounced_refs(mail: Inbound) -> list[str]:
    """Message-IDs of the returned message, its own first: that is the touch that bounced.

    Read from the attached or pasted original, and from Message-ID lines in the notice
    (some NDRs quote only "Message-ID: <...>"), so the trust rule can match them.
    """
    found: list[str] = []
    original = mail.original
    if original is not None:
        found += message_ids(original) + thread_refs(original)
    by_name: dict[str, list[str]] = {"id": [], "in-reply-to": [], "references": []}
    for match in _INLINE_REF.finditer(mail.all_text[:200_000]):
        name = match.group(1).lower()
        by_name[name if name in by_name else "id"] += msgids([match.group(2)])
    found += by_name["id"] + by_name["in-reply-to"] + by_name["references"][::-1]
    return list(dict.fromkeys(found))


def _not_recipients(mail: Inbound) -> set[str]:
    """Addresses a notice names that are not the failed recipient: us, the daemon, the sender."""
    ours = set(mail.own_addresses) | {mail.from_addr}
    ours |= set(addresses(mail.msg, "to", "cc", "delivered-to", "x-original-to", "reply-to"))
    if mail.original is not None:
        ours |= set(addresses(mail.original, "from", "sender", "return-path", "reply-to"))
    return {a for a in ours if a}


def _bounce(results: list[RecipientResult], evidence: str = "") -> Decision:
    """Hard when any recipient failed hard; ``recipients`` names those at that severity."""
    failures = [r for r in results if r.severity is not None]
    severity: Severity = "hard" if any(r.severity == "hard" for r in failures) else "soft"
    chosen = tuple(r.address for r in failures if r.severity == severity)
    first = next(r for r in failures if r.severity == severity)
    why = f"{first.field}; {first.category or '-'} for {first.address}"
    if first.status:
        why += f" ({first.status})"
    if len(failures) > 1:
        why += f"; {len(failures)} recipients"
    detail = f"{evidence}; {why}" if evidence else why
    return Decision("bounce", detail, severity, chosen, results=tuple(results))


def _notice_severity(notice: str) -> Severity:
    return cause_of("", " ".join(notice.split())[:3000]).severity


def _flufl_failures(mail: Inbound) -> tuple[list[str], list[str]]:
    """flufl.bounce's (temporary, permanent) addresses; its heuristics may raise on odd mail."""
    try:
        temporary, permanent = all_failures(mail.msg)
    except Exception:
        return [], []
    excluded = _not_recipients(mail)

    def norm(found: frozenset[bytes]) -> list[str]:
        decoded = {a.decode("ascii", "replace").strip().strip("<>").lower() for a in found}
        return sorted(a for a in decoded if "@" in a and a not in excluded)

    return norm(temporary), norm(permanent)
