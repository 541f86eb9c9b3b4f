"""Several worker processes sharing one database: every due touch delivered exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequencer.clock import ManualClock
from sequencer.db import outbox
from sequencer.db.models import Message
from sequencer.db.session import Database
from tests.kit import World, bulk_enroll, parse

pytestmark = [pytest.mark.servers, pytest.mark.slow]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
N = 2000


def test_concurrent_workers_send_each_due_touch_exactly_once(
    db: Database, mail: Any, tmp_path: Path
) -> None:
    workers = 4 if db.dialect == "postgresql" else 2
    # The server keeps its own Sent copy here: this test is about claiming, not about IMAP.
    world = World(
        tmp_path,
        db,
        mail,
        ManualClock(T0),
        sequence="quote",
        reporting={"managers": []},  # no daily digest: only touches reach the relay
        server_saves_sent=True,
        sending={"batch_size": 50},
    )
    bulk_enroll(db, N, due=T0, mail=mail)

    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sequencer",
                "--config",
                str(world.config_path),
                "tick",
                "--at",
                T0.isoformat(),
                "--no-poll",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()

    arrived = Counter(parse(raw)["Message-ID"] for _f, _r, raw in mail.relay.messages)
    assert len(arrived) == N and max(arrived.values()) == 1
    with db.session() as s:
        rows = s.scalars(select(Message)).all()
    assert len(rows) == N and {m.status for m in rows} == {outbox.SENT}
    assert {m.message_id for m in rows} == set(arrived)
    assert len({m.enrollment_id for m in rows}) == N
    per_worker = Counter(m.worker for m in rows)
    if db.dialect == "postgresql":  # SKIP LOCKED lets them work side by side
        assert len(per_worker) > 1, per_worker
