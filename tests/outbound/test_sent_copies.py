"""Sent-folder copies against real Dovecot: exactly one per sent touch, never lost, never twice.

The copy is queued in the commit that records the touch sent and filed afterwards, so an
IMAP fault (the per-user connection limit, a crash between the send and the APPEND)
leaves it queued for a later tick, which files it once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.db import sent_copies
from sequencer.db.models import Message, SentCopy
from sequencer.db.session import Database
from sequencer.mail.imap import ImapConnection
from tests.conftest import _missing, _world_readable_dir
from tests.kit import World, bulk_enroll
from tests.servers import PASSWORD, MailEnv, ServerMissing, mail_servers

pytestmark = pytest.mark.servers

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands in for the process dying at that point (nothing catches it)."""


@pytest.fixture(scope="module")
def limited_session() -> Iterator[MailEnv]:
    """Its own Dovecot that lets a user hold at most 2 IMAP connections (default is 10)."""
    root = _world_readable_dir("seq-mail-limit-")
    try:
        ctx = mail_servers(root, max_userip_connections=2)
        env = ctx.__enter__()
    except ServerMissing as exc:
        _missing(exc)
        return
    try:
        yield env
    finally:
        ctx.__exit__(None, None, None)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def limited(limited_session: MailEnv, monkeypatch: pytest.MonkeyPatch) -> MailEnv:
    limited_session.relay.reset()
    monkeypatch.setenv("SEQ_TEST_PASSWORD", PASSWORD)
    return limited_session


def sent_ids(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Message.message_id).where(Message.status == "sent")))


def copies_in_sent(mail: MailEnv, user: str) -> Counter[str]:
    return Counter(m["Message-ID"] for m in mail.fetch_all(user, "Sent"))


def queued(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(SentCopy)) or 0


def missing_in_status(world: World) -> int:
    [row] = [r for r in _mailboxes(world.cli_json("status")) if r["name"] == "rep0"]
    return int(row["sent_copies_missing"])


def _mailboxes(out: Any) -> list[dict[str, Any]]:
    return out["mailboxes"] if isinstance(out, dict) else out


def test_every_sent_touch_has_exactly_one_copy_in_sent(
    db: Database, mail: Any, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, ManualClock(T0), sequence="quote")
    bulk_enroll(db, 40, due=T0, mail=mail)
    assert world.tick().sent == 40
    copies = copies_in_sent(mail, world.rep)
    assert set(copies) == sent_ids(db) and max(copies.values()) == 1
    assert queued(db) == 0 and missing_in_status(world) == 0


def test_copies_refused_by_the_connection_limit_wait_in_the_queue_then_are_filed_once(
    db: Database, limited: MailEnv, tmp_path: Path
) -> None:
    clock = ManualClock(T0)
    world = World(tmp_path, db, limited, clock, sequence="quote")
    bulk_enroll(db, 30, due=T0, mail=limited)
    # Two other clients (a phone, a desktop) hold the user's two connections.
    others = [limited.imap(world.rep), limited.imap(world.rep)]
    try:
        assert world.tick().sent == 30, "a Sent-folder fault never stops the sending"
        others[0].select_folder("Sent", readonly=True)
        assert others[0].search("ALL") == []
    finally:
        for client in others:
            client.logout()
    assert queued(db) == 30 and missing_in_status(world) == 30
    assert "30 Sent-folder copy(ies) not filed yet" in world.cli("status").output
    clock.set(T0 + timedelta(minutes=2))  # past the first retry's back-off
    assert world.tick().sent == 0
    copies = copies_in_sent(limited, world.rep)
    assert set(copies) == sent_ids(db) and max(copies.values()) == 1
    assert missing_in_status(world) == 0


def test_four_workers_under_a_two_connection_limit_lose_no_copy(
    db: Database, limited: MailEnv, tmp_path: Path
) -> None:
    world = World(
        tmp_path, db, limited, ManualClock(T0), sequence="quote", sending={"batch_size": 20}
    )
    bulk_enroll(db, 120, due=T0, mail=limited)
    workers = [_tick(world, T0) for _ in range(4)]
    for proc in workers:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    assert len(sent_ids(db)) == 120
    # Whatever the limit refused waits in the queue; a later tick files it.
    proc = _tick(world, T0 + timedelta(hours=2))
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    copies = copies_in_sent(limited, world.rep)
    assert set(copies) == sent_ids(db) and max(copies.values()) == 1
    assert queued(db) == 0


def _tick(world: World, at: datetime) -> subprocess.Popen[bytes]:
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


@pytest.mark.parametrize("crash_at", ["before_append", "after_append"])
def test_a_crash_between_send_and_copy_leaves_it_queued_and_the_next_tick_files_it_once(
    db: Database, mail: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    clock = ManualClock(T0)
    world = World(tmp_path, db, mail, clock, sequence="quote")
    bulk_enroll(db, 12, due=T0, mail=mail)

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise Crash

    with monkeypatch.context() as patch, pytest.raises(Crash):
        if crash_at == "before_append":
            patch.setattr(ImapConnection, "append_sent_many", crash)
        else:  # filed, but the worker dies before the queue forgets the rows
            patch.setattr(sent_copies, "done", crash)
        world.tick()
    assert len(sent_ids(db)) == 12, "the touches were recorded sent before the copy"
    assert queued(db) == 12
    filed = copies_in_sent(mail, world.rep)
    assert sum(filed.values()) == (0 if crash_at == "before_append" else 12)

    # The dead worker's lease on the copies runs out; the next tick files each once.
    clock.set(T0 + timedelta(seconds=world.config.sending.lease_seconds + 1))
    assert world.tick().sent == 0
    copies = copies_in_sent(mail, world.rep)
    assert set(copies) == sent_ids(db) and max(copies.values()) == 1
    assert queued(db) == 0
