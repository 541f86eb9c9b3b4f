"""The dashboard tests' fixtures: the known history, and a client logged in as a manager."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.db.session import Database  # noqa: E402
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.web.history import login, make_client, password_hash, seed_history  # noqa: E402


@pytest.fixture
def seeded(db: Database) -> dict[str, int]:
    return seed_history(db)


@pytest.fixture
def client(db: Database, seeded: dict[str, int]) -> TestClient:
    """Logged in as manager Morgan, with a password configured."""
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c)
    return c
