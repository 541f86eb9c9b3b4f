"""Sending never races a reply or a lost lease: against a slow real SMTP server, with real
processes (a reply recorded by another process, a worker frozen by SIGSTOP), on SQLite
and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequencer.clock import ManualClock
from sequencer.db.models import Event, Message
from sequencer.db.session import Database
from tests.kit import World

pytestmark = pytest.mark.servers

# No digest or reminder in these ticks: the first SMTP connection is the touch's.
QUIET = {"digest_time": "23:00", "task_reminder_time": "23:00"}


def sequencer(world: World, at: Any, *args: str) -> subprocess.Popen[str]:
    """``sequencer`` as its own process (another worker, another operator)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sequencer", "--config", str(world.config_path),
         "--at", at.isoformat(), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


def to(mail: Any, lead: str) -> list[Any]:
    return [m for m in mail.relay.messages if lead in m[1]]


def events(db: Database, kind: str) -> list[Event]:
    with db.session() as s:
        rows = list(s.scalars(select(Event).where(Event.kind == kind)))
        s.expunge_all()
        return rows


def test_reply_recorded_by_another_process_while_the_server_greets_stops_the_touch(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote", reporting=QUIET)
    lead = mail.new_address("dana")
    eid = world.enroll(lead)
    mail.relay.greeting_gate = threading.Event()
    results: list[Any] = []
    ticking = threading.Thread(target=lambda: results.append(world.tick()))
    ticking.start()
    try:
        assert mail.relay.greeting_held.wait(20), "the tick never reached the server"
        # Meanwhile, another process records the prospect's reply (no lock is held by
        # the tick waiting on the server, so this neither waits nor fails).
        replied = sequencer(world, clock.now(), "mark-replied", lead)
        out, err = replied.communicate(timeout=60)
        assert replied.returncode == 0, out + err
    finally:
        mail.relay.greeting_gate.set()
        ticking.join(60)
    [result] = results
    assert result.sent == 0 and result.withdrawn == {"replied": 1}, result
    assert to(mail, lead) == [], "the touch was not sent"
    [withdrawn] = events(db, "send_withdrawn")
    assert withdrawn.enrollment_id == eid and withdrawn.reason == "replied"
    assert world.enrollment(eid).status == "replied"
    with db.session() as s:
        assert s.scalars(select(Message.status)).all() == ["deferred"]


def test_worker_frozen_past_its_lease_sends_nothing_and_another_sends_it_once(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote", reporting=QUIET)
    lead = mail.new_address("dana")
    eid = world.enroll(lead)
    mail.relay.greeting_gate = threading.Event()
    frozen = sequencer(world, clock.now(), "tick", "--no-poll")
    try:
        assert mail.relay.greeting_held.wait(30), "worker A never reached the server"
        os.kill(frozen.pid, signal.SIGSTOP)
        mail.relay.greeting_gate.set()  # the server answers; A is frozen and does not read it
        mail.relay.greeting_gate = None
        # Past A's lease another worker recovers: A's touch is `sending`, not in Sent, so
        # it is held (it cannot tell), never sent blindly.
        later = clock.now() + timedelta(minutes=10)
        other = sequencer(world, later, "tick", "--no-poll")
        out, err = other.communicate(timeout=60)
        assert other.returncode == 0, out + err
        assert to(mail, lead) == []
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    out, err = frozen.communicate(timeout=60)
    assert to(mail, lead) == [], f"the worker that lost its lease sent: {out}{err}"
    [withdrawn] = events(db, "send_withdrawn")
    assert withdrawn.enrollment_id == eid and withdrawn.reason == "lease lost"
    with db.session() as s:
        [message] = s.scalars(select(Message)).all()
        assert message.status == "deferred" and "worker died" not in (message.error or "")

    again = sequencer(world, clock.now() + timedelta(minutes=11), "tick", "--no-poll")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, out + err
    assert len(to(mail, lead)) == 1, "sent exactly once, by another worker"
    assert world.enrollment(eid).steps_done == 1
