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

Phrases are per language in ``intent_phrases`` (the opt-out languages: en, de, fr, es, it, pt,
nl, sv, da, no, pl, fi, ja, zh). None of them: ``None`` (a reply with no readable intent).
Pure: no clock, no I/O.
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
# Word characters but not ideographs or kana: "他的邮箱是liu.yang@..." has the address liu.yang@...
_W = r"[^\W\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]"
_EMAIL = re.compile(r"(?:" + _W + r"|[.+'-])+@(?:" + _W + r"|-)+(?:\.(?:" + _W + r"|-)+)+", re.U)
_TITLE = (
    r"(?i:(?:mr|mrs|ms|dr|herrn?|frau|m|mme|mlle|sr|sra|srta|don|doña|sig|sig\.ra|sig\.a|dott|dott\.ssa"
    r"|ing|dhr|mevr|mevrouw|meneer|pan|pani|panem|panią|panu|hr|fru)\.?\s+)?"
)
_ROLE_WORD = (
    r"(?i:(?:(?:my|our|unsere[mnr]?|meine[mnr]?|mon|ma|notre|mi|nuestr[oa]|la|el|le|die|den|der"
    r"|il mio|la mia|mio|mia|nostro|nostra|o meu|a minha|meu|minha|nosso|nossa|mijn|onze|min|mitt|vår"
    r"|vores|mojego|moją|moim|moja|mój|naszego|naszą|naszym)\s+)?"
    r"(?:(?:colleague|coworker|co-worker|kollegin|kollegen|kollege|collègue|colega|manager|boss"
    r"|chef|cheffe|jefe|jefa|head of [\w-]+|cfo|cto|ceo|coo|vp [\w-]+"
    r"|collega|responsabile|direttore|direttrice|chefe|diretor|diretora|gerente|leidinggevende"
    r"|kollega|kollegan|kollegaen|kolleger|kolega|kolegą|kolegi|koleżanka|koleżanką|koleżanki"
    r"|kierownik|kierownikiem|kierowniczką|dyrektor|dyrektorem)\s+)?)"
)
_UPPER = "A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ"
_NAME = r"(?P<name>[" + _UPPER + r"][\w'-]+(?:\s+[" + _UPPER + r"][\w'-]+)?)"
_NOT_NAMES = {
    "i", "we", "you", "he", "she", "they", "me", "us", "him", "her", "them", "it", "this", "that",
    "thanks", "thank", "please", "sales", "purchasing", "procurement", "finance", "marketing",
    "hr", "legal", "support", "team", "sie", "ihn", "ihr", "uns", "mich", "einkauf",
    "vertrieb", "moi", "nous", "lui", "elle", "el", "ella", "usted", "ustedes", "nosotros",
    "monday", "tuesday", "wednesday", "thursday", "friday", "montag", "dienstag", "mittwoch",
    "donnerstag", "freitag", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "lunes", "martes",
    "miércoles", "jueves", "viernes", "q1", "q2", "q3", "q4", "the", "our", "my", "your",
    # it pt nl sv da no pl fi: pronouns, departments, weekdays, "please"
    "lei", "noi", "loro", "ele", "ela", "nós", "eles", "hem", "haar", "ons", "mij", "jou", "u",
    "mig", "meg", "oss", "os", "dem", "honom", "henne", "jego", "ją", "nas", "mnie", "pana", "panią",
    "acquisti", "compras", "inkoop", "inköp", "indkøb", "innkjøp", "zakupów", "dział", "hankinta",
    "ufficio", "venligst", "gerne", "gjerne", "gärna", "proszę", "per", "favore", "por", "favor",
    "quem", "det", "dette", "deve", "tym",
    "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "segunda", "terça", "quarta", "quinta",
    "sexta", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "måndag", "tisdag", "onsdag",
    "torsdag", "fredag", "mandag", "tirsdag", "poniedziałek", "wtorek", "środa", "czwartek", "piątek",
    *(set(MONTH_NAMES) - {"maja"}),  # Maja is a first name as well as Polish "of May"
}


