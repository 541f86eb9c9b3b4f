"""The dashboard tests' fixtures: the known history, and a client logged in as a manager."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

from sequencer.db.session import Database  # noqa: E402
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.web.history import login, make_client, password_hash, seed_history, stage_at  # noqa: E402


@pytest.fixture
def seeded(db: Database) -> dict[str, int]:
    return seed_history(db)


@pytest.fixture
def client(db: Database, seeded: dict[str, int]) -> TestClient:
    """Logged in as manager Morgan, with a password configured."""
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c)
    return c


@pytest.fixture
def staged(db: Database, client: TestClient) -> TestClient:
    """The known history with deal stages moved by hand at known times (3 deals rotting)."""
    stage_at(db, "hal", "contacted", 20)  # rotting: over 14 d
    stage_at(db, "gus", "contacted", 2)
    stage_at(db, "dana", "replied", 3)  # rotting: her reply is unanswered, over 2 d
    stage_at(db, "erin", "proposal", 3)
    stage_at(db, "finn", "proposal", 10)  # rotting: over 7 d
    return client
