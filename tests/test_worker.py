"""`sequencer run` / `tick` housekeeping: IDLE wake-ups, ended pauses, the daily digest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from sequencer import worker
from sequencer.cli import main
from sequencer.clock import ManualClock
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.people import state_changes
from tests.kit import World

pytestmark = pytest.mark.servers

MONDAY = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


class WorkerLog:
    """A worker's stderr, read line by line in a thread, so a test can wait for a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._closed = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def count(self, needle: str) -> int:
        with self._changed:
            return sum(needle in line for line in self.lines)

    def wait_for(self, needle: str, count: int = 1, timeout: float = 30.0) -> bool:
        """True once ``needle`` has been logged ``count`` times; False on timeout or exit."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._closed or sum(needle in line for line in self.lines) >= count,
                timeout,
            )
            return sum(needle in line for line in self.lines) >= count

    def text(self) -> str:
        self._reader.join(30)
        return "".join(self.lines)


TICK = '"event": "tick"'  # logged after each tick, which polls first
IDLE_READY = "IDLE on mailbox rep0: watching INBOX"


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
    at = (MONDAY + timedelta(minutes=5)).isoformat()

    env = {**os.environ, "SEQ_TEST_PASSWORD": "secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "--config", str(world.config_path),
         "--at", at, "-v", "run", "--interval", "600", *([] if idle else ["--no-idle"])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    log = WorkerLog(proc.stderr)
    try:
        assert log.wait_for(TICK), "the worker never finished its first tick"
        if idle:  # from here on, new mail cannot go unnoticed
            assert log.wait_for(IDLE_READY), "the IDLE watcher never got into IDLE"
        reply = EmailMessage()
        reply["From"], reply["To"] = prospect, world.rep
        reply["Subject"] = "Re: " + touch["Subject"]
        reply["In-Reply-To"] = touch["Message-ID"]
        reply["Message-ID"] = "<reply-idle@test.example>"
        reply.set_content("Yes, let's talk on Thursday.")
        mail.send(reply, prospect, [world.rep])  # in the rep's INBOX when this returns
        if idle:
            assert log.wait_for(TICK, count=2, timeout=20), "IDLE did not wake the worker"
            assert _status(db, eid)[0] == "replied"
        else:
            # without IDLE the worker sleeps its interval: no tick, the reply waits
            assert not log.wait_for(TICK, count=2, timeout=5)
            assert proc.poll() is None, "the worker died"
            assert log.count(IDLE_READY) == 0
            assert _status(db, eid)[0] == "active"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    err = log.text()
    assert proc.returncode == 0, err[-2000:]
    assert "worker_stopped" in err
    if not idle:  # the reply was there to be read: the next tick's poll stops the sequence
        result = CliRunner().invoke(main, ["--config", str(world.config_path), "--at", at, "tick"])
        assert result.exit_code == 0, result.output
        assert _status(db, eid)[0] == "replied"


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
    from sequencer.project import load_config

    config = load_config(world.config_path)
    db = Database(db_url)
    morning = ManualClock(datetime(2026, 3, 3, 8, 30, tzinfo=UTC))  # Tuesday, after 08:00 UTC
    first = worker.housekeeping(db, config, world.sequences, morning, worker_id="a", poll=False)
    second = worker.housekeeping(db, config, world.sequences, morning, worker_id="b", poll=False)
    assert (first.digest_sent, second.digest_sent) == (True, False)
    # The SMTP front records each message before it answers DATA, and housekeeping returns
    # only after its sends: what is recorded now is everything either worker sent.
    digests = [raw for _sender, rcpts, raw in mail.relay.messages if manager in rcpts]
    assert len(digests) == 1
    assert message_from_bytes(digests[0])["Subject"].startswith("Sequencer digest 2026-03-03")
    with db.session() as s:
        assert s.scalars(select(Enrollment)).all() == []
