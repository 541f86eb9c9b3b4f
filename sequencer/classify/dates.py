"""An out-of-office's return date, from its own words in English, German, French, Spanish
(and the common Dutch cues).

The poller resumes a paused sequence on that day, so a wrong date is worse than none: every
rule here prefers returning None to guessing (ambiguous numbers, dates far from the message).
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janvier janv enero ene",
        "february feb februar février fevrier févr fevr febrero",
        "march mar märz maerz mär mars marzo",
        "april apr avril avr abril",
        "may mai mayo",
        "june jun juni juin junio",
        "july jul juli juillet juil julio",
        "august aug août aout agosto ago",
        "september sept sep septembre septiembre setiembre",
        "october oct oktober okt octobre octubre",
        "november nov novembre noviembre",
        "december dec dezember dez décembre decembre déc diciembre dic",
    ),
    start=1,
):
    _MONTHS.update(dict.fromkeys(_names.split(), _number))
_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "monday montag lundi lunes",
        "tuesday dienstag mardi martes",
        "wednesday mittwoch mercredi miércoles miercoles",
        "thursday donnerstag jeudi jueves",
        "friday freitag vendredi viernes",
        "saturday samstag sonnabend samedi sábado sabado",
        "sunday sonntag dimanche domingo",
    )
):
    _WEEKDAYS.update(dict.fromkeys(_names.split(), _number))

_MON = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?!\w)\.?"
_DATE_FORMS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}|\d{2})?(?!\d)"),
    re.compile(r"\b(?P<a>\d{1,2})(?P<sep>[/-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})\b"),
    re.compile(
        r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|er|\.|º)?\s+(?:of\s+|de\s+)?"
        + _MON
        + r"(?:,?\s+(?:de\s+)?(?P<y>\d{4}))?",
        re.I,
    ),
    re.compile(r"\b" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4}))?", re.I),
)
_WEEKDAY_FIRST = re.compile(
    r"^\W*(?:on\s+|am\s+|le\s+|el\s+|next\s+|this\s+|kommenden\s+|nächsten\s+)?(?P<wd>"
    + "|".join(_WEEKDAYS)
    + r")\b",
    re.I,
)
# Cues: "back" dates are the day they are back; "from" dates too, but only when a word like
# "wieder" follows the date ("ab dem 9. März wieder erreichbar", not "ab 2. März im Urlaub");
# "until" dates are the last day away, the same day unless stated as inclusive; "to" (range
# ends: "2 to 6 March", "du 2 au 6 mars") counts only when the date follows at once.
_CUES = re.compile(
    r"\b(?:(?P<back>back|return|returning|will be in the office|in the office again"
    r"|available again|reachable again|zurück|de retour|retour|rentre|rentrerai|volveré"
    r"|regreso|regresaré|de vuelta|me reincorporo|rientro|terug)"
    r"|(?P<from>ab dem|ab|à partir du|à partir de|dès le|a partir del|a partir de|vanaf|from)"
    r"|(?P<until>until|till|til|through|thru|bis|jusqu'au|jusqu'à|jusqu'a|hasta)"
    r"|(?P<to>to|au|al|tot))\b",
    re.I,
)
_BACK_MARKER = re.compile(
    r"^\W*(\w+\W+){0,3}?(wieder|zurück|erreichbar|im büro|de retour|retour|disponible|joignable"
    r"|au bureau|de vuelta|en la oficina|regres|volver|terug|aanwezig|bereikbaar|back|available"
    r"|in the office)",
    re.I,
)
_INCLUSIVE = re.compile(
    r"\b(through|thru|inclusive|einschlie(ß|ss)lich|inkl|inclus|incluido)", re.I
)
_SENTENCE_END = re.compile(r"(?<![\d\s])[!?]|(?<!\d)(?<!\b\w\w\w)\.(\s|$)")


def find_return_date(text: str, reference: date | None) -> date | None:
    """The first day an out-of-office says its sender is back, or None when unsure.

    A "back on" date is taken first; otherwise an "until/bis/jusqu'au/hasta" date, plus one
    day only when stated as inclusive ("through", "einschließlich"). Ambiguous numeric dates
    (03/04/2026) are resolved only when one reading is within 120 days after ``reference``.
    """
    text = " ".join(text.replace("\u2019", "'").split())
    back: list[date] = []
    until: list[date] = []
    for cue in _CUES.finditer(text):
        window = text[cue.end() : cue.end() + 60]
        end = _SENTENCE_END.search(window)
        window = window[: end.start()] if end else window
        hit = _date_in(window, reference)
        if hit is None:
            continue
        start, stop, found = hit
        kind = cue.lastgroup
        if kind == "from" and not _BACK_MARKER.search(window[stop:]):
            continue
        if kind == "to" and start > 1:
            continue
        if kind in ("back", "from"):
            back.append(found)
        elif _INCLUSIVE.search(cue.group(0) + window):
            until.append(date.fromordinal(found.toordinal() + 1))
        else:
            until.append(found)
    return (back or until or [None])[0]


def _date_in(window: str, reference: date | None) -> tuple[int, int, date] | None:
    """The first date in the window as (start, end, date); a bare weekday needs ``reference``."""
    matches = [m for form in _DATE_FORMS if (m := form.search(window))]
    weekday = _WEEKDAY_FIRST.search(window)
    if matches:
        match = min(matches, key=lambda m: m.start())
        if weekday is None or match.start() <= weekday.end() + 3:
            found = _resolve(match, reference)
            return (match.start(), match.end(), found) if found else None
    if weekday is not None and reference is not None:
        ahead = (_WEEKDAYS[weekday.group("wd").lower()] - reference.weekday()) % 7 or 7
        found = date.fromordinal(reference.toordinal() + ahead)
        return weekday.start("wd"), weekday.end(), found
    return None


def _resolve(match: re.Match[str], reference: date | None) -> date | None:
    groups = match.groupdict()
    year = int(groups["y"]) if groups.get("y") else None
    if year is not None and year < 100:
        year += 2000
    if groups.get("a"):  # a/b/y: day-first or month-first, decided by plausibility only
        a, b = int(groups["a"]), int(groups["b"])
        readings = {_make(year, b, a), _make(year, a, b)} - {None}
        if reference is not None:
            readings = {d for d in readings if d and 0 <= (d - reference).days <= 120}
        return readings.pop() if len(readings) == 1 else None
    month = _MONTHS[groups["mon"].lower()] if groups.get("mon") else int(groups["m"])
    day = int(groups["d"])
    if year is None:
        if reference is None:
            return None
        found = _make(reference.year, month, day)
        if found is not None and (reference - found).days > 14:  # "back 5 January" in December
            found = _make(reference.year + 1, month, day)
    else:
        found = _make(year, month, day)
    if found is None or reference is None:
        return found
    return found if -1 <= (found - reference).days <= 366 else None


def _make(year: int | None, month: int, day: int) -> date | None:
    try:
        return date(year, month, day) if year is not None else None
    except ValueError:
        return None
