"""`sequencer run` / `tick` housekeeping: IDLE wake-ups, ended pauses, the daily digest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from sequencer import worker
from sequencer.clock import ManualClock
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.people import state_changes
from tests.kit import World

pytestmark = pytest.mark.servers

MONDAY = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _wait_for_first_poll(db: Any, at: datetime, timeout: float = 30.0) -> None:
    """The worker's first tick has polled the inbox (so a later reply is news to it)."""
    from sequencer.db.models import MailboxState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            state = s.get(MailboxState, "rep0")
            if state is not None and state.last_poll_at is not None and state.last_poll_at >= at:
                return
        time.sleep(0.2)
    raise AssertionError("the worker never polled")


def _status(db: Any, enrollment_id: int) -> tuple[str, str | None]:
    with db.session() as s:
        e = s.get(Enrollment, enrollment_id)
        return e.status, e.status_reason


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "no-idle"])
def test_a_reply_wakes_the_running_worker_through_imap_idle(
    tmp_path: Path, mail, db_url: str, idle: bool
) -> None:
    """With a 10-minute interval, only IDLE can notice the reply within seconds."""
    db = Database(db_url)
    clock = ManualClock(MONDAY)
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("prospect")
    eid = world.enroll(prospect)
    world.tick()  # touch 1 goes out
    touch = mail.wait_for(prospect, 1)[0]

    env = {**os.environ, "SEQ_TEST_PASSWORD": "secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "--config", str(world.config_path),
         "--at", (MONDAY + timedelta(minutes=5)).isoformat(), "-v", "run", "--interval", "600", *([] if idle else ["--no-idle"])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_first_poll(db, MONDAY + timedelta(minutes=5))
        time.sleep(1.0)  # the IDLE watcher is connected well within this
        reply = EmailMessage()
        reply["From"], reply["To"] = prospect, world.rep
        reply["Subject"] = "Re: " + touch["Subject"]
        reply["In-Reply-To"] = touch["Message-ID"]
        reply["Message-ID"] = "<reply-idle@test.example>"
        reply.set_content("Yes, let's talk on Thursday.")
        mail.send(reply, prospect, [world.rep])
        deadline = time.monotonic() + (20 if idle else 6)
        while _status(db, eid)[0] != "replied" and time.monotonic() < deadline:
            time.sleep(0.3)
        # without IDLE the worker sleeps its interval: the reply waits for the next tick
        assert _status(db, eid)[0] == ("replied" if idle else "active")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert "worker_stopped" in err


def test_tick_housekeeping_resumes_a_pause_whose_until_date_passed(tmp_path: Path, mail, db_url: str) -> None:
    db = Database(db_url)
    clock = ManualClock(MONDAY)
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("prospect")
    eid = world.enroll(prospect)
    state_changes.pause(db, email=prospect, reason="on holiday", until=MONDAY + timedelta(days=2), now=MONDAY)
    early = worker.housekeeping(db, world.config, world.sequences, ManualClock(MONDAY + timedelta(days=1)),
                                worker_id="t", poll=False)
    assert early.resumed == 0 and _status(db, eid)[0] == "paused"
    later = worker.housekeeping(db, world.config, world.sequences, ManualClock(MONDAY + timedelta(days=2, minutes=1)),
                                worker_id="t", poll=False)
    assert later.resumed == 1
    assert _status(db, eid) == ("active", "pause ended")


def test_tick_sends_the_daily_digest_once(tmp_path: Path, mail, db_url: str) -> None:
    world = World(tmp_path, Database(db_url), mail, ManualClock(MONDAY), sequence="quote")
    manager = mail.new_address("manager")
    raw = yaml.safe_load(world.config_path.read_text())
    raw["reporting"] = {"managers": [manager], "digest_time": "08:00"}
    world.config_path.write_text(yaml.safe_dump(raw))
    from sequencer.config import load_config

    config = load_config(world.config_path)
    db = Database(db_url)
    morning = ManualClock(datetime(2026, 3, 3, 8, 30, tzinfo=UTC))  # Tuesday, after 08:00 UTC
    first = worker.housekeeping(db, config, world.sequences, morning, worker_id="a", poll=False)
    second = worker.housekeeping(db, config, world.sequences, morning, worker_id="b", poll=False)
    assert (first.digest_sent, second.digest_sent) == (True, False)
    digests = mail.wait_for(manager, 1)
    assert len(digests) == 1
    time.sleep(0.5)
    assert len(mail.fetch_all(manager)) == 1
    with db.session() as s:
        assert s.scalars(select(Enrollment)).all() == []
