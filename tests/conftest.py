"""Shared fixtures: real mail servers, databases on SQLite and PostgreSQL, a clock.

Server-backed fixtures start once per session (per xdist worker). When a
server binary is missing they skip locally, but fail when ``CI`` is set:
CI must never go green by skipping the tests that matter.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sequencer.clock import ManualClock
from tests.servers import PASSWORD, MailEnv, Postgres, ServerMissing, mail_servers

IN_CI = bool(os.environ.get("CI"))


def _missing(exc: Exception) -> None:
    if IN_CI:
        pytest.fail(f"required test server missing in CI: {exc}", pytrace=False)
    pytest.skip(str(exc))


def _world_readable_dir(prefix: str) -> Path:
    """Server processes run as nobody/postgres: pytest's 0700 tmp dirs are out of their reach."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def mail_session() -> Iterator[MailEnv]:
    root = _world_readable_dir("seq-mail-")
    try:
        ctx = mail_servers(root)
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
def mail(mail_session: MailEnv, monkeypatch: pytest.MonkeyPatch) -> MailEnv:
    """The mail servers, with faults and counters reset and the test password in the env."""
    mail_session.relay.reset()
    monkeypatch.setenv("SEQ_TEST_PASSWORD", PASSWORD)
    return mail_session


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    root = _world_readable_dir("seq-pg-")
    try:
        pg = Postgres(root / "cluster")
        pg.start()
        pg.make_template()
    except ServerMissing as exc:
        _missing(exc)
        return
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sequencer.db'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.fresh_database()


@pytest.fixture
def db(db_url: str) -> Iterator[object]:
    from sequencer.db.session import Database

    database = Database(db_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """Monday 2 March 2026, 09:00 UTC: a plain business morning."""
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
