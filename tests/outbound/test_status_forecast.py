"""`status` answers "why isn't it sending?" with one number per reason, today and tomorrow."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from sequencer.core.forecast import Day, forecast
from sequencer.db.session import Database
from tests.kit import World

pytestmark = pytest.mark.servers


def test_forecast_counts_every_due_touch_once() -> None:
    days = forecast(
        Day(due_in_window=9, due_by_end=10, window_minutes=60, paused=False),
        Day(due_in_window=12, due_by_end=12, window_minutes=600, paused=False),
        waiting_poll=1, held=1, waiting_task=4, sent_today=5, daily_limit=8, pace=0.04,
    )
    today, tomorrow = days["today"].as_dict(), days["tomorrow"].as_dict()
    assert today == {
        "due": 10, "will_send": 2, "window": 1, "poll": 1, "held": 1, "pause": 0,
        "daily_limit": 4, "pace": 1, "task": 4,
    }
    assert sum(v for k, v in today.items() if k not in ("due", "task")) == today["due"]
    # 8 carried over (the held one stays held) + 2 new; 24 a day at this pace, 8 by the limit
    assert tomorrow == {
        "due": 10, "will_send": 8, "window": 0, "poll": 0, "held": 1, "pause": 0,
        "daily_limit": 1, "pace": 0, "task": 4,
    }


def test_paused_day_sends_nothing() -> None:
    days = forecast(
        Day(5, 5, 100, paused=True), Day(5, 5, 100, paused=False),
        waiting_poll=0, held=0, waiting_task=0, sent_today=0, daily_limit=10, pace=1,
    )
    assert days["today"].pause == 5 and days["today"].will_send == 0
    assert days["tomorrow"].will_send == 5


def test_status_json_forecasts_the_daily_limit_and_a_pause(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote", daily_limit=3)
    for i in range(5):
        world.enroll(mail.new_address(f"lead{i}"))
    data = world.cli_json("status")
    [rep0] = data["mailboxes"]
    assert rep0["state"] == "ok" and rep0["reason"] is None
    assert rep0["forecast"]["today"] == {
        "due": 5, "will_send": 3, "window": 0, "poll": 0, "held": 0, "pause": 0,
        "daily_limit": 2, "pace": 0, "task": 0,
    }
    assert rep0["forecast"]["tomorrow"]["will_send"] == 2
    for key in ("name", "sent_today", "daily_limit", "overdue", "waiting", "held"):
        assert key in rep0, "the keys status --json had are kept"

    from sequencer.db import mailbox_state

    with db.session() as s:
        mailbox_state.pause_mailbox(
            s, "rep0", reason="Gmail daily sending limit exceeded", now=clock.now(),
            kind="quota", until=clock.now() + timedelta(hours=24),
        )
    [rep0] = world.cli_json("status")["mailboxes"]
    assert rep0["state"] == "paused" and "daily sending limit" in rep0["reason"]
    assert rep0["forecast"]["today"]["pause"] == 5
    assert rep0["forecast"]["today"]["will_send"] == 0
    text = world.cli("status")
    assert text.exit_code == 0 and "forecast" in text.output
