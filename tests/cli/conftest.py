"""The CLI tests start from the people tests' world (a config, two sequences, a database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.people.world import World, make_world


@pytest.fixture
def world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(tmp_path, db_url, monkeypatch)
