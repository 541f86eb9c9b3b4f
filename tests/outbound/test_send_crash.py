"""Kill -9 of a worker mid-batch, then restart: every touch exactly once, ambiguous ones held."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequencer.clock import ManualClock
from sequencer.db import outbox
from sequencer.db.models import Message
from sequencer.db.session import Database
from sequencer.outbound.engine import GROUP_PER_SLOT
from tests.kit import World, bulk_enroll, parse

pytestmark = [pytest.mark.servers, pytest.mark.slow]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
N = 500


def start_tick(world: World, at: datetime) -> subprocess.Popen[bytes]:
    """A worker process: `sequencer tick` at a simulated time (the poller is not under test)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sequencer",
            "--config",
            str(world.config_path),
            "tick",
            "--at",
            at.isoformat(),
            "--no-poll",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_tick(world: World, at: datetime) -> None:
    proc = start_tick(world, at)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


def cli(world: World, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "sequencer", "--config", str(world.config_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def delivered_ids(mail: Any) -> Counter[str]:
    return Counter(parse(raw)["Message-ID"] for _f, _r, raw in list(mail.relay.messages))


class Gate:
    """Holds the relay's delivery of every message after the first ``after``.

    The relay counts a message when its DATA arrives and answers 250 only once it has
    delivered it, so a held message is one the worker sent and is still waiting for:
    the worker is provably mid-batch, however fast the machine, when ``reached`` is set.
    """

    def __init__(self, relay: Any, after: int) -> None:
        self.relay, self.after = relay, after
        self.deliver = relay._lmtp
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, sender: str, rcpts: list[str], raw: bytes) -> None:
        if len(self.relay.messages) > self.after:
            self.reached.set()
            self.release.wait(timeout=120)
        self.deliver(sender, rcpts, raw)


def test_kill_9_mid_batch_then_restart_delivers_every_touch_exactly_once(
    db: Database, mail: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(
        tmp_path,
        db,
        mail,
        ManualClock(T0),
        sequence="quote",
        reporting={"managers": []},
        sending={"batch_size": 100},
    )
    bulk_enroll(db, N, due=T0, mail=mail)
    gate = Gate(mail.relay, after=150)
    monkeypatch.setattr(mail.relay, "_lmtp", gate)

    proc = start_tick(world, T0)
    try:
        assert gate.reached.wait(timeout=120), "the worker never got 150 touches out"
        assert proc.poll() is None, "the worker finished while the relay held a message"
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait()
    finally:
        gate.release.set()
    killed_at = len(mail.relay.messages)
    with db.session() as s:
        statuses = Counter(s.scalars(select(Message.status)))
    assert statuses[outbox.QUEUED] + statuses[outbox.SENDING] > 0, statuses

    # Restart after the lease ran out: the leftovers are reconciled, the rest is sent.
    restart = T0 + timedelta(minutes=10)
    run_tick(world, restart)
    counts = delivered_ids(mail)
    assert len(mail.relay.messages) > killed_at
    assert max(counts.values()) == 1, "no touch may arrive twice"

    with db.session() as s:
        rows = s.scalars(select(Message)).all()
        by_mid = {m.message_id: m for m in rows}
        held = [m for m in rows if m.status == outbox.HELD]
    # Only the group marked `sending` when the worker died can be in doubt.
    assert len(held) <= world.config.mailboxes[0].concurrency * GROUP_PER_SLOT
    by_touch = Counter((by_mid[mid].enrollment_id, by_mid[mid].step) for mid in counts)
    assert max(by_touch.values()) == 1

    # The operator settles each held touch from what the receiving side shows.
    for m in held:
        cli(
            world,
            "--at",
            restart.isoformat(),
            "outbox",
            "resolve",
            str(m.id),
            "sent" if m.message_id in counts else "resend",
        )
    assert "held" not in cli(world, "outbox", "list")
    run_tick(world, restart + timedelta(minutes=1))

    counts = delivered_ids(mail)
    with db.session() as s:
        rows = s.scalars(select(Message)).all()
    assert len(counts) == N and max(counts.values()) == 1
    assert {m.message_id for m in rows} == set(counts)
    assert all(m.status == outbox.SENT and m.step == 1 for m in rows)
    assert len({m.enrollment_id for m in rows}) == N
