"""The vocabulary of classification: what a rule finds (Decision) and what a caller gets (Verdict).

Kept apart from the rules so that callers (the poller, the CLI) and every rule module share
one definition without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sequencer.classify.message import Inbound

Kind = Literal["reply", "auto_reply", "bounce", "unsubscribe", "unrelated", "own"]
Severity = Literal["hard", "soft"]


@dataclass(frozen=True)
class Verdict:
    """What one inbound message is, and everything the poller needs to attribute and act on it.

    ``refs`` are Message-IDs in ``<local@domain>`` form, most specific first: for a bounce the
    embedded original's Message-ID comes first (it is the touch that bounced).
    ``recipients`` (bounces only) are the addresses that failed at ``severity``, lowercased.
    ``return_date`` (auto-replies only) is the first day the sender says they are back.
    ``token`` is set when the message was addressed to an ``unsubscribe+TOKEN@`` address.
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


@dataclass(frozen=True)
class Decision:
    """A rule's finding; ``classify`` adds the facts every verdict carries."""

    kind: Kind
    detail: str
    severity: Severity | None = None
    recipients: tuple[str, ...] = ()
    token: str | None = None


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
    if verdict.kind in ("own", "unrelated"):
        return []
    return list(dict.fromkeys(a for a in (verdict.from_addr, *verdict.reply_to) if a))
