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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTH_NAMES: dict[str, int] = {}
for _number, _names in enumerate(
    (
        # en de fr es | it pt | nl sv da no | pl (nominative, genitive, locative)
        "january jan januar jänner janvier janv enero | gennaio janeiro | januari"
        " | styczeń styczen stycznia styczniu",
        "february feb februar février fevrier febrero | febbraio fevereiro | februari"
        " | luty lutego lutym",
        "march märz maerz mars marzo | março | maart marts | marzec marca marcu",
        "april apr avril abril | aprile | kwiecień kwiecien kwietnia kwietniu",
        "may mai mayo | maggio maio | mei maj | maja maju",
        "june juni juin junio | giugno junho | czerwiec czerwca czerwcu",
        "july juli juillet julio | luglio julho | lipiec lipca lipcu",
        "august aug août aout agosto | augustus augusti | sierpień sierpien sierpnia sierpniu",
        "september sept septembre septiembre setiembre | settembre setembro"
        " | wrzesień wrzesien września wrzesnia wrześniu wrzesniu",
        "october oct oktober octobre octubre | ottobre outubro | październik pazdziernik"
        " października pazdziernika październiku pazdzierniku",
        "november nov novembre noviembre | novembro | listopad listopada listopadzie",
        "december dec dezember décembre decembre diciembre | dicembre dezembro | desember"
        " | grudzień grudzien grudnia grudniu",
    ),
    start=1,
):
    MONTH_NAMES.update(dict.fromkeys(_names.replace("|", " ").split(), _number))
# Finnish months are one stem with a case ending: "maaliskuussa" (in March), "maaliskuun jälkeen".
_FI_MONTHS = ("tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka",
              "marras", "joulu")
# Japanese and Chinese months are numbered: 3月, 三月, 十二月 (三月份 in Chinese).
_CJK_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
               "九": 9, "十": 10, "十一": 11, "十二": 12}

_NUMBERS = {
    "one": 1, "a": 1, "an": 1, "two": 2, "couple of": 2, "a couple of": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "eight": 8, "twelve": 12,
    "einem": 1, "einen": 1, "ein": 1, "eine": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5,
    "sechs": 6, "acht": 8, "zwölf": 12,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "huit": 8,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "ocho": 8,
    "due": 2, "tre": 3, "quattro": 4, "sei": 6, "otto": 8, "um": 1, "uma": 1, "dois": 2,
    "duas": 2, "três": 3, "quatro": 4, "een": 1, "één": 1, "twee": 2, "drie": 3,
    "zes": 6, "ett": 1, "en": 1, "et": 1, "två": 2, "to": 2, "fyra": 4, "fire": 4,
    "sex": 6, "seks": 6, "jeden": 1, "jedna": 1, "dwa": 2, "dwie": 2, "trzy": 3, "cztery": 4,
    "pięć": 5, "sześć": 6, "kaksi": 2, "kolme": 3, "neljä": 4, "kuusi": 6,
    "kahden": 2, "kolmen": 3, "neljän": 4, "kuuden": 6,
}
_ORDINAL_QUARTER = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "ersten": 1, "zweiten": 2, "dritten": 3,
    "vierten": 4, "premier": 1, "deuxième": 2, "troisième": 3, "quatrième": 4, "primer": 1,
    "segundo": 2, "tercer": 3, "cuarto": 4, "1er": 1, "2e": 2, "3e": 3, "4e": 4,
    "primo": 1, "terzo": 3, "quarto": 4, "primeiro": 1, "terceiro": 3, "eerste": 1, "tweede": 2,
    "derde": 3, "vierde": 4, "första": 1, "andra": 2, "tredje": 3, "fjärde": 4, "første": 1,
    "anden": 2, "andet": 2, "andre": 2, "fjerde": 4, "pierwszym": 1, "drugim": 2, "trzecim": 3,
    "czwartym": 4, "pierwszy": 1, "drugi": 2, "trzeci": 3, "czwarty": 4,
}

