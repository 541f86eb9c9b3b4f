"""The ordered rule chain and ``classify``, which runs it and assembles the Verdict.

The order of ``RULES`` is the classification policy; the package docstring says why each
group sits where it does.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from datetime import date
from email.message import EmailMessage, Message

from sequencer.classify.autoreply import (
    AutoReplyHeader,
    AutoReplySubject,
    AutoSubmittedHeader,
    ExchangeRuleReply,
    NullReturnPath,
    OutOfOfficeText,
    PrecedenceHeader,
)
from sequencer.classify.bounce import DeliveryStatusReport, PlainTextBounce, bounced_refs
from sequencer.classify.complaint import FeedbackReport, ProviderComplaint
from sequencer.classify.dates import find_return_date
from sequencer.classify.intent import intent_of
from sequencer.classify.language import detect_language
from sequencer.classify.message import (
    Inbound,
    addresses,
    date_header,
    header_index,
    message_ids,
    parse_raw,
)
from sequencer.classify.text import snippet
from sequencer.classify.unsubscribe import (
    UnsubscribeAddress,
    UnsubscribeRequest,
    UnsubscribeSubject,
)
from sequencer.classify.vendors import ProviderNotification
from sequencer.classify.verdict import Decision, Rule, Verdict


class OwnMessage(Rule):
    name = "own address"
    description = "From is one of our own addresses: a copy of our touch, never a reply."

    def check(self, mail: Inbound) -> Decision | None:
        if mail.from_addr and mail.from_addr in mail.own_addresses:
            return Decision("own", mail.from_addr)
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
        precedence = mail.precedence
        return (
            Decision("unrelated", f"precedence: {precedence}")
            if precedence in {"bulk", "list"}
            else None
        )


class HumanReply(Rule):
    name = "human reply"
    description = "Nothing machine-made or opt-out about it: a person wrote back."

    def check(self, mail: Inbound) -> Decision | None:
        return Decision("reply", "in thread" if mail.refs else "no threading headers")


RULES: tuple[Rule, ...] = (
    OwnMessage(),
    FeedbackReport(),
    ProviderNotification(),
    DeliveryStatusReport(),
    PlainTextBounce(),
    ProviderComplaint(),
    AutoSubmittedHeader(),
    AutoReplyHeader(),
    PrecedenceHeader(),
    ExchangeRuleReply(),
    NullReturnPath(),
    AutoReplySubject(),
    OutOfOfficeText(),
    UnsubscribeAddress(),
    ListMail(),
    UnsubscribeSubject(),
    UnsubscribeRequest(),
    HumanReply(),
)


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
        msg = parse_raw(bytes(msg))
    with header_index():  # the rules ask for the same headers many times: index them once
        return _classify(msg, own_addresses, unsubscribe_addresses, received, rules)


def _classify(
    msg: Message,
    own_addresses: AbstractSet[str],
    unsubscribe_addresses: AbstractSet[str],
    received: date | None,
    rules: tuple[Rule, ...],
) -> Verdict:
    mail = Inbound(msg, own_addresses, unsubscribe_addresses)
    rule, decision = _decide(mail, rules)
    thread = tuple(dict.fromkeys(mail.refs))
    returned: tuple[str, ...] = ()
    if decision.kind in ("bounce", "complaint") or decision.results:
        returned = tuple(dict.fromkeys([*decision.refs, *bounced_refs(mail)]))
    human = decision.kind in ("reply", "auto_reply", "unsubscribe")
    language = _language(mail) if human else None
    reference = received or date_header(msg)
    return Verdict(
        kind=decision.kind,
        rule=rule,
        reason=f"{rule}: {decision.detail}" if decision.detail else rule,
        severity=decision.severity,
        recipients=decision.recipients,
        refs=tuple(dict.fromkeys(returned + thread)),
        from_addr=mail.from_addr,
        from_domain=mail.from_addr.rpartition("@")[2],
        reply_to=addresses(msg, "reply-to"),
        subject=mail.subject,
        message_id=next(iter(message_ids(msg)), None),
        snippet=snippet(mail.reply_text)
        if human or decision.kind == "own"
        else snippet(mail.notice),
        return_date=(
            find_return_date(f"{mail.subject}\n{mail.reply_text}", reference)
            if decision.kind == "auto_reply"
            else None
        ),
        token=decision.token,
        results=decision.results,
        failed=tuple(r.address for r in decision.results if r.action in ("failed", "delayed")),
        returned_refs=returned,
        thread_refs=thread,
        complainant=decision.complainant,
        feedback_type=decision.feedback_type,
        language=language,
        dmarc=_dmarc(mail),
        intent=intent_of(mail, decision.kind, language),
    )


def _language(mail: Inbound) -> str | None:
    """The writer's words decide; the subject is usually ours ("Re: <our subject>"), so it
    only counts when the body is too short to tell (a responder's "Abwesenheitsnotiz")."""
    return detect_language(mail.reply_text) or detect_language(f"{mail.subject}\n{mail.reply_text}")


def _dmarc(mail: Inbound) -> str | None:
    """The receiving server's verdict: the topmost Authentication-Results, which it added;
    lower ones may have been written by the sender."""
    found = re.search(r"\bdmarc\s*=\s*([a-z]+)", mail.header("authentication-results"), re.I)
    return found.group(1).lower() if found else None


def _decide(mail: Inbound, rules: tuple[Rule, ...]) -> tuple[str, Decision]:
    """First rule that decides wins. A rule that raises on hostile mail is skipped, so one
    malformed message can never stop a poll; the next rule reads it instead."""
    for rule in rules:
        try:
            decision = rule.check(mail)
        except (Exception, RecursionError):
            continue
        if decision is not None:
            return rule.name, decision
    return HumanReply.name, Decision("reply", "no rule decided")
