"""What a failed send means for the touch and its mailbox: a pure decision.

The SMTP adapter's exceptions are translated at the edge (``outbound.record``) into a
``SendFailure``: where the conversation broke (``phase``), the reply code and enhanced
status when the server gave one, and whether the message data may already have been
taken. ``outcome`` turns that, with the touch's earlier attempts, into one of five
actions. Keeping it here lets the policy be tested without servers and changed in one
place (issue 16 adds provider quota codes and mailbox-level faults).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

Phase = Literal["connect", "auth", "mail", "rcpt", "data", "timeout", "compose"]


class Action(StrEnum):
    RETRY = "retry"  # not sent; the same touch (same Message-ID) goes again after a back-off
    HOLD = "hold"  # may have been delivered; only the operator can tell (``outbox resolve``)
    BOUNCE = "bounce"  # the recipient will never take mail: enrollment bounced, address suppressed
    FAIL = "fail"  # this touch will never go: enrollment failed (the operator may retry)
    PAUSE_MAILBOX = "pause mailbox"  # the mailbox is at fault: touch given back, mailbox paused


@dataclass(frozen=True)
class SendFailure:
    """One failed send, described without the adapter's types.

    ``detail`` is what the operator is shown (never a secret). ``code`` is the SMTP reply
    code (None for network failures), ``enhanced`` the RFC 3463 status (``"5.1.1"``) when
    the reply carried one.
    """

    phase: Phase
    detail: str
    code: int | None = None
    enhanced: str | None = None
    maybe_delivered: bool = False


@dataclass(frozen=True)
class Outcome:
    """The decision: what to do with the touch, why, and whether the mailbox stops this tick.

    ``stop_mailbox`` is set when the server itself is unavailable (not this recipient):
    the rest of the mailbox's batch is given back instead of failing touch after touch.
    """

    action: Action
    reason: str
    stop_mailbox: str | None = None


_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def enhanced_status(reply: str) -> str | None:
    """The RFC 3463 status at the start of an SMTP reply text, if any (``"4.7.1"``)."""
    m = _ENHANCED.match(reply)
    return m.group(1) if m else None


def outcome(failure: SendFailure, attempts: int, *, max_retries: int) -> Outcome:
    """Decide what a failed send means; ``attempts`` counts the touch's earlier retries.

    - data sent, then the connection broke: HOLD (a retry could deliver it twice);
    - refused login or sender, or no credentials: PAUSE_MAILBOX (no lead is charged);
    - the message could not be built: FAIL;
    - 5xx to RCPT: BOUNCE; 5xx after DATA: FAIL (the content is refused);
    - anything else is temporary: RETRY, until ``max_retries`` retries were spent: FAIL.
      A temporary failure outside RCPT/DATA (the server, not the recipient) also stops
      the mailbox for this tick.
    """
    detail = failure.detail
    if failure.maybe_delivered:
        return Outcome(
            Action.HOLD,
            "connection lost after the message data was sent; "
            f"the server may have accepted it ({detail})",
        )
    if failure.phase == "compose":
        return Outcome(Action.FAIL, detail)
    permanent = failure.code is not None and failure.code >= 500
    if failure.phase in ("auth", "mail") and (permanent or failure.code is None):
        return Outcome(Action.PAUSE_MAILBOX, detail)
    if permanent and failure.phase == "rcpt":
        return Outcome(Action.BOUNCE, detail)
    if permanent and failure.phase == "data":
        return Outcome(Action.FAIL, f"rejected by the server: {detail}")
    stop = None if failure.phase in ("rcpt", "data") else f"SMTP unavailable: {detail}"
    if attempts + 1 > max_retries:
        return Outcome(Action.FAIL, f"gave up after {max_retries} retries: {detail}", stop)
    return Outcome(Action.RETRY, detail, stop)


def retry_delay(attempts: int, *, base_seconds: int) -> timedelta:
    """Back-off before retry number ``attempts + 1``: base, 2x base, 4x base, ..."""
    return timedelta(seconds=base_seconds * 2**attempts)


__all__ = [
    "Action",
    "Outcome",
    "Phase",
    "SendFailure",
    "enhanced_status",
    "outcome",
    "retry_delay",
]
