"""Schedule math: waits, business days, holidays and send windows.

Pure and deterministic: every function takes the instant it reasons about as a
parameter and never reads the clock, so the sending engine, ``preview`` and the
tests all agree on when a touch is due. Instants cross this module's boundary
as aware datetimes and leave it in UTC; calendar reasoning ("2 business days",
"08:30 on a weekday") happens in the prospect's local time zone, because that
is where the reader sits. No jitter is added here: spacing between touches of a
mailbox is the sending engine's job, and keeping this exact makes previews true.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WaitUnit = Literal["minutes", "hours", "days", "business_days", "weeks"]

WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_FULL_NAMES: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)
BUSINESS_WEEKDAYS: frozenset[int] = frozenset(range(5))

# How far ahead next_window_open looks before giving up: a window that never
# opens (e.g. "business" days on a calendar with no business days) must fail
# loudly rather than loop forever.
_MAX_SEARCH_DAYS = 400

_UNIT_ALIASES: dict[str, WaitUnit] = {
    "minute": "minutes", "minutes": "minutes", "min": "minutes", "mins": "minutes",
    "hour": "hours", "hours": "hours", "h": "hours",
    "day": "days", "days": "days", "calendar day": "days", "calendar days": "days",
    "business day": "business_days", "business days": "business_days",
    "business_day": "business_days", "business_days": "business_days",
    "working day": "business_days", "working days": "business_days",
    "week": "weeks", "weeks": "weeks",
}
_WAIT_RE = re.compile(r"^\s*(\d+)\s*([a-z_ ]*?)\s*$")
# The longest wait a sequence may ask for: 3 years, per unit. Longer is a typo (and a
# wait of 10^20 days overflows the date arithmetic of the send path).
MAX_WAIT_YEARS = 3
MAX_WAIT: dict[WaitUnit, int] = {
    "minutes": 1096 * 24 * 60,
    "hours": 1096 * 24,
    "days": 1096,
    "business_days": 3 * 261,
    "weeks": 156,
}


@dataclass(frozen=True)
class Wait:
    """How long after the previous touch a step becomes due."""

    amount: int
    unit: WaitUnit

    def __str__(self) -> str:
        if self.amount == 0:
            return "0"
        label = self.unit.replace("_", " ")
        return f"{self.amount} {label[:-1] if self.amount == 1 else label}"


def parse_wait(text: str | int) -> Wait:
    """Parse ``0``, ``30 minutes``, ``4 hours``, ``1 day``, ``3 business days``, ``1 week``.

    Raises ValueError with a message meant for the user; the sequence loader adds file:line.
    """
    if isinstance(text, bool):
        raise ValueError(f"wait must be like '2 days' or '3 business days', not {text!r}")
    if isinstance(text, int):
        if text == 0:
            return Wait(0, "minutes")
        raise ValueError(f"wait {text} has no unit; write e.g. '{text} days' or '{text} business days'")
    if not isinstance(text, str):
        raise ValueError(f"wait must be like '2 days' or '3 business days', not {text!r}")
    m = _WAIT_RE.match(text.lower())
    if not m:
        raise ValueError(
            f"cannot read wait {text!r}; write e.g. '0', '30 minutes', '4 hours', "
            "'2 days', '3 business days' or '1 week'"
        )
    amount, unit_text = int(m.group(1)), " ".join(m.group(2).split())
    if not unit_text:
        if amount == 0:
            return Wait(0, "minutes")
        raise ValueError(f"wait {text!r} has no unit; write e.g. '{amount} days'")
    unit = _UNIT_ALIASES.get(unit_text)
    if unit is None:
        raise ValueError(
            f"unknown unit {unit_text!r} in wait {text!r}; "
            "use minutes, hours, days, business days or weeks"
        )
    if amount > MAX_WAIT[unit]:
        raise ValueError(
            f"wait {text!r} is longer than {MAX_WAIT_YEARS} years "
            f"(at most {MAX_WAIT[unit]} {unit.replace('_', ' ')})"
        )
    return Wait(amount, unit)


def parse_weekdays(value: Iterable[str]) -> frozenset[int]:
    """``["mon", "tue"]`` (or full names, any case) -> ``{0, 1}``; ValueError on unknown names."""
    days: set[int] = set()
    for name in value:
        text = str(name).strip().lower()
        key = text[:3]
        if key not in WEEKDAY_NAMES or text not in (key, WEEKDAY_FULL_NAMES[WEEKDAY_NAMES.index(key)].lower()):
            raise ValueError(f"unknown weekday {name!r}; use mon, tue, wed, thu, fri, sat, sun")
        days.add(WEEKDAY_NAMES.index(key))
    if not days:
        raise ValueError("at least one weekday is needed")
    return frozenset(days)


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdivision: str | None) -> Any:
    import holidays

    try:
        return holidays.country_holidays(country.upper(), subdiv=subdivision)
    except NotImplementedError as exc:
        raise ValueError(f"unknown holiday calendar {country!r}"
                         + (f" / {subdivision!r}" if subdivision else "") + f": {exc}") from None


@dataclass(frozen=True)
class BusinessCalendar:
    """Business weekdays plus public holidays of one country (and optionally a region).

    Holidays come from the ``holidays`` package, which computes years lazily, so a
    calendar works for any date without being told the years in advance.
    """

    weekdays: frozenset[int] = BUSINESS_WEEKDAYS
    country: str | None = None
    subdivision: str | None = None
    _holidays: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("business weekdays must be a non-empty set of 0 (Mon) .. 6 (Sun)")
        if self.subdivision and not self.country:
            raise ValueError("a holiday subdivision needs a holiday country")
        if self.country:
            object.__setattr__(self, "_holidays", _holiday_calendar(self.country, self.subdivision))

    @classmethod
    def from_names(
        cls, weekdays: Iterable[str] = WEEKDAY_NAMES[:5], country: str | None = None,
        subdivision: str | None = None,
    ) -> BusinessCalendar:
        """Build from config values: ``["mon", ...]``, ``"US"``, ``"CA"``."""
        return cls(parse_weekdays(weekdays), country or None, subdivision or None)

    def holiday_name(self, day: date) -> str | None:
        if self._holidays is None:
            return None
        return self._holidays.get(day)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and (self._holidays is None or day not in self._holidays)

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        return self.add_business_days(day, 1)

    def add_business_days(self, day: date, n: int) -> date:
        """``day`` moved forward by ``n`` business days; a weekend start counts from Monday.

        Friday + 1 = Monday; Saturday + 1 = Monday; ``n == 0`` returns ``day`` unchanged.
        """
        if n < 0:
            raise ValueError("cannot add a negative number of business days")
        current = day
        for _ in range(n):
            current += timedelta(days=1)
            for _guard in range(_MAX_SEARCH_DAYS):
                if self.is_business_day(current):
                    break
                current += timedelta(days=1)
            else:
                raise ValueError("no business day found within a year; check the calendar")
        return current


@dataclass(frozen=True)
class SendWindow:
    """Local hours during which a touch may go out, e.g. weekdays 08:30-17:00.

    ``business=True`` (YAML ``days: business``) means "the calendar's business days",
    so public holidays are skipped as well as weekends; an explicit list of days
    (``[mon, tue]``) is taken literally and holidays are not consulted.
    The window is half-open: ``start <= local time < end``.
    """

    days: frozenset[int] = BUSINESS_WEEKDAYS
    start: time = time(8, 0)
    end: time = time(18, 0)
    business: bool = True

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("send window days must be a non-empty set of 0 (Mon) .. 6 (Sun)")
        if self.start >= self.end:
            raise ValueError(
                f"send window start {self.start:%H:%M} must be before its end {self.end:%H:%M}"
            )

    @classmethod
    def always(cls) -> SendWindow:
        """Every day, all day: no window at all."""
        return cls(frozenset(range(7)), time(0, 0), time(23, 59, 59, 999999), business=False)

    @classmethod
    def parse(cls, value: Mapping[str, Any] | SendWindow) -> SendWindow:
        """Read the YAML form ``{days: business | [mon, ...], start: "08:00", end: "17:30"}``."""
        if isinstance(value, SendWindow):
            return value
        if not isinstance(value, Mapping):
            raise ValueError('send_window must be a mapping like {days: business, start: "08:00", end: "17:30"}')
        unknown = set(value) - {"days", "start", "end"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]!r} in send_window (allowed: days, start, end)")
        days_value = value.get("days", "business")
        if isinstance(days_value, list) and len(days_value) == 1 and isinstance(days_value[0], str) \
                and days_value[0].strip().lower() in ("business", "all"):
            days_value = days_value[0]  # config.py normalises "business" to ["business"]
        if isinstance(days_value, str) and days_value.strip().lower() in ("business", "weekdays"):
            days, business = BUSINESS_WEEKDAYS, days_value.strip().lower() == "business"
        elif isinstance(days_value, str) and days_value.strip().lower() in ("all", "every day", "daily"):
            days, business = frozenset(range(7)), False
        elif isinstance(days_value, list):
            days, business = parse_weekdays(days_value), False
        else:
            raise ValueError(f"send_window days must be 'business', 'all' or a list like [mon, tue], not {days_value!r}")
        return cls(days, _parse_clock(value.get("start", "08:00"), "start"),
                   _parse_clock(value.get("end", "18:00"), "end"), business)

    def allows_day(self, day: date, cal: BusinessCalendar) -> bool:
        if self.business:
            return cal.is_business_day(day)
        return day.weekday() in self.days


def _parse_clock(value: Any, what: str) -> time:
    # YAML 1.1 reads an unquoted 08:30 as the sexagesimal integer 510 (minutes).
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, time):
        return value
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise ValueError(f'send_window {what} must be a time like "08:30", not {value!r}')
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f'send_window {what} must be a time like "08:30", not {value!r}')
        return time(23, 59, 59, 999999)
    return time(hour, minute)


def zone(name: str) -> ZoneInfo:
    """ZoneInfo for an IANA name, with a user-facing ValueError when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like 'America/Chicago'") from None


