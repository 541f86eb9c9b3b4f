"""Complaints: a recipient pressed "this is spam". RFC 5965 (ARF) feedback reports, and the
provider notices that are not ARF-shaped (JMRP-style "abuse report" mails with the message
attached).

A complaint is never a reply: it stops and suppresses the complainant, and counts against
the sending mailbox's reputation. The complainant is the report's Original-Rcpt-To, else the
address the attached original was sent to (Hotmail's X-HmXmrOriginalRecipient first).
"""

from __future__ import annotations

import re
from email.message import Message

from sequencer.classify.message import (
    Inbound,
    addresses,
    addresses_in,
    first,
    parse_headers,
    part_text,
)
from sequencer.classify.verdict import Decision, Rule

_FEEDBACK_TYPES = ("message/feedback-report",)
_NOT_COMPLAINTS = ("not-spam", "auth-failure", "virus", "dkim", "spf")
_COMPLAINT_SUBJECT = re.compile(
    r"abuse report|complaint (about|regarding|notification)|spam (complaint|report)"
    r"|feedback loop|\bfbl\b|email feedback report|junk mail report|marked as spam|reported as spam",
    re.I,
)
_COMPLAINT_WORDS = re.compile(
    r"this is an (e-?mail )?abuse report|feedback[- ]report|marked (this|the|your) (message|email) as spam"
    r"|reported (this|the|your) (message|email) as (spam|junk)|spam complaint|complained about",
    re.I,
)


class FeedbackReport(Rule):
    name = "feedback report"
    description = (
        "RFC 5965 ARF: a message/feedback-report part (Feedback-Type abuse, fraud, ...); the "
        "complainant is Original-Rcpt-To or the attached original's recipient."
    )

    def check(self, mail: Inbound) -> Decision | None:
        reports = [p for ctype, p in mail.parts if ctype in _FEEDBACK_TYPES]
        ctype = mail.header("content-type").lower().replace('"', "").replace(" ", "")
        if not reports and "report-type=feedback-report" not in ctype:
            return None
        fields = _report_fields(reports[0]) if reports else None
        feedback = (
            first(fields, "feedback-type") if fields is not None else ""
        ).strip().lower() or "abuse"
        if feedback in _NOT_COMPLAINTS:
            # not-spam: the recipient rescued our mail; auth-failure (RFC 6591), virus: reports
            # about the message, not a person asking us to stop. Nothing to stop either way.
            return Decision("unrelated", f"Feedback-Type: {feedback} (no one complained)")
        rcpt = (
            addresses_in(first(fields, "original-rcpt-to").split(";")[-1:])
            if fields is not None
            else ()
        )
        where = "Original-Rcpt-To"
        if not rcpt:
            rcpt, where = _original_recipient(mail), "the reported message"
        complainant = rcpt[0] if rcpt else None
        detail = f"Feedback-Type: {feedback}; complainant {complainant or 'unknown'} ({where})"
        return Decision(
            "complaint",
            detail,
            recipients=tuple(rcpt[:1]),
            complainant=complainant,
            feedback_type=feedback,
        )


class ProviderComplaint(Rule):
    name = "provider complaint"
    description = (
        "A non-ARF complaint notice (JMRP-style abuse reports, feedback-loop mails): a complaint "
        "subject or wording from a machine sender, with the reported message attached."
    )

    def check(self, mail: Inbound) -> Decision | None:
        subject = _COMPLAINT_SUBJECT.search(mail.subject)
        words = _COMPLAINT_WORDS.search(mail.notice[:20000])
        if not (subject or words) or mail.original is None:
            return None
        if (
            not (subject and words)
            and not mail.header("auto-submitted")
            and not mail.null_return_path
        ):
            return None
        rcpt = _original_recipient(mail)
        complainant = rcpt[0] if rcpt else None
        evidence = f"subject {subject.group(0)!r}" if subject else f"wording {words.group(0)!r}"  # type: ignore[union-attr]
        return Decision(
            "complaint",
            f"{evidence}; complainant {complainant or 'unknown'} (the reported message)",
            recipients=tuple(rcpt[:1]),
            complainant=complainant,
            feedback_type="abuse",
        )


def _report_fields(report: Message) -> Message:
    """The report's fields as one header block (the parser may split them into blocks)."""
    payload = report.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        merged = Message()
        for block in payload:
            if isinstance(block, Message):
                for key, value in block.items():
                    merged[key] = value
        return merged
    return parse_headers(part_text(report).replace("\r\n", "\n"))


def _original_recipient(mail: Inbound) -> tuple[str, ...]:
    original = mail.original
    if original is None:
        return ()
    ours = set(mail.own_addresses)
    for name in ("x-hmxmroriginalrecipient", "x-original-to", "delivered-to", "to"):
        found = tuple(a for a in addresses(original, name) if a not in ours)
        if found:
            return found
    return ()
