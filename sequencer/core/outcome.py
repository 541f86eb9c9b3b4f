"""What a failed send means for the touch and its mailbox: a pure decision.

The SMTP adapter's exceptions are translated at the edge (``outbound.record``) into a
``SendFailure``: where the conversation broke (``phase``), the reply code and enhanced
status when the server gave one, and whether the message data may already have been
taken. ``outcome`` turns that, with the touch's earlier attempts, into one of five
actions. Keeping it here lets the policy be tested without servers and changed in one
place: a mailbox fault (TLS, DNS, refused connection, provider quota) pauses the
mailbox and never counts against a lead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

Phase = Literal["connect", "auth", "mail", "rcpt", "data", "timeout", "compose"]
# What kind of network fault broke a connection (classified at the edge from the error).
Network = Literal["tls", "dns", "refused", "timeout", "other"]


class Action(StrEnum):
    RETRY = "retry"  # not sent; the same touch (same Message-ID) goes again after a back-off
    HOLD = "hold"  # may have been delivered; only the operator can tell (``outbox resolve``)
    BOUNCE = "bounce"  # the recipient will never take mail: enrollment bounced, address suppressed
    FAIL = "fail"  # this touch will never go: enrollment failed (the operator may retry)
    PAUSE_MAILBOX = "pause mailbox"  # the mailbox is at fault: touch given back, mailbox paused


class PauseKind(StrEnum):
    """Why a mailbox is paused, which decides how it resumes."""

    AUTH = "auth"  # refused login/sender, unreadable secret: the operator fixes and unpauses
    UNREACHABLE = "unreachable"  # TLS, DNS, refused, server down: retried with a back-off
    QUOTA = "quota"  # provider quota or reputation block: resumes when the window resets
    # Bounce or complaint rate over ``config.deliverability``: the operator looks at the
    # list and resumes (``outbox unpause``); set by the guard, never by a send failure.
    DELIVERABILITY = "deliverability"


@dataclass(frozen=True)
class SendFailure:
    """One failed send, described without the adapter's types.

    ``detail`` is what the operator is shown (never a secret). ``code`` is the SMTP reply
    code (None for network failures), ``enhanced`` the RFC 3463 status (``"5.1.1"``) when
    the reply carried one; ``network`` what kind of network fault it was, when it was one.
    """

    phase: Phase
    detail: str
    code: int | None = None
    enhanced: str | None = None
    maybe_delivered: bool = False
    network: Network | None = None


@dataclass(frozen=True)
class Outcome:
    """The decision: what to do with the touch, why, and whether the mailbox stops this tick.

    ``stop_mailbox`` is set when the server itself is unavailable (not this recipient):
    the rest of the mailbox's batch is given back instead of failing touch after touch.
    For PAUSE_MAILBOX, ``pause_kind`` says how it resumes and ``pause_for`` how long the
    provider's window is (None: the mailbox back-off, or the operator for AUTH).
    """

    action: Action
    reason: str
    stop_mailbox: str | None = None
    pause_kind: PauseKind | None = None
    pause_for: timedelta | None = None


@dataclass(frozen=True)
class ProviderCode:
    """A provider's quota/reputation reply: never the lead's fault, the mailbox waits."""

    code: int
    enhanced: str
    marker: str | None  # text that must appear in the reply (None: any text)
    provider: str
    meaning: str
    window: timedelta


HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
# Checked in order (the more specific Yahoo 421 4.7.0 [TSS04] before Gmail's 421 4.7.0).
PROVIDER_CODES: tuple[ProviderCode, ...] = (
    ProviderCode(421, "4.7.0", "[TSS04]", "Yahoo", "deferred for poor reputation or volume", HOUR),
    ProviderCode(421, "4.7.0", None, "Gmail", "rate limited (unusual traffic)", HOUR),
    ProviderCode(550, "5.4.5", None, "Gmail", "daily sending limit exceeded", DAY),
    ProviderCode(452, "4.5.3", None, "Gmail", "too many recipients (rate limit)", HOUR),
    ProviderCode(554, "5.2.0", None, "Microsoft 365", "submission quota exceeded", DAY),
    ProviderCode(554, "5.2.121", None, "Microsoft 365", "recipient rate limit exceeded", DAY),
    ProviderCode(550, "5.2.121", None, "Microsoft 365", "recipient rate limit exceeded", DAY),
    ProviderCode(
        550, "5.7.708", None, "Microsoft 365", "sending IP banned (traffic not accepted)", DAY
    ),
    ProviderCode(550, "5.7.511", None, "Microsoft 365", "account banned for sending", DAY),
)

_NETWORK_WORDS: dict[Network, str] = {
    "tls": "TLS certificate not trusted",
    "dns": "DNS lookup failed",
    "refused": "connection refused",
    "timeout": "connection timed out",
    "other": "server unreachable",
}

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def enhanced_status(reply: str) -> str | None:
    """The RFC 3463 status at the start of an SMTP reply text, if any (``"4.7.1"``)."""
    m = _ENHANCED.match(reply)
    return m.group(1) if m else None


def provider_code(failure: SendFailure) -> ProviderCode | None:
    """The provider quota/reputation code this reply is, if it is one."""
    if failure.code is None or failure.enhanced is None:
        return None
    for known in PROVIDER_CODES:
        if (known.code, known.enhanced) != (failure.code, failure.enhanced):
            continue
        if known.marker is None or known.marker.lower() in failure.detail.lower():
            return known
    return None


def outcome(failure: SendFailure, attempts: int, *, max_retries: int) -> Outcome:
    """Decide what a failed send means; ``attempts`` counts the touch's earlier retries.

    - data sent, then the connection broke: HOLD (a retry could deliver it twice);
    - a provider quota/reputation code (``PROVIDER_CODES``), in any phase: PAUSE_MAILBOX
      until the provider's window resets (never a bounce, nothing charged to the lead);
    - refused login or sender, or no credentials: PAUSE_MAILBOX (AUTH: the operator);
    - the server cannot be reached or refuses service (TLS, DNS, refused, timeout, 4xx
      before RCPT): PAUSE_MAILBOX (UNREACHABLE: retried with the mailbox back-off);
    - the message could not be built: FAIL;
    - 5xx to RCPT: BOUNCE; 5xx after DATA: FAIL (the content is refused);
    - a 4xx for this recipient or message: RETRY, until ``max_retries`` were spent: FAIL.
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
    known = provider_code(failure)
    if known is not None:
        hours = int(known.window.total_seconds() // 3600)
        reason = f"{known.provider} {known.meaning}, paused {hours} h: {detail}"
        return Outcome(
            Action.PAUSE_MAILBOX, reason, reason, pause_kind=PauseKind.QUOTA, pause_for=known.window
        )
    permanent = failure.code is not None and failure.code >= 500
    if failure.phase in ("auth", "mail") and (permanent or failure.code is None):
        return Outcome(Action.PAUSE_MAILBOX, detail, detail, pause_kind=PauseKind.AUTH)
    if failure.phase not in ("rcpt", "data"):
        words = _NETWORK_WORDS[failure.network or "other"]
        reason = f"SMTP unreachable ({words}): {detail}"
        return Outcome(Action.PAUSE_MAILBOX, reason, reason, pause_kind=PauseKind.UNREACHABLE)
    if permanent and failure.phase == "rcpt":
        return Outcome(Action.BOUNCE, detail)
    if permanent and failure.phase == "data":
        return Outcome(Action.FAIL, f"rejected by the server: {detail}")
    if attempts + 1 > max_retries:
        return Outcome(Action.FAIL, f"gave up after {max_retries} retries: {detail}")
    return Outcome(Action.RETRY, detail)


def mailbox_backoff(failures: int, *, base_seconds: int = 60, cap_seconds: int = 3600) -> timedelta:
    """How long an unreachable mailbox waits before the next try: 1, 2, 4 ... 60 minutes.

    ``failures`` counts the consecutive failed tries before this one.
    """
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** min(failures, 16)))


def retry_delay(attempts: int, *, base_seconds: int) -> timedelta:
    """Back-off before retry number ``attempts + 1``: base, 2x base, 4x base, ..."""
    return timedelta(seconds=base_seconds * 2**attempts)


__all__ = [
    "PROVIDER_CODES",
    "Action",
    "PauseKind",
    "ProviderCode",
    "mailbox_backoff",
    "provider_code",
    "Outcome",
    "Phase",
    "SendFailure",
    "enhanced_status",
    "outcome",
    "retry_delay",
]
