"""How many touches a mailbox will send today and tomorrow, and why the rest wait: pure.

So "why isn't it sending?" has one answer per touch: every touch due by the end of the
day is counted once, either as ``will_send`` or under the first reason that keeps it:

- ``window``: due after the day's send window closes (or the day has no window);
- ``poll``: a follow-up waiting for the inbox to be polled (the reply race; today only);
- ``held``: an earlier attempt is in doubt after a crash (``outbox resolve``; today only);
- ``pause``: the mailbox is paused over the day's window;
- ``daily_limit``: over what is left of ``daily_limit``;
- ``pace``: more than ``per_minute`` (and the spacing) lets out before the window closes.

``task`` (enrollments waiting for a rep's task) is reported beside them: those touches
are not due until the task is done. The window is the mailbox's own (its zone and
``send_window``): an estimate when prospects are in other zones. What today does not
send carries over to tomorrow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sequencer.core.schedule import BusinessCalendar, SendWindow, local_to_utc


@dataclass(frozen=True)
class Day:
    """One day's inputs: cumulative due counts (from the past up to the boundary)."""

    due_in_window: int  # due before the day's window closes (0 boundary: no window)
    due_by_end: int  # due before the day ends
    window_minutes: float  # minutes of window left that day (from now, for today)
    paused: bool  # the mailbox's pause covers the day's window


@dataclass(frozen=True)
class DayForecast:
    due: int
    will_send: int
    window: int
    poll: int
    held: int
    pause: int
    daily_limit: int
    pace: int
    task: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def window_span(
    day: date, tz: ZoneInfo, window: SendWindow, cal: BusinessCalendar
) -> tuple[datetime, datetime] | None:
    """The day's window as UTC instants, or None when the window is shut all day."""
    if not window.allows_day(day, cal):
        return None
    return local_to_utc(day, window.start, tz), local_to_utc(day, window.end, tz)


def minutes_left(now: datetime, span: tuple[datetime, datetime] | None) -> float:
    if span is None:
        return 0.0
    opens, closes = span
    return max(0.0, (closes - max(now, opens)) / timedelta(minutes=1))


def pace_per_minute(per_minute: float, min_spacing: float, max_spacing: float) -> float:
    """Touches a minute the pacing lets out: per_minute, or slower with a random gap."""
    if max_spacing > 0:
        gap = (min_spacing + max_spacing) / 2
        return min(per_minute, 60.0 / gap) if gap > 0 else per_minute
    return per_minute


def _day(
    due: int,
    in_window: int,
    *,
    poll: int,
    held: int,
    paused: bool,
    limit_left: int,
    pace_left: int,
    task: int,
) -> DayForecast:
    window = max(0, due - in_window)
    rest = due - window
    poll = min(rest, poll)
    rest -= poll
    held = min(rest, held)
    rest -= held
    pause = rest if paused else 0
    rest -= pause
    will = max(0, min(rest, limit_left, pace_left))
    over_limit = max(0, rest - max(0, limit_left))
    over_pace = rest - will - over_limit
    return DayForecast(due, will, window, poll, held, pause, over_limit, over_pace, task)


def forecast(
    today: Day,
    tomorrow: Day,
    *,
    waiting_poll: int,
    held: int,
    waiting_task: int,
    sent_today: int,
    daily_limit: int,
    pace: float,
) -> dict[str, DayForecast]:
    """Today's and tomorrow's figures (see the module docstring for the reasons)."""
    first = _day(
        today.due_by_end,
        today.due_in_window,
        poll=waiting_poll,
        held=held,
        paused=today.paused,
        limit_left=max(0, daily_limit - sent_today),
        pace_left=int(pace * today.window_minutes),
        task=waiting_task,
    )
    carried = today.due_by_end - first.will_send
    new = max(0, tomorrow.due_by_end - today.due_by_end)
    new_in_window = max(0, tomorrow.due_in_window - today.due_by_end)
    second = _day(
        carried + new,
        carried + new_in_window if tomorrow.window_minutes > 0 else 0,
        poll=0,
        held=first.held,
        paused=tomorrow.paused,
        limit_left=daily_limit,
        pace_left=int(pace * tomorrow.window_minutes),
        task=waiting_task,
    )
    return {"today": first, "tomorrow": second}


__all__ = ["Day", "DayForecast", "forecast", "minutes_left", "pace_per_minute", "window_span"]
