"""Sending providers' notification mails: Amazon SES (directly or through an SNS email
subscription), SendGrid, Mailgun and Postmark, in the JSON shapes their documentation
publishes for bounce, complaint and delivery events.

A provider relays the receiving server's verdict in its own words (``bounceType: Permanent``,
``severity: permanent``, ``Type: HardBounce``, ``event: spamreport``); those words decide, and
the recipient is the one the provider names.
"""

from __future__ import annotations

import json
from typing import Any

from sequencer.classify.message import Inbound, msgids, part_text
from sequencer.classify.status import cause_of
from sequencer.classify.verdict import Decision, RecipientResult, Rule, Severity

_MAX_JSON = 500_000


class ProviderNotification(Rule):
    name = "provider notification"
    description = (
        "A JSON event from Amazon SES/SNS, SendGrid, Mailgun or Postmark in the body: bounce "
        "-> bounce (the provider's permanent/transient decides), complaint -> complaint, "
        "delivery -> unrelated."
    )

    def check(self, mail: Inbound) -> Decision | None:
        text = (_json_part(mail) or mail.all_text).strip()
        if not text or len(text) > _MAX_JSON or text[:1] not in "{[":
            return None
        events = _events(text)
        decisions = [d for d in (_decide(e) for e in events) if d is not None]
        if not decisions:
            return None
        for kind in ("complaint", "bounce"):
            chosen = [d for d in decisions if d.kind == kind]
            if chosen:
                return _merge(chosen)
        return decisions[0]


def _json_part(mail: Inbound) -> str:
    for ctype, part in mail.parts:
        if ctype == "application/json":
            return part_text(part)[: _MAX_JSON + 1]
    return ""


def _events(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or a nesting bomb
        return []
    found: list[dict[str, Any]] = []
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        if item.get("Type") == "Notification" and isinstance(item.get("Message"), str):
            try:  # SNS wraps the SES event as a JSON string
                inner = json.loads(item["Message"])
            except (ValueError, RecursionError):
                continue
            if isinstance(inner, dict):
                found.append(inner)
        elif isinstance(item.get("event-data"), dict):  # Mailgun webhooks
            found.append(item["event-data"])
        else:
            found.append(item)
    return found[:1000]


def _decide(event: dict[str, Any]) -> Decision | None:
    if "notificationType" in event or "eventType" in event:
        return _ses(event)
    if "RecordType" in event:
        return _postmark(event)
    if "event" in event and ("recipient" in event or "delivery-status" in event):
        return _mailgun(event)
    if "event" in event and "email" in event:
        return _sendgrid(event)
    return None


def _ses(event: dict[str, Any]) -> Decision | None:
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    refs = _header_ids(mail.get("headers")) if isinstance(mail, dict) else ()
    if kind == "Bounce" and isinstance(event.get("bounce"), dict):
        bounce = event["bounce"]
        transient = str(bounce.get("bounceType")) != "Permanent"
        results = []
        for rcpt in bounce.get("bouncedRecipients") or []:
            if isinstance(rcpt, dict) and "@" in str(rcpt.get("emailAddress", "")):
                diagnostic = str(rcpt.get("diagnosticCode") or bounce.get("bounceSubType") or "")
                results.append(
                    _result(
                        str(rcpt["emailAddress"]),
                        str(rcpt.get("status") or ""),
                        diagnostic,
                        transient,
                        "SES bounceType: " + str(bounce.get("bounceType")),
                    )
                )
        return _bounce_decision("Amazon SES", results, refs)
    if kind == "Complaint" and isinstance(event.get("complaint"), dict):
        complaint = event["complaint"]
        who = [
            str(r.get("emailAddress"))
            for r in complaint.get("complainedRecipients") or []
            if isinstance(r, dict)
        ]
        feedback = str(complaint.get("complaintFeedbackType") or "abuse")
        return _complaint("Amazon SES complaint", who, feedback, refs)
    if kind in ("Delivery", "Send", "Open", "Click"):
        return Decision("unrelated", f"Amazon SES {kind.lower()} notification", refs=refs)
    return None


def _postmark(event: dict[str, Any]) -> Decision | None:
    record = str(event.get("RecordType"))
    email = str(event.get("Email") or event.get("Recipient") or "")
    refs = (
        tuple(msgids([str(event.get("MessageID", ""))]))
        if "<" in str(event.get("MessageID", ""))
        else ()
    )
    if record == "SpamComplaint" or event.get("Type") == "SpamComplaint":
        return _complaint("Postmark SpamComplaint", [email], "abuse", refs)
    if record == "Bounce":
        kind = str(event.get("Type") or "")
        hard = kind in ("HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Unsubscribe")
        diagnostic = f"{event.get('Description') or ''} {event.get('Details') or ''}"
        return _bounce_decision(
            "Postmark",
            [_result(email, "", diagnostic, not hard, f"Postmark Type: {kind}", hard)],
            refs,
        )
    if record == "Delivery":
        return Decision("unrelated", "Postmark delivery notification", refs=refs)
    return None


def _mailgun(event: dict[str, Any]) -> Decision | None:
    name = str(event.get("event"))
    email = str(event.get("recipient") or "")
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message, dict) else None
    refs: tuple[str, ...] = ()
    if isinstance(headers, dict) and headers.get("message-id"):
        raw = str(headers["message-id"])
        refs = tuple(msgids([raw if "<" in raw else f"<{raw}>"]))
    if name in ("complained", "complaint"):
        return _complaint("Mailgun complained", [email], "abuse", refs)
    if name in ("failed", "bounced", "dropped"):
        status = (
            event.get("delivery-status") if isinstance(event.get("delivery-status"), dict) else {}
        )
        diagnostic = (
            f"{status.get('code', '')} {status.get('message') or status.get('description') or ''}"
        )
        transient = str(event.get("severity", "permanent")) == "temporary"
        return _bounce_decision(
            "Mailgun",
            [
                _result(
                    email, "", diagnostic, transient, f"Mailgun severity: {event.get('severity')}"
                )
            ],
            refs,
        )
    if name == "delivered":
        return Decision("unrelated", "Mailgun delivered event", refs=refs)
    return None


