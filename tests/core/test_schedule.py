"""Schedule math: when a touch becomes sendable, in the prospect's own local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from sequencer.core.schedule import (
    BusinessCalendar,
    SendWindow,
    Wait,
    add_wait,
    due_at,
    in_window,
    next_window_open,
    parse_wait,
)

CHICAGO = ZoneInfo("America/Chicago")
TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
PLAIN = BusinessCalendar()
US = BusinessCalendar(country="US")
DE = BusinessCalendar(country="DE")
OFFICE = SendWindow.parse({"days": "business", "start": "08:30", "end": "17:00"})
ALWAYS = SendWindow.always()


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


# --- waits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, Wait(0, "minutes")),
        ("0", Wait(0, "minutes")),
        ("2 days", Wait(2, "days")),
        ("1 day", Wait(1, "days")),
        ("3 business days", Wait(3, "business_days")),
        ("1 business day", Wait(1, "business_days")),
        ("4 hours", Wait(4, "hours")),
        ("1 week", Wait(1, "weeks")),
        ("30 minutes", Wait(30, "minutes")),
        ("  2   Business   Days ", Wait(2, "business_days")),
    ],
)
def test_parse_wait_accepts_the_documented_forms(text: str | int, expected: Wait) -> None:
    assert parse_wait(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("two days", "cannot read wait"),
        ("3 fortnights", "unknown unit 'fortnights'"),
        (5, "has no unit"),
        ("5", "has no unit"),
        ("-1 days", "cannot read wait"),
        (True, "wait must be like"),
        (None, "wait must be like"),
    ],
)
def test_parse_wait_rejects_with_a_message_that_says_how_to_fix_it(text: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_wait(text)  # type: ignore[arg-type]


def test_wait_prints_like_the_user_wrote_it() -> None:
    assert str(parse_wait("1 business day")) == "1 business day"
    assert str(parse_wait("3 business days")) == "3 business days"
    assert str(parse_wait(0)) == "0"


# --- business days and holidays --------------------------------------------------------


def test_business_days_skip_the_weekend() -> None:
    friday = date(2025, 3, 7)
    assert PLAIN.add_business_days(friday, 1) == date(2025, 3, 10)
    assert PLAIN.add_business_days(friday, 3) == date(2025, 3, 12)
    assert PLAIN.add_business_days(date(2025, 3, 8), 1) == date(2025, 3, 10)  # from Saturday
    assert PLAIN.add_business_days(friday, 0) == friday


def test_us_thanksgiving_is_not_a_business_day() -> None:
    wednesday = date(2025, 11, 26)
    assert not US.is_business_day(date(2025, 11, 27))
    assert US.add_business_days(wednesday, 1) == date(2025, 11, 28)
    assert PLAIN.add_business_days(wednesday, 1) == date(2025, 11, 27)
    assert US.holiday_name(date(2025, 11, 27)) == "Thanksgiving Day"


def test_german_unity_day_and_regional_holidays() -> None:
    # 3 Oct 2025 is a Friday and a national holiday: Thursday + 1 business day = Monday.
    assert DE.add_business_days(date(2025, 10, 2), 1) == date(2025, 10, 6)
    # Corpus Christi (19 Jun 2025) is a holiday in Bavaria, not nationwide.
    bavaria = BusinessCalendar(country="DE", subdivision="BY")
    assert bavaria.next_business_day(date(2025, 6, 18)) == date(2025, 6, 20)
    assert DE.next_business_day(date(2025, 6, 18)) == date(2025, 6, 19)


def test_calendar_from_config_names_supports_a_sunday_to_thursday_week() -> None:
    cal = BusinessCalendar.from_names(["sun", "mon", "tue", "wed", "thu"])
    assert cal.next_business_day(date(2025, 3, 6)) == date(2025, 3, 9)  # Thu -> Sun


def test_unknown_holiday_calendar_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown holiday calendar 'XX'"):
        BusinessCalendar(country="XX")
    with pytest.raises(ValueError, match="unknown weekday 'funday'"):
        BusinessCalendar.from_names(["mon", "funday"])


# --- send windows ----------------------------------------------------------------------


def test_send_window_yaml_forms() -> None:
    assert OFFICE.business and OFFICE.start == time(8, 30) and OFFICE.end == time(17, 0)
    explicit = SendWindow.parse({"days": ["mon", "wed"], "start": "09:00", "end": "12:00"})
    assert explicit.days == frozenset({0, 2}) and not explicit.business
    # YAML 1.1 reads an unquoted 08:30 as 510 (minutes); it still means 08:30.
    assert SendWindow.parse({"start": 510, "end": "17:00"}).start == time(8, 30)
    assert SendWindow.parse({"days": ["business"], "start": "08:00", "end": "17:30"}).business


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"start": "17:00", "end": "09:00"}, "must be before its end"),
        ({"start": "8am"}, 'must be a time like "08:30"'),
        ({"days": ["mon", "someday"]}, "unknown weekday 'someday'"),
        ({"days": "weekends"}, "must be 'business', 'all' or a list"),
        ({"hours": "9-5"}, "unknown key 'hours'"),
    ],
)
def test_send_window_rejects_bad_values(value: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        SendWindow.parse(value)


def test_window_is_half_open_and_in_local_time() -> None:
    assert in_window(local(CHICAGO, 2025, 3, 4, 8, 30), CHICAGO, OFFICE, US)
    assert in_window(local(CHICAGO, 2025, 3, 4, 16, 59), CHICAGO, OFFICE, US)
    assert not in_window(local(CHICAGO, 2025, 3, 4, 17, 0), CHICAGO, OFFICE, US)
    assert not in_window(local(CHICAGO, 2025, 3, 4, 8, 29), CHICAGO, OFFICE, US)
    # 09:00 in Chicago is midnight in Tokyo: outside a Tokyo prospect's window.
    assert not in_window(local(CHICAGO, 2025, 3, 4, 9, 0), TOKYO, OFFICE, US)


def test_business_window_skips_holidays_but_an_explicit_day_list_does_not() -> None:
    thanksgiving_noon = local(CHICAGO, 2025, 11, 27, 12, 0)
    assert not in_window(thanksgiving_noon, CHICAGO, OFFICE, US)
    weekdays = SendWindow.parse({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:30", "end": "17:00"})
    assert in_window(thanksgiving_noon, CHICAGO, weekdays, US)
    assert next_window_open(thanksgiving_noon, CHICAGO, OFFICE, US) == local(CHICAGO, 2025, 11, 28, 8, 30)


def test_after_friday_close_the_window_next_opens_monday_morning() -> None:
    friday_evening = local(CHICAGO, 2025, 3, 7, 18, 15)
    opens = next_window_open(friday_evening, CHICAGO, OFFICE, US)
    assert opens == local(CHICAGO, 2025, 3, 10, 8, 30)
    assert opens.tzinfo == UTC


def test_inside_the_window_a_time_is_returned_unchanged_in_utc() -> None:
    t = local(CHICAGO, 2025, 3, 4, 10, 17)
    assert next_window_open(t, CHICAGO, OFFICE, US) == t
    assert next_window_open(t, CHICAGO, OFFICE, US).tzinfo == UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_window_open(datetime(2025, 3, 4, 10), CHICAGO, OFFICE, US)


# --- due_at ----------------------------------------------------------------------------


def test_tokyo_prospect_enrolled_from_chicago_gets_tokyo_morning() -> None:
    # Rep enrolls at 16:00 Monday in Chicago = 07:00 Tuesday in Tokyo (before 08:30).
    enrolled = local(CHICAGO, 2025, 3, 3, 16, 0)
    due = due_at(enrolled, parse_wait(0), TOKYO, OFFICE, PLAIN)
    assert due == local(TOKYO, 2025, 3, 4, 8, 30)
    assert due == datetime(2025, 3, 3, 23, 30, tzinfo=UTC)


def test_business_days_are_counted_on_the_prospects_local_date() -> None:
    # Thursday 10:00 in Chicago is already Friday 01:00 in Tokyo, so "1 business day"
    # means Friday for a Chicago prospect but Monday for a Tokyo one.
    thursday = local(CHICAGO, 2025, 3, 6, 10, 0)
    in_tokyo = due_at(thursday, parse_wait("1 business day"), TOKYO, OFFICE, PLAIN)
    in_chicago = due_at(thursday, parse_wait("1 business day"), CHICAGO, OFFICE, PLAIN)
    assert in_tokyo == local(TOKYO, 2025, 3, 10, 8, 30)
    assert in_chicago == local(CHICAGO, 2025, 3, 7, 10, 0)


def test_two_business_days_over_thanksgiving() -> None:
    wednesday = local(CHICAGO, 2025, 11, 26, 10, 0)
    due = due_at(wednesday, parse_wait("2 business days"), CHICAGO, OFFICE, US)
    assert due == local(CHICAGO, 2025, 12, 1, 10, 0)  # skips Thu (holiday), Sat, Sun


def test_day_waits_keep_the_wall_clock_time_across_spring_forward() -> None:
    # Chicago springs forward on 9 Mar 2025: 10:00 Friday + 1 business day = 10:00 Monday (CDT).
    friday = local(CHICAGO, 2025, 3, 7, 10, 0)
    due = due_at(friday, parse_wait("1 business day"), CHICAGO, OFFICE, PLAIN)
    assert due.astimezone(CHICAGO).time() == time(10, 0)
    assert due == datetime(2025, 3, 10, 15, 0, tzinfo=UTC)  # 16:00 UTC before the change


def test_hour_waits_are_elapsed_time_across_the_dst_gap() -> None:
    before = local(CHICAGO, 2025, 3, 9, 1, 0)  # 01:00 CST = 07:00 UTC
    assert add_wait(before, parse_wait("2 hours"), CHICAGO, PLAIN) == datetime(2025, 3, 9, 9, 0, tzinfo=UTC)


def test_a_local_time_inside_the_march_gap_does_not_crash_and_moves_forward() -> None:
    # 02:30 on 9 Mar 2025 does not exist in Chicago; 1 day after 02:30 on the 8th
    # lands on the first real minute after the jump's equivalent, 03:30 CDT.
    saturday = local(CHICAGO, 2025, 3, 8, 2, 30)
    due = due_at(saturday, parse_wait("1 day"), CHICAGO, ALWAYS, PLAIN)
    assert due == local(CHICAGO, 2025, 3, 9, 3, 30)
    night_window = SendWindow.parse({"days": "all", "start": "02:30", "end": "05:00"})
    opens = next_window_open(local(CHICAGO, 2025, 3, 9, 0, 0), CHICAGO, night_window, PLAIN)
    assert opens == local(CHICAGO, 2025, 3, 9, 3, 30)


def test_calendar_day_wait_across_autumn_fall_back_in_berlin() -> None:
    saturday = local(BERLIN, 2025, 10, 25, 10, 0)  # CEST, 08:00 UTC
    due = due_at(saturday, parse_wait("1 day"), BERLIN, ALWAYS, PLAIN)
    assert due == datetime(2025, 10, 26, 9, 0, tzinfo=UTC)  # 10:00 CET


def test_a_due_time_after_hours_waits_for_the_next_business_morning() -> None:
    sent = local(CHICAGO, 2025, 3, 4, 15, 0)
    due = due_at(sent, parse_wait("4 hours"), CHICAGO, OFFICE, PLAIN)
    assert due == local(CHICAGO, 2025, 3, 5, 8, 30)


def test_weeks_and_minutes() -> None:
    sent = local(CHICAGO, 2025, 3, 4, 9, 0)
    assert due_at(sent, parse_wait("1 week"), CHICAGO, OFFICE, PLAIN) == local(CHICAGO, 2025, 3, 11, 9, 0)
    assert due_at(sent, parse_wait("30 minutes"), CHICAGO, OFFICE, PLAIN) == local(CHICAGO, 2025, 3, 4, 9, 30)
