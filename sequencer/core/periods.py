"""A "come back later" period in a person's words -> the day to come back.

"Try me in March", "nach den Sommerferien", "après le T1", "el mes que viene": the
re-engagement sequence starts on the day this module gives, so it prefers no date to a
guessed one. The convention is the **first business day of the period** the person named:

- a month ("in March", "im Februar", "en janvier", "en abril") -> its first business day;
  a month already past this year (or the current one) means next year's; "after March" /
  "nach März" / "après mars" / "después de marzo" -> the month after it.
- a quarter: "in Q3" -> the first business day of Q3; "after Q1" -> of Q2; "next quarter".
- "next month", "next week" (its Monday, or the next business day), "next year" (January).
- "after the 15th" -> the 16th of this month (next month's when the 15th is past).
- "in 3 weeks", "in zwei Monaten", "dans 2 mois", "dentro de 3 semanas" -> that far ahead.
- a day and month ("on 15 March", "am 3. April", "le 12 mai", "el 5 de abril") -> that day.
- the summer holidays ("nach den Sommerferien", "after the summer", "à la rentrée",
  "después del verano") -> the first business day of September.

A mention in a clause that speaks of the past ("I was away in March", "letzten März",
"le mois dernier") is no period. Pure: ``today`` (the prospect's local date) is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTH_NAMES: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janvier janv enero",
        "february feb februar février fevrier febrero",
        "march märz maerz mars marzo",
        "april apr avril abril",
        "may mai mayo",
        "june juni juin junio",
        "july juli juillet julio",
        "august aug août aout agosto",
        "september sept septembre septiembre setiembre",
        "october oct oktober octobre octubre",
        "november nov novembre noviembre",
        "december dec dezember décembre decembre diciembre",
    ),
    start=1,
):
    MONTH_NAMES.update(dict.fromkeys(_names.split(), _number))

_NUMBERS = {
    "one": 1, "a": 1, "an": 1, "two": 2, "couple of": 2, "a couple of": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "eight": 8, "twelve": 12,
    "einem": 1, "einen": 1, "ein": 1, "eine": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5,
    "sechs": 6, "acht": 8, "zwölf": 12,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "huit": 8,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "ocho": 8,
}
_ORDINAL_QUARTER = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "ersten": 1, "zweiten": 2, "dritten": 3,
    "vierten": 4, "premier": 1, "deuxième": 2, "troisième": 3, "quatrième": 4, "primer": 1,
    "segundo": 2, "tercer": 3, "cuarto": 4, "1er": 1, "2e": 2, "3e": 3, "4e": 4,
}

_MON = "(?P<mon>" + "|".join(sorted(MONTH_NAMES, key=len, reverse=True)) + r")(?!\w)\.?"
_AFTER = r"(?P<after>after|nach|après|apres|después de|despues de|passé)\s+(?:(?:the|dem|le|el|del)\s+)?"
_IN = (
    r"(?:in|by|from|around|early|mid|late|the beginning of|the end of|start of|end of|im|ab|anfang"
    r"|mitte|ende|en|dès|début|fin|courant|à partir de|a partir de|para|a principios de"
    r"|a finales de|a mediados de|hacia)\s+(?:(?:of|de|d')\s*)?"
)
_NUM = r"(?P<n>\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNITS = r"(?:days?|weeks?|months?|years?|hours?|tage|tagen|wochen?|monaten?|jahren?|jours?|semaines?|mois|ans?|d[ií]as?|semanas?|meses|años?)\b"
_Q = r"(?:q|t)(?P<q>[1-4])"
_QWORD = r"(?P<qo>" + "|".join(_ORDINAL_QUARTER) + ")"

_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        ("summer", r"\b(?:nach den sommerferien|nach dem sommer|after the summer(?: holidays| break| vacation)?"
         r"|after summer|à la rentrée|a la rentrée|après l'été|après les vacances d'été"
         r"|après les vacances|después del verano|después de las vacaciones(?: de verano)?"
         r"|tras el verano)\b"),
        ("day_month", r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|er|\.|º)?\s+(?:of\s+|de\s+)?" + _MON),
        ("day_month", r"\b" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"),
        ("after_day", r"\b" + _AFTER + r"(?P<d>\d{1,2})(?:st|nd|rd|th|\.|er|º)?(?!\s*(?:\d|%|:|h\b|uhr|am\b|pm\b|" + _UNITS + "))"
         r"(?!\s*(?:of\s+|de\s+)?" + _MON + ")"),
        ("after_quarter", r"\b" + _AFTER + r"(?:" + _Q + r"|" + _QWORD + r"\s+(?:quarter|quartal|trimestre))\b"),
        ("quarter", r"\b(?:in|im|au|en|el|for|during)\s+(?:the\s+|le\s+)?(?:" + _Q + r"|" + _QWORD
         + r"\s+(?:quarter|quartal|trimestre))\b"),
        ("next_quarter", r"\b(?:next quarter|nächsten quartal|nächstes quartal|kommenden quartal"
         r"|trimestre prochain|prochain trimestre|próximo trimestre|proximo trimestre"
         r"|trimestre que viene)\b"),
        ("after_month", r"\b" + _AFTER + _MON),
        ("month", r"\b" + _IN + _MON),
        ("next_month", r"\b(?:next month|nächsten monat|kommenden monat|mois prochain"
         r"|próximo mes|proximo mes|mes que viene|siguiente mes)\b"),
        ("next_week", r"\b(?:next week|nächste woche|nächsten woche|kommende woche"
         r"|semaine prochaine|próxima semana|proxima semana|semana que viene)\b"),
        ("next_year", r"\b(?:next year|nächstes jahr|nächsten jahr|kommendes jahr|année prochaine"
         r"|l'an prochain|próximo año|proximo año|año que viene)\b"),
        ("weeks", r"\b(?:in|dans|en|dentro de|within)\s+" + _NUM + r"\s+(?:weeks?|wochen?|semaines?|semanas?)\b"),
        ("months", r"\b(?:in|dans|en|dentro de)\s+" + _NUM + r"\s+(?:months?|monaten?|mois|meses|mes)\b"),
    )
)
# Words that put a clause in the past: the mention is history, not a request.
_PAST = re.compile(
    r"\b(was|were|had|did|last|ago|went|spent|war|waren|hatte|letzten|letztes|letzte|vergangenen"
    r"|étais|était|avons eu|ai eu|dernier|dernière|passé|estuve|estaba|estuvimos|pasado|pasada"
    r"|tuvimos)\b",
    re.I,
)
_CLAUSE_END = re.compile(r"[.;!?\n]|\b(but|aber|mais|pero|so|also|donc|así que)\b", re.I)


@dataclass(frozen=True)
class Period:
    """A period found in text: ``kind`` (one of the forms above), its numbers, and the words."""

    kind: str
    text: str
    month: int = 0
    day: int = 0
    quarter: int = 0
    count: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "text": self.text, "month": self.month, "day": self.day,
                "quarter": self.quarter, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Period:
        def num(key: str) -> int:
            value = data.get(key)
            return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0

        return cls(str(data.get("kind") or ""), str(data.get("text") or ""), num("month"),
                   num("day"), num("quarter"), num("count"))


def _past(text: str, start: int) -> bool:
    """The clause around the mention speaks of the past ("I was away in March")."""
    before = text[max(0, start - 120):start]  # a clause is short: never look further back
    cut = max((m.end() for m in _CLAUSE_END.finditer(before)), default=0)
    return bool(_PAST.search(before[cut:]))


def _build(kind: str, match: re.Match[str]) -> Period | None:
    groups = match.groupdict()
    words = " ".join(match.group(0).split()).rstrip(".")
    month = MONTH_NAMES.get((groups.get("mon") or "").lower().rstrip("."), 0)
    if kind == "after_quarter" or kind == "quarter":
        q = int(groups["q"]) if groups.get("q") else _ORDINAL_QUARTER.get((groups.get("qo") or "").lower(), 0)
        return Period(kind, words, quarter=q) if q else None
    if kind in ("weeks", "months"):
        raw = (groups.get("n") or "").lower()
        count = int(raw) if raw.isdigit() else _NUMBERS.get(raw, 0)
        return Period(kind, words, count=count) if 0 < count <= 24 else None
    if kind in ("day_month", "after_day"):
        day = int(groups["d"])
        if not 1 <= day <= 31:
            return None
        return Period(kind, words, month=month, day=day)
    if kind in ("month", "after_month"):
        return Period(kind, words, month=month) if month else None
    return Period(kind, words)


def find_periods(text: str) -> list[Period]:
    """Every future-looking period mention, in text order (past-tense clauses left out)."""
    found: list[tuple[int, int, Period]] = []
    for kind, pattern in _FORMS:
        for match in pattern.finditer(text):
            if any(s <= match.start() < e or match.start() <= s < match.end() for s, e, _ in found):
                continue  # an earlier, more specific form already read these words
            if _past(text, match.start()):
                continue
            period = _build(kind, match)
            if period is not None:
                found.append((match.start(), match.end(), period))
    return [p for _, _, p in sorted(found, key=lambda item: item[0])]


def find_period(text: str) -> Period | None:
    """The first future-looking period in ``text``, or None (never a guess)."""
    periods = find_periods(text)
    return periods[0] if periods else None


def _weekday(day: date) -> bool:
    return day.weekday() < 5


def _first_business(day: date, is_business: Callable[[date], bool]) -> date:
    for _ in range(40):
        if is_business(day):
            return day
        day += timedelta(days=1)
    return day


def _month_start(year: int, month: int) -> date:
    year += (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


def _add_months(day: date, months: int) -> date:
    start = _month_start(day.year, day.month + months)
    last = (_month_start(start.year, start.month + 1) - timedelta(days=1)).day
    return start.replace(day=min(day.day, last))


def _upcoming_month(today: date, month: int) -> date:
    """The first of ``month`` this year, or next year's when it is not ahead of today."""
    start = date(today.year, month, 1)
    return start if start > today else date(today.year + 1, month, 1)


