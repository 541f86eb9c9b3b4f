"""Periods in a person's words -> the first business day of the period, never a guessed date."""

from __future__ import annotations

from datetime import date

import pytest

from sequencer.core.periods import Period, default_return, find_period, resolve

TODAY = date(2026, 12, 3)  # Thursday


@pytest.mark.parametrize(("text", "on"), [
    ("in March", date(2027, 3, 1)),
    ("im Februar", date(2027, 2, 1)),
    ("en janvier", date(2027, 1, 1)),
    ("en abril", date(2027, 4, 1)),
    ("after Q1", date(2027, 4, 1)),
    ("nach Q2", date(2027, 7, 1)),
    ("après le T1", date(2027, 4, 1)),
    ("next month", date(2027, 1, 1)),
    ("le mois prochain", date(2027, 1, 1)),
    ("el mes que viene", date(2027, 1, 1)),
    ("after the 15th", date(2026, 12, 16)),
    ("nach den Sommerferien", date(2027, 9, 1)),
    ("après les vacances", date(2027, 9, 1)),
    ("después del verano", date(2027, 9, 1)),
    ("next year", date(2027, 1, 1)),
    ("in 3 weeks", date(2026, 12, 24)),
    ("in zwei Monaten", date(2027, 2, 3)),
    ("next quarter", date(2027, 1, 1)),
    ("on 15 March", date(2027, 3, 15)),
    ("after March", date(2027, 4, 1)),
    ("next week", date(2026, 12, 7)),
])
def test_period_to_first_business_day(text: str, on: date) -> None:
    period = find_period(f"Please get back to me {text}, thanks.")
    assert period is not None, text
    assert resolve(period, TODAY) == on


def test_a_weekend_start_moves_to_the_next_business_day() -> None:
    period = find_period("try me in May")  # 1 May 2027 is a Saturday
    assert period is not None
    assert resolve(period, TODAY) == date(2027, 5, 3)
    holidays = {date(2027, 5, 3)}
    assert resolve(period, TODAY, lambda d: d.weekday() < 5 and d not in holidays) == date(2027, 5, 4)


def test_a_month_later_this_year_stays_this_year() -> None:
    period = find_period("in September")
    assert period is not None
    assert resolve(period, date(2026, 3, 10)) == date(2026, 9, 1)


@pytest.mark.parametrize("text", [
    "I was away in March.", "Wir waren letzten Februar auf der Messe.", "Thanks, will read it.",
    "j'étais en congé en janvier", "Estuve de vacaciones en abril.",
])
def test_past_or_no_mention_gives_no_period(text: str) -> None:
    assert find_period(text) is None


def test_a_past_mention_does_not_hide_a_later_future_one() -> None:
    period = find_period("We signed last March. Get back to me in October.")
    assert period is not None and period.text == "in October"


def test_default_delay_lands_on_a_business_day() -> None:
    assert default_return(TODAY, 90) == date(2027, 3, 3)
    assert default_return(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Saturday -> Monday


def test_period_round_trips_through_storage() -> None:
    period = find_period("après le T1")
    assert period is not None
    assert Period.from_dict(period.as_dict()) == period