_MON = "(?P<mon>" + "|".join(sorted(MONTH_NAMES, key=len, reverse=True)) + r")(?!\w)\.?"
# Polish "na marzec" is "for March"; Dutch "na maart" is "after March".
_PL_NOMINATIVE = r"(?!\s+(?:styczeń|styczen|luty|marzec|kwiecień|kwiecien|maj|czerwiec|lipiec|sierpień|sierpien|wrzesień|wrzesien|październik|pazdziernik|listopad|grudzień|grudzien)\b)"
_AFTER = (
    r"(?P<after>after|nach|après|apres|después de|despues de|passé|dopo|depois de|depois do|depois da"
    r"|após|na" + _PL_NOMINATIVE + r"|efter|etter|po)\s+"
    r"(?:(?:the|dem|le|el|del|il|lo|la|o|a|do|da|dia|het|de|den|det|dnia)\s+)?"
)
_IN = (
    r"(?:in|by|from|around|early|mid|late|the beginning of|the end of|start of|end of|im|ab|anfang"
    r"|mitte|ende|en|dès|début|fin|courant|à partir de|a partir de|para|a principios de"
    r"|a finales de|a mediados de|hacia"
    r"|a|ad|entro|da|verso|a partire da|inizio|a inizio|all'inizio|fine|a fine|alla fine|metà|a metà"
    r"|ai primi di|nel mese di"  # it
    r"|em|no início|no inicio|no fim|no final|em meados|até"  # pt
    r"|begin|eind|half|medio|vanaf|rond|eind"  # nl
    r"|i|början av|slutet av|i början av|i slutet av|från|runt|under"  # sv
    r"|starten af|slutningen af|i starten af|i slutningen af|i begyndelsen af|fra|omkring|sidst i|først i"
    r"|midt i|starten av|slutten av|i starten av|i slutten av|i begynnelsen av|rundt|tidlig i|sent i"  # da no
    r"|w|we|od|na początku|pod koniec|w połowie|do|na"  # pl
    r")\s+(?:(?:of|de|d'|di|av|af)\s*)?"
)
_NUM = r"(?P<n>\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNITS = (r"(?:days?|weeks?|months?|years?|hours?|minutes?|tage|tagen|wochen?|monaten?|jahren?|jours?"
          r"|semaines?|mois|ans?|d[ií]as?|semanas?|meses|años?|giorni|settimane|mesi|anni|dias|anos"
          r"|dagen|weken|maanden|jaar|dagar|veckor|månader|år|dage|uger|måneder|uker|dni|tygodni|tygodnie"
          r"|miesięcy|miesiące|lat|minut|minuti|minuten|minuter)\b")
_Q = r"(?:q|t)(?P<q>[1-4])"
_QWORD = r"(?P<qo>" + "|".join(sorted(_ORDINAL_QUARTER, key=len, reverse=True)) + ")"
_QUARTER_WORD = r"(?:quarter|quartal|trimestre|kwartaal|kvartalet|kvartal|kwartale|kwartał)"
_CJK_NUM = r"(?:\d{1,2}|十[一二]|[一二两三四五六七八九十])"
_CM = r"(?<![\d０-９一二三四五六七八九十])(?P<cm>\d{1,2}|十[一二]|[一二三四五六七八九十])月(?:份)?"