def _sendgrid(event: dict[str, Any]) -> Decision | None:
    name = str(event.get("event"))
    email = str(event.get("email") or "")
    if name == "spamreport":
        return _complaint("SendGrid spamreport", [email], "abuse", ())
    if name in ("bounce", "dropped", "deferred", "blocked"):
        transient = name == "deferred" or str(event.get("type")) == "blocked"
        diagnostic = f"{event.get('status') or ''} {event.get('reason') or ''}"
        return _bounce_decision(
            "SendGrid",
            [
                _result(
                    email,
                    str(event.get("status") or ""),
                    diagnostic,
                    transient,
                    f"SendGrid event: {name}",
                )
            ],
            (),
        )
    if name == "delivered":
        return Decision("unrelated", "SendGrid delivered event")
    return None


def _result(
    address: str,
    status: str,
    diagnostic: str,
    transient: bool,
    field: str,
    hard: bool | None = None,
) -> RecipientResult:
    cause = cause_of(status, diagnostic, transient=transient)
    severity: Severity = (
        "hard" if hard or (hard is None and not transient and cause.severity == "hard") else "soft"
    )
    if not transient and hard is None and cause.category in ("permanent", "unknown"):
        severity = "hard"  # the provider said permanent and the words say nothing else
    return RecipientResult(
        address.strip().lower(),
        "delayed" if transient and "deferr" in field.lower() else "failed",
        cause.status,
        " ".join(diagnostic.split())[:500],
        severity,
        cause.category,
        "",
        field,
    )


def _bounce_decision(
    vendor: str, results: list[RecipientResult], refs: tuple[str, ...]
) -> Decision | None:
    results = [r for r in results if "@" in r.address]
    if not results:
        return Decision("bounce", f"{vendor} bounce; recipient unknown", "hard", refs=refs)
    severity: Severity = "hard" if any(r.severity == "hard" for r in results) else "soft"
    chosen = tuple(r.address for r in results if r.severity == severity)
    first = next(r for r in results if r.severity == severity)
    detail = f"{first.field}; {first.category} for {first.address}"
    return Decision("bounce", detail, severity, chosen, results=tuple(results), refs=refs)


def _complaint(detail: str, who: list[str], feedback: str, refs: tuple[str, ...]) -> Decision:
    complainants = [w.strip().lower() for w in who if "@" in w]
    first = complainants[0] if complainants else None
    return Decision(
        "complaint",
        f"{detail} by {first or 'an unnamed recipient'}",
        recipients=tuple(complainants),
        complainant=first,
        feedback_type=feedback,
        refs=refs,
    )


def _merge(decisions: list[Decision]) -> Decision:
    if len(decisions) == 1:
        return decisions[0]
    head = decisions[0]
    recipients = tuple(dict.fromkeys(r for d in decisions for r in d.recipients))
    results = tuple(r for d in decisions for r in d.results)
    refs = tuple(dict.fromkeys(r for d in decisions for r in d.refs))
    severity = head.severity
    if head.kind == "bounce" and any(d.severity == "hard" for d in decisions):
        severity = "hard"
        recipients = tuple(r.address for r in results if r.severity == "hard")
    return Decision(
        head.kind,
        f"{head.detail} (+{len(decisions) - 1} more)",
        severity,
        recipients,
        results=results,
        complainant=head.complainant,
        feedback_type=head.feedback_type,
        refs=refs,
    )


def _header_ids(headers: object) -> tuple[str, ...]:
    """SES's mail.headers: [{"name": "Message-ID", "value": "<...>"}, ...]."""
    found: list[str] = []
    if isinstance(headers, list):
        for header in headers:
            if isinstance(header, dict) and str(header.get("name", "")).lower() in (
                "message-id",
                "in-reply-to",
                "references",
            ):
                found += msgids([str(header.get("value", ""))])
    return tuple(dict.fromkeys(found))
