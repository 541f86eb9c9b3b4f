"""Opt-outs: mail to our List-Unsubscribe address, a bare "unsubscribe" subject, or a short
"please remove me" reply.

An opt-out must stop every sequence for the prospect, but a reply that merely mentions
removing something must not, so the phrase rule insists on a first-person object and a
short message.
"""

from __future__ import annotations

import re

from sequencer.classify.message import Inbound, addresses
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

    PATTERN = re.compile(
        r"^\W*(unsubscribe|remove( me)?|opt[- ]?out|stop|abmelden|d[ée]sabonner|d[ée]sinscription"
        r"|baja|darme de baja|cancelar suscripci[óo]n)\W*$",
        re.I,
    )

    def check(self, mail: Inbound) -> Decision | None:
        match = self.PATTERN.match(mail.subject)
        return Decision("unsubscribe", match.group(1)) if match else None


class UnsubscribeRequest(Rule):
    name = "unsubscribe request"
    description = (
        "A short reply (under 40 words of new text) asking to be removed. Phrases need a "
        "first-person object ('remove me', 'take me off'), so 'I can't remove the old vendor' "
        "stays a reply."
    )

    MAX_WORDS = 40
    NEGATION = re.compile(r"\b(not|never|no need to)\b|n't\b", re.I)
    PATTERN = re.compile(
        r"^\W*(unsubscribe|stop|remove|opt[- ]?out|abmelden|d[ée]sabonner|baja)\W*$"
        r"|\b(?P<negatable>unsubscribe|opt (me |us )?out)\b"
        r"|\b(remove|delete|drop|exclude) (me|us)\b"
        r"|\b(remove|delete) (my|our) (e-?mail|address|name|contact|details|data)"
        r"|\b(take|get) (me|us) off\b|\b(take|get) (my|our) (e-?mail|address|name)\w* off\b"
        r"|\b(stop|quit) (e-?mailing|mailing|contacting|messaging|writing to|sending me|sending us)\b"
        r"|\b(do not|don't|dont|never) (contact|e-?mail|write to|message) (me|us)"
        r"( again| anymore| any more| in the future)?\s*([.!]|$)"
        r"|\bno longer (wish|want) to (receive|hear|be contacted)\b"
        r"|\babmelden\b|\bkeine (weiteren (e-?mails|mails|nachrichten)|(e-?mails|mails|nachrichten) mehr)\b"
        r"|\bentfernen sie mich\b|\baus (ihrem|dem) verteiler\b|\bnicht mehr (kontaktieren|anschreiben)\b"
        r"|\bd[ée]sabonne|\bd[ée]sinscri|\bretirez[- ]moi\b"
        r"|\bne (plus|pas) me (contacter|recontacter|[ée]crire)\b|\bne me (contactez|[ée]crivez) plus\b"
        r"|\bdar(me|nos)? de baja\b|\bdarse de baja\b|\bcancelar (la |mi )?suscripci[óo]n\b"
        r"|\bno me (contacten|escriban|env[íi]en)\b|\bdejen? de (enviarme|escribirme|contactarme)\b"
        r"|\beliminar(me|nos)? de (su|la|vuestra) lista\b",
        re.I,
    )

    def check(self, mail: Inbound) -> Decision | None:
        text = " ".join(mail.reply_text.split())  # strip_quoted made ’ into '
        if not text or len(text.split()) >= self.MAX_WORDS:
            return None
        for match in self.PATTERN.finditer(text):
            before = text[max(0, match.start() - 25) : match.start()]
            if match.group("negatable") and self.NEGATION.search(before):
                continue  # "I'm not going to unsubscribe", "don't unsubscribe me"
            return Decision("unsubscribe", repr(match.group(0).strip()))
        return None
