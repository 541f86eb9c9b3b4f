"""What a human reply asks for: its intent, read from the new text only.

A chain of small named rules, like the verdict's (``rules``): the first that decides names
the intent, and the evidence (the words, their language, the period or the calendar
method) is in ``reason``. Order is the policy:

1. calendar -- a ``text/calendar`` REQUEST from the prospect, or a REPLY whose PARTSTAT is
   ACCEPTED: a meeting, whatever the text says.
2. referral -- "talk to Jane (jane@acme.example)", "ich habe Frau Müller in Kopie gesetzt":
   another person named after a cue, or an address that is not the writer's; before
   wrong_person, because "I'm not the right person, talk to Jane" is a referral.
3. wrong_person -- "not the right person", "nicht zuständig", nobody named.
4. not_now -- a deferral ("not now", "try me in March", "melden Sie sich im März wieder"),
   or a future period with a "let's talk" verb; before not_interested, because "not
   interested right now, maybe next year" is a "not now". The period (``core.periods``) is
   kept; a past-only mention ("I was away in March") is no period and no deferral.
5. not_interested, 6. meeting (asks for or proposes a time), 7. interested.

None of them: ``None`` (a reply with no readable intent). Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sequencer.classify import intent_phrases as ph
from sequencer.classify.message import Inbound, addresses, part_text
from sequencer.core.periods import MONTH_NAMES, Period, default_return, find_period, resolve

MAX_TEXT = 4000  # characters of new text read: a person's answer, never a pasted document
DEFAULT_DELAY_DAYS = 90  # reengage.default_delay_days when not configured
INTENTS = (
    "interested", "meeting", "not_now", "referral", "not_interested", "wrong_person", "unsubscribe",
)
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.U)
_TITLE = r"(?i:(?:mr|mrs|ms|dr|herrn?|frau|m|mme|mlle|sr|sra|srta|don|doña)\.?\s+)?"
_ROLE_WORD = (
    r"(?i:(?:(?:my|our|unsere[mnr]?|meine[mnr]?|mon|ma|notre|mi|nuestr[oa]|la|el|le|die|den|der)\s+)?"
    r"(?:(?:colleague|coworker|co-worker|kollegin|kollegen|kollege|collègue|colega|manager|boss"
    r"|chef|cheffe|jefe|jefa|head of [\w-]+|cfo|cto|ceo|coo|vp [\w-]+)\s+)?)"
)
_NAME = r"(?P<name>[A-ZÄÖÜÉÈÁÍÓÚÑ][\w'-]+(?:\s+[A-ZÄÖÜÉÈÁÍÓÚÑ][\w'-]+)?)"
_NOT_NAMES = {
    "i", "we", "you", "he", "she", "they", "me", "us", "him", "her", "them", "it", "this", "that",
    "thanks", "thank", "please", "sales", "purchasing", "procurement", "finance", "marketing",
    "hr", "legal", "support", "team", "sie", "ihn", "ihr", "uns", "mich", "einkauf",
    "vertrieb", "moi", "nous", "lui", "elle", "el", "ella", "usted", "ustedes", "nosotros",
    "monday", "tuesday", "wednesday", "thursday", "friday", "montag", "dienstag", "mittwoch",
    "donnerstag", "freitag", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "lunes", "martes",
    "miércoles", "jueves", "viernes", "q1", "q2", "q3", "q4", "the", "our", "my", "your",
    *MONTH_NAMES,
}


_REFER = ph.compiled(ph.REFER)
_ROLE = re.compile(ph.REFER_ROLE, re.I)
_NAMES_AFTER_CUE = re.compile(
    r"(?i:" + "|".join(ph.REFER.values()) + r")\s+(?i:to\s+|with\s+|an\s+|à\s+|a\s+|con\s+)?"
    + _ROLE_WORD + _TITLE + _NAME
)
_NAME_BEFORE_ROLE = re.compile(_ROLE_WORD + _TITLE + _NAME + r"\s+(?:\([^)]*\)\s+)?(?i:" + ph.REFER_ROLE + ")")
_NAME_AFTER_ROLE = re.compile(r"(?i:" + ph.REFER_ROLE + r")\s+(?:\w+\s+){0,3}?(?:ist\s+)?" + _TITLE + _NAME)


@dataclass(frozen=True)
class Referral:
    """A person the writer pointed us to: a name, an address, or both."""

    name: str | None
    address: str | None


@dataclass(frozen=True)
class Intent:
    """The intent of one reply and the evidence: ``rule`` decided on ``evidence`` (in ``language``)."""

    intent: str
    rule: str
    evidence: str
    language: str | None = None
    period: Period | None = None
    referrals: tuple[Referral, ...] = ()
    meeting_at: str | None = None  # ISO start of the calendar event, when one came
    calendar: str | None = None  # "REQUEST" or "REPLY ACCEPTED"
    quote: str = ""  # the writer's sentence that decided, for templates ("You asked me to ...")

    @property
    def reason(self) -> str:
        lang = f"{self.language} " if self.language else ""
        return f"{self.rule}: {lang}{self.evidence}"

    def as_dict(self) -> dict[str, object]:
        """The stored form (``inbound_messages.details["intent"]``)."""
        return {
            "intent": self.intent, "rule": self.rule, "evidence": self.evidence,
            "language": self.language, "reason": self.reason,
            "period": self.period.as_dict() if self.period else None,
            "referrals": [{"name": r.name, "address": r.address} for r in self.referrals],
            "meeting_at": self.meeting_at, "calendar": self.calendar, "quote": self.quote,
        }


@dataclass(frozen=True)
class Reading:
    """What the rules read: the new text, the writer, and our own addresses."""

    text: str
    sender: str
    own: frozenset[str]
    cc: tuple[str, ...]
    mail: Inbound | None = field(default=None, compare=False)


def sentence(text: str, words: str) -> str:
    """The sentence of ``text`` that holds ``words``: what a template may quote back."""
    flat = " ".join(text.split())
    at = flat.lower().find(words.lower()) if words else -1
    if at < 0:
        return ""
    start = max(flat.rfind(mark, 0, at) for mark in (". ", "! ", "? ", ": ")) + 1
    ends = [e for e in (flat.find(mark, at + len(words)) for mark in (".", "!", "?")) if e >= 0]
    return flat[start: min(ends) + 1 if ends else len(flat)].strip()[:300]


def _search(table: dict[str, re.Pattern[str]], text: str) -> tuple[str, str] | None:
    best: tuple[int, str, str] | None = None
    for language, pattern in table.items():
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), language, " ".join(match.group(0).split()))
    return (best[1], best[2]) if best else None


class IntentRule:
    """One named check; ``check`` returns an Intent when it decides, else None."""

    name = ""
    description = ""

    def check(self, reading: Reading) -> Intent | None:
        raise NotImplementedError


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text)


def _ical_start(ical: str) -> str | None:
    found = re.search(r"^DTSTART(?P<params>;[^:\n]*)?:(?P<v>\d{8}(T\d{6}Z?)?)", ical, re.M | re.I)
    if not found:
        return None
    value = found.group("v").upper()
    tzid = re.search(r"TZID=\"?([^;\":]+)", found.group("params") or "", re.I)
    if "T" not in value:
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    when = datetime.strptime(value[:15], "%Y%m%dT%H%M%S")
    if value.endswith("Z"):
        return when.replace(tzinfo=UTC).isoformat()
    if tzid:
        try:
            return when.replace(tzinfo=ZoneInfo(tzid.group(1).strip())).astimezone(UTC).isoformat()
        except (KeyError, ValueError):
            pass
    return when.isoformat()


class CalendarInvite(IntentRule):
    name = "calendar invitation"
    description = "A text/calendar METHOD:REQUEST from the writer, or a REPLY with PARTSTAT=ACCEPTED."

    def check(self, reading: Reading) -> Intent | None:
        if reading.mail is None:
            return None
        for ctype, part in reading.mail.parts:
            if ctype not in ("text/calendar", "application/ics"):
                continue
            ical = _unfold(part_text(part))
            method = re.search(r"^METHOD:\s*(\w+)", ical, re.M | re.I)
            verb = method.group(1).upper() if method else ""
            if verb == "REQUEST":
                how = "REQUEST"
            elif verb == "REPLY" and re.search(r"PARTSTAT=ACCEPTED", ical, re.I):
                how = "REPLY ACCEPTED"
            else:
                continue
            start = _ical_start(ical)
            summary = re.search(r"^SUMMARY[^:\n]*:(.*)$", ical, re.M | re.I)
            words = f"METHOD:{how}" + (f" {summary.group(1).strip()[:80]!r}" if summary else "")
            return Intent("meeting", self.name, words + (f" at {start}" if start else ""),
                          meeting_at=start, calendar=how)
        return None


def _referrals(reading: Reading) -> tuple[list[Referral], str] | None:
    """People named after a referral cue, with the address written next to them if any."""
    text = reading.text
    cue = _search(_REFER, text)
    role = _ROLE.search(text)
    if cue is None and role is None:
        return None
    foreign = [a.lower() for a in _EMAIL.findall(text)]
    foreign = [a for a in dict.fromkeys(foreign) if a != reading.sender and a not in reading.own]
    people: list[Referral] = []
    found = [*_NAMES_AFTER_CUE.finditer(text), *_NAME_BEFORE_ROLE.finditer(text), *_NAME_AFTER_ROLE.finditer(text)]
    for match in sorted(found, key=lambda m: m.start()):
        name = match.group("name").strip()
        first = name.split()[0]
        if first.lower() in _NOT_NAMES or not first[0].isupper():
            continue
        if len(name.split()) == 2 and name.split()[1].lower() in _NOT_NAMES:
            name = first
        after = text[match.end("name"): match.end("name") + 80]
        near = _EMAIL.search(after)
        address = near.group(0).lower() if near and near.group(0).lower() in foreign else None
        if any(p.name == name for p in people):
            continue
        people.append(Referral(name, address))
    used = {p.address for p in people}
    people += [Referral(None, a) for a in foreign if a not in used]
    if not people and cue is not None and re.search(r"\b(cc|kopie|copie|copia|looped|copied|copying)", cue[1], re.I):
        people = [Referral(None, a) for a in reading.cc if a != reading.sender and a not in reading.own]
    if not people:
        return None
    return people, (cue[1] if cue else (role.group(0) if role else ""))


class ReferralRule(IntentRule):
    name = "referral"
    description = "Another person named after a cue (talk to, wenden Sie sich an, contactez, hable con), with their address if given."

    def check(self, reading: Reading) -> Intent | None:
        found = _referrals(reading)
        if found is None:
            return None
        people, cue = found
        who = ", ".join(p.name or p.address or "" for p in people)
        language = _search(_REFER, reading.text)
        return Intent("referral", self.name, f"{cue!r} -> {who}", language[0] if language else None,
                      referrals=tuple(people), quote=sentence(reading.text, cue))


class PhraseRule(IntentRule):
    """An intent read from one table of phrases."""

    intent = ""
    table: dict[str, str] = {}

    def __init__(self) -> None:
        self.patterns = ph.compiled(self.table)

    def check(self, reading: Reading) -> Intent | None:
        hit = _search(self.patterns, reading.text)
        if not hit:
            return None
        return Intent(self.intent, self.name, repr(hit[1]), hit[0], quote=sentence(reading.text, hit[1]))


class WrongPerson(PhraseRule):
    name = "wrong person"
    description = "The writer is not the one to talk to, and names nobody."
    intent = "wrong_person"
    table = ph.WRONG_PERSON


class NotNow(IntentRule):
    name = "not now"
    description = "A deferral, or a future period with a 'talk then' verb; the period is kept if given."

    NEAR = ("next_week", "after_day")

    def __init__(self) -> None:
        self.patterns = ph.compiled(ph.DEFER)
        self.recontact = re.compile(ph.RECONTACT, re.I)

    def check(self, reading: Reading) -> Intent | None:
        period = find_period(reading.text)
        hit = _search(self.patterns, reading.text)
        if hit is None:
            near = period is None or period.kind in self.NEAR or (period.kind == "weeks" and period.count <= 2)
            verb = self.recontact.search(reading.text)
            if near or verb is None:
                return None
            hit = (None, verb.group(0))  # type: ignore[assignment]
        words = repr(hit[1]) + (f", period {period.text!r}" if period else ", no period")
        quote = sentence(reading.text, period.text if period else hit[1])
        return Intent("not_now", self.name, words, hit[0], period=period, quote=quote)


class NotInterested(PhraseRule):
    name = "not interested"
    description = "A plain no: not interested, kein Interesse, pas intéressé, no nos interesa."
    intent = "not_interested"
    table = ph.NOT_INTERESTED


class MeetingRequest(PhraseRule):
    name = "meeting request"
    description = "Asks for or proposes a time: let's meet, Termin, rendez-vous, reunión, '3pm'."
    intent = "meeting"
    table = ph.MEETING


class Interested(PhraseRule):
    name = "interested"
    description = "Positive without a time: sounds interesting, gerne mehr erfahren, ça m'intéresse."
    intent = "interested"
    table = ph.INTERESTED


INTENT_RULES: tuple[IntentRule, ...] = (
    CalendarInvite(), ReferralRule(), WrongPerson(), NotNow(), NotInterested(), MeetingRequest(),
    Interested(),
)


def read_intent(
    text: str,
    *,
    sender: str = "",
    own: frozenset[str] = frozenset(),
    cc: tuple[str, ...] = (),
    mail: Inbound | None = None,
    rules: tuple[IntentRule, ...] = INTENT_RULES,
) -> Intent | None:
    """The first rule that decides, or None. ``text`` is the reply's new text only."""
    reading = Reading(text[:MAX_TEXT].replace("\u2019", "'"), sender.lower(), own, cc, mail)
    for rule in rules:
        try:
            found = rule.check(reading)
        except (Exception, RecursionError):  # hostile text never stops a poll
            continue
        if found is not None:
            return found
    return None


def intent_of(mail: Inbound, kind: str) -> Intent | None:
    """The verdict's intent: an opt-out is ``unsubscribe``; human replies are read; else None."""
    if kind == "unsubscribe":
        return Intent("unsubscribe", "unsubscribe", "the message is an opt-out")
    if kind != "reply":
        return None
    return read_intent(
        mail.reply_text, sender=mail.from_addr, own=mail.own_addresses,
        cc=addresses(mail.msg, "cc"), mail=mail,
    )


def reengage_on(
    found: Intent | None,
    today: date,
    delay_days: int = DEFAULT_DELAY_DAYS,
    is_business: Callable[[date], bool] = lambda d: d.weekday() < 5,
) -> date | None:
    """The day a ``not_now`` comes back: its period's first business day, else the default delay.

    ``today`` is the prospect's local date; None for any other intent.
    """
    if found is None or found.intent != "not_now":
        return None
    day = resolve(found.period, today, is_business) if found.period else None
    return day or default_return(today, delay_days, is_business)


__all__ = ["DEFAULT_DELAY_DAYS", "INTENTS", "INTENT_RULES", "Intent", "IntentRule", "Referral", "intent_of", "read_intent", "reengage_on"]
