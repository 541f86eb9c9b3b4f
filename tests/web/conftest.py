"""The dashboard tests' fixtures: the known history, and a client logged in as a manager."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
from datetime import timedelta  # noqa: E402

from starlette.testclient import TestClient  # noqa: E402

from sequencer.db.models import Prospect  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from sequencer.people.stages import move_stage  # noqa: E402
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.web.history import NOW, login, make_client, password_hash, seed_history  # noqa: E402


@pytest.fixture
def seeded(db: Database) -> dict[str, int]:
    return seed_history(db)


@pytest.fixture
def client(db: Database, seeded: dict[str, int]) -> TestClient:
    """Logged in as manager Morgan, with a password configured."""
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c)
    return c


def _stage(db: Database, who: str, stage: str, days_ago: float) -> None:
    with db.session() as s:
        pid = s.query(Prospect.id).filter(Prospect.email == f"{who}@prospects.example").scalar()
    move_stage(db, pid, stage, "manager", NOW - timedelta(days=days_ago))


@pytest.fixture
def staged(db: Database, client: TestClient) -> TestClient:
    """The known history with deal stages moved by hand at known times (3 deals rotting)."""
    _stage(db, "hal", "contacted", 20)  # rotting: over 14 d
    _stage(db, "gus", "contacted", 2)
    _stage(db, "dana", "replied", 3)  # rotting: her reply is unanswered, over 2 d
    _stage(db, "erin", "proposal", 3)
    _stage(db, "finn", "proposal", 10)  # rotting: over 7 d
    return client