_REFER = ph.compiled(ph.REFER)
_ROLE = re.compile(ph.REFER_ROLE, re.I)
_PLEASE = r"(?i:(?:venligst|gerne|gjerne|gärna|please|bitte|per favore|por favor|proszę)\s+)?"
_LINK = (
    r"(?i:to\s+|with\s+|an\s+|à\s+|a\s+|con\s+|al\s+|alla\s+|ao\s+|à\s+|o\s+|com\s+o\s+|com\s+a\s+"
    r"|met\s+|med\s+|ze\s+|z\s+|do\s+|till\s+|til\s+)?"
)
_NAMES_AFTER_CUE = re.compile(
    r"(?i:" + "|".join(ph.REFER.values()) + r")\s+" + _PLEASE + _LINK + _ROLE_WORD + _TITLE + _NAME
)
_NAME_BEFORE_ROLE = re.compile(_ROLE_WORD + _TITLE + _NAME + r"\s+(?:\([^)]*\)\s+)?"
                               r"(?i:(?:who|som|der|che|que|die|który|która)\s+)?(?i:" + ph.REFER_ROLE + ")")
_NAME_AFTER_ROLE = re.compile(r"(?i:" + ph.REFER_ROLE + r")\s+(?:\w+\s+){0,3}?(?:ist\s+)?" + _TITLE + _NAME)
# Japanese and Chinese names have no capitals: they are read from their place around the cue
# ("購買部の佐藤（...）にご連絡ください", "担当は佐藤です", "请联系我的同事张伟", "负责人是李娜").
_CJK = r"[\u4e00-\u9fff\u30a0-\u30ff]"
_PAREN = r"[ \t]?(?:[（(][^）)\n]{0,80}[）)])?[ \t]?"
_CJK_NAMES = (
    re.compile(r"(?P<name>" + _CJK + r"{1,6}?)(?:さん|様|氏)?" + _PAREN + r"(?:にご連絡|に連絡|宛に|宛て|にお問い合わせ)"),
    re.compile(r"担当(?:者)?は" + _PAREN + r"(?P<name>" + _CJK + r"{1,6}?)(?:さん|様|氏)?" + _PAREN
               + r"(?:です|になります|となります|でございます)"),
    re.compile(r"(?:联系|聯繫|联络|聯絡|找)(?:一下)?(?:我的|我们的|我們的|我们|我們)?(?:同事|经理|經理|负责人|負責人)?"
               r"(?P<name>[\u4e00-\u9fff]{2,3}?)(?:先生|女士|小姐|经理|經理|总|總)?(?=[（(，,。\s]|$)"),
    re.compile(r"(?P<name>" + _CJK + r"{1,6}?)(?:さん|様|氏)?(?:が担当|が対応|が窓口)"),
    re.compile(r"(?:的|由)(?P<name>[\u4e00-\u9fff]{2,3}?)(?:先生|女士|小姐)?(?:负责|負責|跟进|跟進|对接|對接)"),
    re.compile(r"(?:负责人|負責人)(?:是|为|為)(?P<name>[\u4e00-\u9fff]{2,3}?)(?:先生|女士|小姐|经理|經理)?(?=[（(，,。\s]|$)"),
)
_CJK_NOT_NAMES = {"我", "我们", "我們", "您", "他", "她", "担当", "担当者", "弊社", "当社", "下記", "以下",
                  "こちら", "同事", "我的同事"}
# "Not the right time to talk about the renewal, but yes, send the quote": a deferral followed by
# a contrast and a plain yes is no deferral.
_CONTRAST = re.compile(
    r"\b(but|however|aber|jedoch|mais|pero|sin embargo|ma|però|mas|porém|maar|men|ale|mutta)\b|でも|ですが|ませんが|が、|けど|けれど|但是|不过|不過",
    re.I,
)


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
    language: str | None = None  # detected (``classify.language``): names the evidence on a tie


def sentence(text: str, words: str) -> str:
    """The sentence of ``text`` that holds ``words``: what a template may quote back."""
    flat = " ".join(text.split())
    at = flat.lower().find(words.lower()) if words else -1
    if at < 0:
        return ""
    start = max(flat.rfind(mark, 0, at) for mark in (". ", "! ", "? ", ": ", "。", "！", "？")) + 1
    ends = [e for e in (flat.find(mark, at + len(words)) for mark in (".", "!", "?", "。", "！", "？")) if e >= 0]
    return flat[start: min(ends) + 1 if ends else len(flat)].strip()[:300]


