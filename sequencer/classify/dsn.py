"""RFC 3464 delivery status notifications, read per recipient.

A report names each recipient with an Action (failed, delayed, delivered, relayed, expanded),
a Status (RFC 3463) and often a Diagnostic-Code with the remote server's words. Only
``failed`` and ``delayed`` lines are failures; a report made only of success lines stops
nothing. RFC 6533's message/global-delivery-status is read the same way.
"""

from __future__ import annotations

import re
from email.message import Message

from sequencer.classify.message import Parts, first, parse_headers, part_text
from sequencer.classify.status import cause_of
from sequencer.classify.verdict import RecipientResult

REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ADDRESS = re.compile(r"[^\s<>()\"',;:\[\]]+@[^\s<>()\"',;:\[\]]+")
_ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


def report_parts(parts: Parts) -> list[Message]:
    return [p for ctype, p in parts if ctype in REPORT_TYPES]


def recipient_results(parts: Parts) -> list[RecipientResult]:
    """Every recipient line of every delivery-status part, in order, one per address."""
    results: dict[str, RecipientResult] = {}
    for report in report_parts(parts):
        for block in _blocks(report):
            result = _result(block)
            if result is not None and result.address not in results:
                results[result.address] = result
    return list(results.values())


def _blocks(report: Message) -> list[Message]:
    payload = report.get_payload()
    if isinstance(payload, list) and payload and all(isinstance(b, Message) for b in payload):
        return list(payload)
    # Some MTAs encode the report (base64, quoted-printable), so it arrives as one text.
    text = part_text(report) if not isinstance(payload, list) else ""
    text = text.replace("\r\n", "\n")
    return [parse_headers(b.strip("\n") + "\n") for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


def _address(block: Message) -> tuple[str, str]:
    """Original-Recipient is what we sent to; Final-Recipient may be after alias rewriting."""
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        value = first(block, name).split(";", 1)[-1]
        found = _ADDRESS.search(value)
        if found:
            return found.group(0).strip(".").lower(), name
    return "", ""


def _result(block: Message) -> RecipientResult | None:
    address, field = _address(block)
    if not address:
        return None
    action_text = first(block, "action").strip().lower()
    action = next((a for a in _ACTIONS if action_text.startswith(a)), "")
    if not action and action_text.startswith("error"):
        action = "failed"  # pre-standard reports
    status = first(block, "status").split()[0] if first(block, "status").split() else ""
    diagnostic = first(block, "diagnostic-code").split(";", 1)[-1].strip()
    remote = first(block, "remote-mta").split(";", 1)[-1].strip()
    if not action:
        # No Action: the Status decides (2.x.x delivered, 4.x.x delayed, 5.x.x failed).
        action = {"2": "delivered", "4": "delayed", "5": "failed"}.get(status[:1], "")
        if not action:
            return None
    if action not in ("failed", "delayed"):
        return RecipientResult(
            address, action, status, diagnostic, None, "", remote, f"Action: {action}"
        )
    cause = cause_of(status, diagnostic, transient=action == "delayed")
    category = "delayed" if action == "delayed" else cause.category
    return RecipientResult(
        address,
        action,
        status or cause.status,
        diagnostic,
        cause.severity,
        category,
        remote,
        f"Action: {action}, Status: {status or '-'} ({field})",
    )