def _require_aware(t: datetime, what: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def local_to_utc(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time.

    A wall time inside a spring-forward gap (02:30 on the March change) does not
    exist; it maps to the instant the clock would show after the jump (03:30), so
    nothing is scheduled in the past and nothing crashes. An ambiguous autumn time
    takes its first occurrence.
    """
    # fold=0 reads a gap time with the pre-transition offset, which lands after the
    # jump by the gap's length: exactly the "clock moved forward" answer.
    return datetime.combine(day, clock).replace(tzinfo=tz, fold=0).astimezone(UTC)


def in_window(t: datetime, tz: ZoneInfo, window: SendWindow, cal: BusinessCalendar) -> bool:
    """Whether instant ``t`` falls inside the prospect's local send window."""
    _require_aware(t, "t")
    local = t.astimezone(tz)
    return window.allows_day(local.date(), cal) and window.start <= local.time().replace(tzinfo=None) < window.end


def next_window_open(t: datetime, tz: ZoneInfo, window: SendWindow, cal: BusinessCalendar) -> datetime:
    """``t`` itself (in UTC) when inside the window, else the next moment the window opens."""
    _require_aware(t, "t")
    t_utc = t.astimezone(UTC)
    day = t_utc.astimezone(tz).date()
    for _ in range(_MAX_SEARCH_DAYS):
        if window.allows_day(day, cal):
            opens = local_to_utc(day, window.start, tz)
            closes = local_to_utc(day, window.end, tz)
            if t_utc < opens:
                return opens
            if t_utc < closes:
                return t_utc
        day += timedelta(days=1)
    raise ValueError("the send window never opens within a year; check its days and the calendar")


def add_wait(prev: datetime, wait: Wait, tz: ZoneInfo, cal: BusinessCalendar) -> datetime:
    """``prev`` plus the wait, in UTC, before any send-window adjustment.

    Minutes and hours are elapsed time. Days, weeks and business days keep the
    local wall-clock time on a later local date, so "2 days" after a 10:00 touch is
    10:00 two days later even across a DST change.
    """
    _require_aware(prev, "prev")
    if wait.amount == 0:
        return prev.astimezone(UTC)
    if wait.unit == "minutes":
        return prev.astimezone(UTC) + timedelta(minutes=wait.amount)
    if wait.unit == "hours":
        return prev.astimezone(UTC) + timedelta(hours=wait.amount)
    local = prev.astimezone(tz)
    if wait.unit == "days":
        target = local.date() + timedelta(days=wait.amount)
    elif wait.unit == "weeks":
        target = local.date() + timedelta(weeks=wait.amount)
    else:
        target = cal.add_business_days(local.date(), wait.amount)
    return local_to_utc(target, local.time().replace(tzinfo=None), tz)


def due_at(
    prev: datetime, wait: Wait, tz: ZoneInfo, window: SendWindow, cal: BusinessCalendar
) -> datetime:
    """When a step becomes sendable (aware UTC): previous touch + wait, then into the window.

    ``prev`` is the previous touch's send time (or the enrollment time for step 1).
    The result is the earliest moment the engine may send; it may send later
    (limits, spacing), never earlier.
    """
    return next_window_open(add_wait(prev, wait, tz, cal), tz, window, cal)