_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        ("summer", r"\b(?:nach den sommerferien|nach dem sommer|after the summer(?: holidays| break| vacation)?"
         r"|after summer|à la rentrée|a la rentrée|après l'été|après les vacances d'été"
         r"|après les vacances|después del verano|después de las vacaciones(?: de verano)?"
         r"|tras el verano"
         r"|dopo l'estate|dopo le vacanze(?: estive)?|dopo le ferie(?: estive)?|al rientro dalle ferie"
         r"|depois do verão|após o verão|depois das férias de verão|após as férias de verão"
         r"|na de zomer(?:vakantie)?|na de vakantie|na het zomerreces"
         r"|efter sommaren|efter semestern|efter sommarsemestern|efter sommarledigheten"
         r"|efter sommeren|efter sommerferien|efter ferien|etter sommeren|etter sommerferien|etter ferien"
         r"|over sommeren|po wakacjach|po lecie|po urlopach|po okresie wakacyjnym"
         r"|kesän jälkeen|kesälomien jälkeen|lomien jälkeen)\b"
         r"|夏休み明け|夏季休暇明け|夏以降|夏の後|夏明け|夏が終わ(?:って|った)|暑假(?:以|之)?后|暑假過後|暑假后"
         r"|夏天(?:以|之|过)后|夏季(?:以|之)?后"),
        ("day_month", r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|er|\.|º)?\s+(?:of\s+|de\s+)?" + _MON),
        ("day_month", r"\b" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"),
        ("day_month", _CM + r"(?P<d>\d{1,2})[日号號]"),
        ("after_day", r"\b" + _AFTER + r"(?P<d>\d{1,2})(?:st|nd|rd|th|\.|er|º|e)?(?!\s*(?:\d|%|:|h\b|uhr|am\b|pm\b|" + _UNITS + "))"
         r"(?!\s*(?:of\s+|de\s+)?" + _MON + ")"),
        ("after_quarter", r"\b" + _AFTER + r"(?:" + _Q + r"|" + _QWORD + r"\s+" + _QUARTER_WORD + r")\b"),
        ("after_quarter", r"(?:q|第)(?P<q>[1-4])(?:四半期|季度)?(?:の後|のあと|以后|之后|后|後|明け|が終わ)"),
        ("after_quarter", r"第?(?P<qz>[一二三四])季度(?:以|之)?后"),
        ("quarter", r"\b(?:in|im|au|en|el|for|during|nel|no|in het|i|under|w|we|tijdens)\s+"
         r"(?:the\s+|le\s+|il\s+|o\s+|het\s+)?(?:" + _Q + r"|" + _QWORD + r"\s+" + _QUARTER_WORD + r")\b"),
        ("quarter", r"(?:q|第)(?P<q>[1-4])(?:四半期|季度)?(?:に|から|以降|中|頃|ごろ)"),
        ("quarter", r"第(?P<qz>[一二三四])季度"),
        ("next_quarter", r"\b(?:next quarter|nächsten quartal|nächstes quartal|kommenden quartal"
         r"|trimestre prochain|prochain trimestre|próximo trimestre|proximo trimestre"
         r"|trimestre que viene|prossimo trimestre|trimestre prossimo|volgend kwartaal|nästa kvartal"
         r"|næste kvartal|neste kvartal|w przyszłym kwartale|przyszły kwartał|ensi neljänneksellä)\b"
         r"|次の四半期|来四半期|下个季度|下季度|下個季度"),
        ("after_month", r"\b" + _AFTER + _MON),
        ("after_month", r"\b(?P<fim>" + "|".join(_FI_MONTHS) + r")kuun jälkeen\b"),
        ("after_month", _CM + r"(?:の後|のあと|過ぎ|以後|以后|之后|后)"),
        ("next_year_month", r"(?:来年|明年)(?:の)?" + _CM),
        ("month", r"\b" + _IN + _MON),
        ("month", r"\b(?P<fim>" + "|".join(_FI_MONTHS) + r")(?:kuussa|kuun (?:alussa|lopussa|puolivälissä)"
         r"|kuusta (?:alkaen|lähtien))\b"),
        ("month", _CM + r"(?![日号號])"),
        ("next_month", r"\b(?:next month|nächsten monat|kommenden monat|mois prochain"
         r"|próximo mes|proximo mes|mes que viene|siguiente mes|mese prossimo|prossimo mese"
         r"|próximo mês|proximo mes|mês que vem|volgende maand|komende maand|nästa månad|næste måned"
         r"|neste måned|przyszłym miesiącu|przyszły miesiąc|ensi kuussa)\b|来月|下个月|下個月|下月"),
        ("next_week", r"\b(?:next week|nächste woche|nächsten woche|kommende woche"
         r"|semaine prochaine|próxima semana|proxima semana|semana que viene|settimana prossima"
         r"|prossima settimana|semana que vem|volgende week|komende week|nästa vecka|næste uge|neste uke"
         r"|przyszłym tygodniu|przyszły tydzień|ensi viikolla)\b|来週|下周|下星期|下个星期|下礼拜|下週|下個星期"),
        ("next_year", r"\b(?:next year|nächstes jahr|nächsten jahr|kommendes jahr|année prochaine"
         r"|l'an prochain|próximo año|proximo año|año que viene|anno prossimo|prossimo anno"
         r"|próximo ano|proximo ano|ano que vem|volgend jaar|komend jaar|nästa år|næste år|neste år"
         r"|przyszłym roku|przyszły rok|ensi vuonna)\b|来年(?!度)|明年"),
        ("weeks", r"\b(?:in|dans|en|dentro de|within|tra|fra|entro|daqui a|em|over|om|za)\s+" + _NUM
         + r"\s+(?:weeks?|wochen?|semaines?|semanas?|settimane|settimana|weken|veckor|uger|uker|tygodnie"
         r"|tygodni|tydzień)\b"),
        ("weeks", r"\b" + _NUM + r" viikon (?:päästä|kuluttua)\b"),
        ("weeks", r"(?P<n>" + _CJK_NUM + r")(?:週間|个?星期|個星期|周|个礼拜)(?:後|后|以后|之后)"),
        ("months", r"\b(?:in|dans|en|dentro de|tra|fra|entro|daqui a|em|over|om|za)\s+" + _NUM
         + r"\s+(?:months?|monaten?|mois|meses|mes|mesi|mese|mês|maanden|maand|månader|måneder|miesiące"
         r"|miesięcy|miesiąc)\b"),
        ("months", r"\b" + _NUM + r" kuukauden (?:päästä|kuluttua)\b"),
        ("months", r"(?P<n>" + _CJK_NUM + r")(?:ヶ月|か月|カ月|ヵ月|个月|個月)(?:後|后|以后|之后)"),
    )
)
# Words that put a clause in the past: the mention is history, not a request. Read before the
# mention ("I was away in March", "ero via a marzo") and after it in the same clause, where
# verb-second and verb-final languages put the verb ("im März war ich", "i mars var jag
# ledig", "w marcu byłam", "3月は不在でした", "三月份我出差了").
_PAST = re.compile(
    r"\b(was|were|had|did|last|ago|went|spent|war|waren|hatte|letzten|letztes|letzte|vergangenen"
    r"|étais|était|avons eu|ai eu|dernier|dernière|passé|estuve|estaba|estuvimos|pasado|pasada"
    r"|tuvimos"
    r"|ero|era|eravamo|erano|sono stat[oaie]|siamo stat[ie]|ho avuto|abbiamo avuto|scorso|scorsa"
    r"|estive|estava|estivemos|estávamos|esteve|tivemos|passado|passada|atrás"
    r"|waren|hadden|vorige|vorig|afgelopen|geleden|geweest"
    r"|var|hade|förra|varit|havde|sidste|forrige|været|hadde|vært|i fjor"
    r"|byłem|byłam|byliśmy|byłyśmy|był|była|było|byli|miałem|miałam|mieliśmy|zeszłym|zeszłego"
    r"|zeszły|ubiegłym|ubiegłego|ubiegły|temu|poprzednim|poprzedniego"
    r"|olin|olimme|oli|olivat|viime)\b"
    r"|先月|去年|昨年|前回|上个月|上個月|当时|當時|でした|ました|だった|ていた|(?<![好算行为])了",
    re.I,
)
_CLAUSE_END = re.compile(
    r"[.;!?\n。！？、，,]|\b(but|aber|mais|pero|so|also|donc|así que|ma|mas|maar|men|ale|mutta|because"
    r"|as|since|weil|car|porque|perché|omdat|eftersom|fordi|ponieważ|bo)\b|ので|から|けど|但是|所以",
    re.I,
)


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


