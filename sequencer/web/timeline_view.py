"""The lead page's timeline: each fact once, in words.

The history (``people.timeline``) holds every record: a touch is a message and a
``sent`` event; a reply is the inbound message and the ``replied`` state change; the
rep's answer is the Sent copy, a ``manual_email`` and an ``answered`` event. A manager
reads each fact once: the message for a touch, the inbound reply (with its snippet) for
a reply, the ``answered`` event for the rep's answer. Ids stay behind a details toggle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

WORDS = {
    "enrolled": "Enrolled",
    "stage_changed": "Deal stage changed",
    "owner_notified": "Rep alerted",
    "answered": "Rep answered",
    "manual_email": "Rep emailed by hand",
    "owner_changed": "Lead reassigned",
    "reply_handled": "Reply marked handled",
    "paused": "Paused",
    "resumed": "Resumed",
    "completed": "Sequence completed",
    "stopped": "Stopped",
    "bounced": "Bounced",
    "unsubscribed": "Unsubscribed",
    "replied": "Replied",
    "failed": "Failed",
    "escalated": "Escalated to the managers",
    "complaint": "Spam complaint",
    "inbound_confirmed": "Held bounce/complaint confirmed",
    "third_party_unsubscribe": "Someone else in the thread opted out",
}


def once(entries: Iterable[Any]) -> list[Any]:
    """The entries with the duplicate records of the same fact left out (order kept)."""
    items = list(entries)
    touches = {(x.enrollment_id, x.step) for x in items if x.source == "touch"}
    replies = {(x.enrollment_id, x.at) for x in items if x.source == "inbound" and x.kind == "reply"}
    answers = {(x.enrollment_id, x.at) for x in items if x.source == "event" and x.kind == "answered"}
    complaints = {
        (x.enrollment_id, x.at) for x in items if x.source == "inbound" and x.kind == "complaint"
    }
    out = []
    for x in items:
        key = (x.enrollment_id, x.at)
        if x.source == "event" and x.kind == "sent" and (x.enrollment_id, x.step) in touches:
            continue
        if x.source == "event" and x.kind == "replied" and key in replies:
            continue
        if x.source == "event" and x.kind == "complaint" and key in complaints:
            continue
        if (x.source, x.kind) in (("event", "manual_email"), ("inbound", "sent")) and key in answers:
            continue
        out.append(x)
    return out


def words(kind: str) -> str:
    return WORDS.get(kind, kind.replace("_", " ").capitalize())


__all__ = ["WORDS", "once", "words"]
