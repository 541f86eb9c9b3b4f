"""``status``'s capacity forecast per mailbox: the database's counts into ``core.forecast``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sequencer.config import Config, MailboxConfig
from sequencer.core import pacing
from sequencer.core.forecast import (
    Day,
    DayForecast,
    forecast,
    minutes_left,
    pace_per_minute,
    window_span,
)
from sequencer.core.schedule import BusinessCalendar, zone
from sequencer.db import mailbox_health
from sequencer.db.models import MailboxState
from sequencer.project import mailbox_window


def _paused_over(state: MailboxState | None, span: tuple[datetime, datetime] | None) -> bool:
    if state is None or not state.paused_reason or span is None:
        return bool(state is not None and state.paused_reason)
    return state.paused_until is None or state.paused_until >= span[1]


def mailbox_forecast(
    s: Session,
    config: Config,
    calendar: BusinessCalendar,
    mailbox: MailboxConfig,
    state: MailboxState | None,
    *,
    now: datetime,
    sent_today: int,
) -> dict[str, DayForecast]:
    """Today's and tomorrow's figures for one mailbox, in the mailbox's zone and window."""
    tz = zone(mailbox.timezone or config.timezone)
    window = mailbox_window(mailbox)
    today = now.astimezone(tz).date()
    spans = [window_span(d, tz, window, calendar) for d in (today, today + timedelta(days=1))]
    end_today = pacing.next_day_start(now, tz)
    end_tomorrow = pacing.next_day_start(end_today + timedelta(hours=1), tz)
    minutes = [minutes_left(now, spans[0]), minutes_left(now, spans[1])]
    closes = [span[1] if span else end_today for span in spans]
    in_today, by_today, in_tomorrow, by_tomorrow = mailbox_health.due_counts(
        s, mailbox.name, [closes[0], end_today, closes[1], end_tomorrow]
    )
    days = [
        Day(in_today if minutes[0] else 0, by_today, minutes[0], _paused_over(state, spans[0])),
        Day(
            in_tomorrow if minutes[1] else 0, by_tomorrow, minutes[1],
            _paused_over(state, spans[1]),
        ),
    ]
    waiting = mailbox_health.waiting_counts(s, mailbox.name, now)
    return forecast(
        days[0],
        days[1],
        waiting_poll=waiting["poll"],
        held=waiting["held"],
        waiting_task=waiting["task"],
        sent_today=sent_today,
        daily_limit=mailbox.daily_limit,
        pace=pace_per_minute(
            mailbox.per_minute, mailbox.min_spacing_seconds, mailbox.max_spacing_seconds
        ),
    )


__all__ = ["mailbox_forecast"]
