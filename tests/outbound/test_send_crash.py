"""Kill -9 of a worker mid-batch, then restart: every touch exactly once, ambiguous ones held."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequencer.db import outbox
from sequencer.db.models import Message
from sequencer.outbound.engine import GROUP_PER_SLOT
from tests.outbound.test_send import World, bulk_enroll, parse

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


def test_kill_9_mid_batch_then_restart_delivers_every_touch_exactly_once(
    db: Any, mail: Any, tmp_path: Path
) -> None:
    world = World(tmp_path, db.url, mail, sending={"batch_size": 100})
    bulk_enroll(db, N, due=T0, mail=mail)

    proc = start_tick(world, T0)
    deadline = time.monotonic() + 60
    while len(mail.relay.messages) < 150 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the worker finished before it could be killed; raise N"
    proc.kill()  # SIGKILL: no cleanup of any kind
    proc.wait()
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