def period_start(period: Period, today: date) -> date | None:
    """The first day of the period, strictly after ``today``; None when it cannot be read."""
    kind = period.kind
    try:
        if kind == "month":
            return _upcoming_month(today, period.month)
        if kind == "after_month":
            return _upcoming_month(today, period.month % 12 + 1) if period.month != 12 else (
                date(today.year + 1, 1, 1))
        if kind == "quarter":
            return _upcoming_month(today, 3 * period.quarter - 2)
        if kind == "after_quarter":
            return _upcoming_month(today, 3 * period.quarter + 1) if period.quarter < 4 else (
                date(today.year + 1, 1, 1))
        if kind == "next_quarter":
            return _month_start(today.year, ((today.month - 1) // 3 + 1) * 3 + 1)
        if kind == "next_month":
            return _month_start(today.year, today.month + 1)
        if kind == "next_week":
            return today + timedelta(days=7 - today.weekday())
        if kind == "next_year":
            return date(today.year + 1, 1, 1)
        if kind == "summer":
            return _upcoming_month(today, 9)
        if kind == "weeks":
            return today + timedelta(weeks=period.count)
        if kind == "months":
            return _add_months(today, period.count)
        if kind == "after_day":
            this = date(today.year, today.month, period.day) + timedelta(days=1)  # after the Nth
            if this > today:
                return this
            following = _month_start(today.year, today.month + 1)
            return date(following.year, following.month, period.day) + timedelta(days=1)
        if kind == "day_month":
            day = date(today.year, period.month, period.day)
            return day if day > today else date(today.year + 1, period.month, period.day)
    except ValueError:  # "31 February"
        return None
    return None


def resolve(
    period: Period, today: date, is_business: Callable[[date], bool] = _weekday
) -> date | None:
    """The day to come back: the first business day on or after the period's start."""
    start = period_start(period, today)
    return _first_business(start, is_business) if start else None


def default_return(today: date, delay_days: int, is_business: Callable[[date], bool] = _weekday) -> date:
    """No period named: ``delay_days`` later (``reengage.default_delay_days``), on a business day."""
    return _first_business(today + timedelta(days=delay_days), is_business)


__all__ = ["MONTH_NAMES", "Period", "default_return", "find_period", "find_periods", "period_start", "resolve"]