def _past(text: str, start: int, end: int) -> bool:
    """The clause around the mention speaks of the past ("I was away in March", "a marzo ero via")."""
    before = text[max(0, start - 120):start]  # a clause is short: never look further back
    cut = max((m.end() for m in _CLAUSE_END.finditer(before)), default=0)
    if _PAST.search(before[cut:]):
        return True
    after = text[end:end + 40]
    stop = _CLAUSE_END.search(after)
    return bool(_PAST.search(after[: stop.start()] if stop else after))


def _month_of(groups: dict[str, str | None]) -> int:
    """The month a form named: a word (any language), a Finnish stem, or a CJK number."""
    if groups.get("mon"):
        return MONTH_NAMES.get((groups["mon"] or "").lower().rstrip("."), 0)
    if groups.get("fim"):
        return _FI_MONTHS.index((groups["fim"] or "").lower()) + 1
    return _cjk_number(groups.get("cm") or "")


def _cjk_number(raw: str) -> int:
    raw = unicodedata.normalize("NFKC", raw)
    return int(raw) if raw.isdigit() else _CJK_DIGITS.get(raw, 0)


def _build(kind: str, match: re.Match[str]) -> Period | None:
    groups = match.groupdict()
    words = " ".join(match.group(0).split()).rstrip(".")
    month = _month_of(groups)
    if kind == "after_quarter" or kind == "quarter":
        if groups.get("q"):
            q = int(groups["q"] or 0)
        elif groups.get("qz"):
            q = _cjk_number(groups["qz"] or "")
        else:
            q = _ORDINAL_QUARTER.get((groups.get("qo") or "").lower(), 0)
        return Period(kind, words, quarter=q) if 1 <= q <= 4 else None
    if kind in ("weeks", "months"):
        raw = (groups.get("n") or "").lower()
        count = _cjk_number(raw) or _NUMBERS.get(raw, 0)
        return Period(kind, words, count=count) if 0 < count <= 24 else None
    if kind in ("day_month", "after_day"):
        day = int(unicodedata.normalize("NFKC", groups["d"] or "0"))
        if not 1 <= day <= 31 or (kind == "day_month" and not 1 <= month <= 12):
            return None
        return Period(kind, words, month=month, day=day)
    if kind in ("month", "after_month", "next_year_month"):
        return Period(kind, words, month=month) if 1 <= month <= 12 else None
    return Period(kind, words)


def find_periods(text: str) -> list[Period]:
    """Every future-looking period mention, in text order (past-tense clauses left out)."""
    found: list[tuple[int, int, Period]] = []
    for kind, pattern in _FORMS:
        for match in pattern.finditer(text):
            if any(s <= match.start() < e or match.start() <= s < match.end() for s, e, _ in found):
                continue  # an earlier, more specific form already read these words
            if _past(text, match.start(), match.end()):
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
        if kind == "next_year_month":  # 来年3月, 明年三月: that month of next year
            return date(today.year + 1, period.month, 1)
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