def _search(table: dict[str, re.Pattern[str]], text: str, prefer: str | None = None) -> tuple[str, str] | None:
    """The earliest phrase of any language; on a tie ("interessant" is da, no, sv, nl and de),
    the language the reply was detected in names it."""
    best: tuple[int, bool, str, str] | None = None
    for language, pattern in table.items():
        match = pattern.search(text)
        if match is None:
            continue
        key = (match.start(), language != prefer)
        if best is None or key < best[:2]:
            best = (*key, language, " ".join(match.group(0).split()))
    return (best[2], best[3]) if best else None


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
    cue = _search(_REFER, text, reading.language)
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
    for pattern in _CJK_NAMES:
        for match in pattern.finditer(text):
            name = match.group("name")
            if name in _CJK_NOT_NAMES or name[-1] in "部组組门門司" or any(p.name == name for p in people):
                continue
            after = text[match.end("name"): match.end("name") + 80]
            near = _EMAIL.search(after)
            address = near.group(0).lower() if near and near.group(0).lower() in foreign else None
            people.append(Referral(name, address))
    used = {p.address for p in people}
    people += [Referral(None, a) for a in foreign if a not in used]
    if not people and cue is not None and re.search(r"\b(cc|kopie|copie|copia|cópia|kopia|kopii|kopi|looped|copied|copying)|抄送", cue[1], re.I):
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
        language = _search(_REFER, reading.text, reading.language)
        return Intent("referral", self.name, f"{cue!r} -> {who}", language[0] if language else None,
                      referrals=tuple(people), quote=sentence(reading.text, cue))


class PhraseRule(IntentRule):
    """An intent read from one table of phrases."""

    intent = ""
    table: dict[str, str] = {}

    def __init__(self) -> None:
        self.patterns = ph.compiled(self.table)

    def check(self, reading: Reading) -> Intent | None:
        hit = _search(self.patterns, reading.text, reading.language)
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
        self.yes = [*ph.compiled(ph.INTERESTED).values(), *ph.compiled(ph.MEETING).values()]
        self.already = re.compile(ph.ALREADY, re.I)

    def _but_yes(self, text: str, words: str) -> bool:
        """"Not the right time for X, but yes, send the quote": the deferral is overruled."""
        at = text.lower().find(words.lower())
        contrast = _CONTRAST.search(text, at + len(words)) if at >= 0 else None
        if contrast is None:
            return False
        rest = text[contrast.end():]
        return any(p.search(rest) for p in self.yes) and _search(self.patterns, rest) is None

    def check(self, reading: Reading) -> Intent | None:
        period = find_period(reading.text)
        hit = _search(self.patterns, reading.text, reading.language)
        if hit is None:
            near = period is None or period.kind in self.NEAR or (period.kind == "weeks" and period.count <= 2)
            verb = self.recontact.search(reading.text)
            if near or verb is None:
                return None
            hit = (None, verb.group(0))  # type: ignore[assignment]
        elif period is None and (self._but_yes(reading.text, hit[1]) or self.already.search(reading.text)):
            return None  # "not now for X, but yes ...", or "we already have one, not for now": no deferral
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
    language: str | None = None,
) -> Intent | None:
    """The first rule that decides, or None. ``text`` is the reply's new text only;
    ``language`` (detected) only names the evidence when phrases of two languages tie."""
    reading = Reading(text[:MAX_TEXT].replace("\u2019", "'"), sender.lower(), own, cc, mail, language)
    for rule in rules:
        try:
            found = rule.check(reading)
        except (Exception, RecursionError):  # hostile text never stops a poll
            continue
        if found is not None:
            return found
    return None


def intent_of(mail: Inbound, kind: str, language: str | None = None) -> Intent | None:
    """The verdict's intent: an opt-out is ``unsubscribe``; human replies are read; else None."""
    if kind == "unsubscribe":
        return Intent("unsubscribe", "unsubscribe", "the message is an opt-out")
    if kind != "reply":
        return None
    return read_intent(
        mail.reply_text, sender=mail.from_addr, own=mail.own_addresses,
        cc=addresses(mail.msg, "cc"), mail=mail, language=language,
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
