"""The vocabulary of classification: what a rule finds (Decision) and what a caller gets (Verdict).

Kept apart from the rules so that callers (the poller, the CLI) and every rule module share
one definition without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sequencer.classify.intent import Intent
    from sequencer.classify.message import Inbound

Kind = Literal["reply", "auto_reply", "bounce", "complaint", "unsubscribe", "unrelated", "own"]
Severity = Literal["hard", "soft"]


@dataclass(frozen=True)
class RecipientResult:
    """One recipient's line of a delivery report (RFC 3464), or what a plain-text bounce says.

    ``action`` is failed | delayed | delivered | relayed | expanded; ``severity`` is set for
    failed and delayed only (delayed is always soft); ``category`` names the cause
    (user_unknown, mailbox_full, policy_blocked, spam_blocked, greylisted, expired, ...);
    ``field`` says where it was read (a DSN field, a header, or the notice's wording).
    """

    address: str
    action: str
    status: str = ""
    diagnostic: str = ""
    severity: Severity | None = None
    category: str = ""
    remote_mta: str = ""
    field: str = ""


@dataclass(frozen=True)
class Verdict:
    """What one inbound message is, and everything the poller needs to attribute and act on it.

    ``refs`` are Message-IDs in ``<local@domain>`` form, most specific first: for a bounce the
    embedded original's Message-ID comes first (it is the touch that bounced).
    ``recipients`` (bounces only) are the addresses that failed at ``severity``, lowercased.
    ``return_date`` (auto-replies only) is the first day the sender says they are back.
    ``token`` is set when the message was addressed to an ``unsubscribe+TOKEN@`` address.

    Evidence for the poller's trust rule (a bounce or complaint acts on a prospect only when
    it carries the Message-ID of a touch we sent to them): ``returned_refs`` are the
    Message-IDs read from the returned message (its headers, text/rfc822-headers, or its
    text pasted in the notice), ``thread_refs`` those of the message's own In-Reply-To and
    References. ``results`` are the per-recipient lines of a bounce (or a success report),
    ``failed`` every failed or delayed address whatever its severity (``recipients`` holds
    only those at the verdict's ``severity``). ``complainant`` is the address that
    complained (complaints only). ``language`` is the ISO 639-1 code of the human text, or
    None when it is too short or machine-made to tell. ``dmarc`` is the DMARC result the
    receiving server recorded (the topmost Authentication-Results: pass, fail, none, ...),
    so a stop on a failing message can be held for review.
    """

    kind: Kind
    rule: str
    reason: str
    severity: Severity | None = None
    recipients: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    from_addr: str = ""
    from_domain: str = ""
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    message_id: str | None = None
    snippet: str = ""
    return_date: date | None = None
    token: str | None = None
    results: tuple[RecipientResult, ...] = ()
    failed: tuple[str, ...] = ()
    returned_refs: tuple[str, ...] = ()
    thread_refs: tuple[str, ...] = ()
    complainant: str | None = None
    feedback_type: str | None = None
    language: str | None = None
    dmarc: str | None = None
    intent: Intent | None = None  # what a human reply asks for (``classify.intent``)

    @property
    def only_delayed(self) -> bool:
        """A delay warning (RFC 3464 ``Action: delayed``): the MTA still tries, nothing failed.

        Status X.4.7 (delivery time expired, RFC 3463) on a "delayed" line is the MTA giving
        up (OpenSMTPD reports its queue expiry that way): that one is a failure.
        """
        lines = [r for r in self.results if r.address in self.recipients]
        return bool(lines) and all(
            r.action == "delayed" and not r.status.endswith(".4.7") for r in lines
        )


@dataclass(frozen=True)
class Decision:
    """A rule's finding; ``classify`` adds the facts every verdict carries."""

    kind: Kind
    detail: str
    severity: Severity | None = None
    recipients: tuple[str, ...] = ()
    token: str | None = None
    results: tuple[RecipientResult, ...] = ()
    complainant: str | None = None
    feedback_type: str | None = None
    refs: tuple[str, ...] = ()  # Message-IDs the rule read from a vendor's notice


class Rule:
    """One named check; ``check`` returns a Decision when the rule decides, else None."""

    name: str = ""
    description: str = ""

    def check(self, mail: Inbound) -> Decision | None:
        raise NotImplementedError


def sender_candidates(verdict: Verdict) -> list[str]:
    """Addresses to try, in order, when no ref matches one of our Message-IDs.

    For a bounce these are the failed recipients (the prospects); for a reply, auto-reply or
    opt-out the sender and its Reply-To. Our own copies and unrelated mail have none.
    """
    if verdict.kind == "bounce":
        return list(verdict.recipients)
    if verdict.kind == "complaint":
        return [verdict.complainant] if verdict.complainant else []
    if verdict.kind in ("own", "unrelated"):
        return []
    return list(dict.fromkeys(a for a in (verdict.from_addr, *verdict.reply_to) if a))
