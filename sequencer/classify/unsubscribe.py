"""Opt-outs: mail to our List-Unsubscribe address, a bare "unsubscribe" subject, or a short
"please remove me" reply.

An opt-out must stop every sequence for the prospect, but a reply that merely mentions
removing something must not, so the phrase rule insists on a first-person object and a
short message.
"""

from __future__ import annotations

import re

from sequencer.classify.message import Inbound, addresses
from sequencer.classify.phrases import OPT_OUT, UNSUBSCRIBE_WORDS, compiled
from sequencer.classify.verdict import Decision, Rule

_RECIPIENT_HEADERS = (
    "to",
    "cc",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "x-delivered-to",
)


class UnsubscribeAddress(Rule):
    name = "unsubscribe address"
    description = (
        "Sent to one of our opt-out addresses (the List-Unsubscribe mailto), with or without a "
        "+TOKEN: unsubscribe_addresses entries, unsubscribe+TOKEN@ at one of our domains, or "
        "own+unsubscribe-TOKEN@."
    )

    def check(self, mail: Inbound) -> Decision | None:
        own_domains = {a.rsplit("@", 1)[-1] for a in mail.own_addresses}
        for address in addresses(mail.msg, *_RECIPIENT_HEADERS):
            if address in mail.unsubscribe_addresses:
                return Decision("unsubscribe", address)
            local, _, domain = address.rpartition("@")
            base, plus, tag = local.partition("+")
            if not plus or not tag:
                continue
            if f"{base}@{domain}" in mail.unsubscribe_addresses or (
                base == "unsubscribe" and domain in own_domains
            ):
                return Decision("unsubscribe", address, token=tag)
            own_tag = re.fullmatch(r"unsubscribe(?:[-_.+=](.+))?", tag, re.I)
            if own_tag and f"{base}@{domain}" in mail.own_addresses:
                return Decision("unsubscribe", address, token=own_tag.group(1))
        return None


class UnsubscribeSubject(Rule):
    name = "unsubscribe subject"
    description = "A subject that is just an opt-out word (what List-Unsubscribe mailto sends)."

    PATTERN = re.compile(rf"^\W*({UNSUBSCRIBE_WORDS})\W*$", re.I)

    def check(self, mail: Inbound) -> Decision | None:
        match = self.PATTERN.match(mail.subject)
        return Decision("unsubscribe", f"Subject {match.group(1)!r}") if match else None


class UnsubscribeRequest(Rule):
    name = "unsubscribe request"
    description = (
        "A short reply (under 60 words of new text) asking to be removed, in any language of "
        "phrases.OPT_OUT. Phrases need a first-person or list object ('remove me', 'retirez-moi "
        "de votre liste'), so 'I can't remove the old vendor' stays a reply."
    )

    MAX_WORDS = 60
    NEGATION = re.compile(r"\b(not|never|no need to)\b|n't\b", re.I)
    BARE = re.compile(rf"^\W*({UNSUBSCRIBE_WORDS})\W*$", re.I)
    NEGATABLE = re.compile(r"\b(unsubscribe|opt (me |us )?out)\b", re.I)
    PATTERNS = compiled(OPT_OUT)
    # "If you no longer wish to receive...", "unsubscribe here": a signature's footer offering
    # an opt-out, not the writer asking for one.
    CONDITIONAL = re.compile(
        r"\b(if you|you can|you may|click|si vous|wenn sie|falls sie|si desea|se desideri|als u)\b",
        re.I,
    )
    OFFER = re.compile(r"^\W*(here|link|below|at any time|hier|ici|aqu[íi]|qui)\b", re.I)
    # "Unsubscribe from what?": the writer questions the word (often before asking for the
    # quote), which is a reply; "unsubscribe me from this list" is still a request.
    QUESTIONED = re.compile(r"^\s+from\s+(what|which\b[^?.!]{0,30})\s*\?", re.I)

    def _footer(self, text: str, match: re.Match[str]) -> bool:
        before = text[max(0, match.start() - 40) : match.start()]
        return bool(self.CONDITIONAL.search(before) or self.OFFER.match(text[match.end() :]))

    def check(self, mail: Inbound) -> Decision | None:
        text = " ".join(mail.reply_text.split())  # strip_quoted made ’ into '
        if not text or len(text.split()) >= self.MAX_WORDS:
            return None
        bare = self.BARE.match(text)
        if bare:
            return Decision("unsubscribe", f"the whole reply is {bare.group(1)!r}")
        for match in self.NEGATABLE.finditer(text if len(text.split()) < 40 else ""):
            before = text[max(0, match.start() - 25) : match.start()]
            if self.QUESTIONED.match(text[match.end() :]):
                continue
            if not self.NEGATION.search(before) and not self._footer(text, match):
                return Decision("unsubscribe", f"en phrase {match.group(0)!r}")
        for language, pattern in self.PATTERNS.items():
            for match in pattern.finditer(text):
                if not self._footer(text, match):
                    return Decision("unsubscribe", f"{language} phrase {match.group(0).strip()!r}")
        return None
