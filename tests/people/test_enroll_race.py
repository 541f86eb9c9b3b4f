"""Enrolling the same new address from several processes at once enrolls it once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sequencer.db.models import Enrollment, Prospect
from sequencer.db.session import Database
from sequencer.people import enroll as svc
from tests.people.world import make_world

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_concurrent_enrolls_of_one_new_address_give_one_enrollment(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, db_url, monkeypatch)
    db = Database(db_url, pool_size=10) if db_url.startswith("postgresql") else Database(db_url)
    barrier = threading.Barrier(6)
    results, errors = [], []

    def go() -> None:
        barrier.wait()
        try:
            results.append(
                svc.enroll(db, world.config, world.sequences, email="Race@Example.com",
                           sequence_id="quote", company="Acme", fields={"quote_number": "Q-1"}, now=NOW)
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.enrolled for r in results) == [False] * 5 + [True]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Prospect)) == 1
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_the_database_refuses_a_second_open_enrollment(tmp_path: Path, db_url: str, monkeypatch) -> None:
    world = make_world(tmp_path, db_url, monkeypatch)
    db = Database(db_url)
    first = svc.enroll(db, world.config, world.sequences, email="a@example.com", sequence_id="quote",
                       company="Acme", fields={"quote_number": "Q-1"}, now=NOW)
    with pytest.raises(IntegrityError), db.session() as s:
        e = s.get(Enrollment, first.enrollment_id)
        clone = Enrollment(**{c.key: getattr(e, c.key) for c in Enrollment.__table__.columns if c.key != "id"})
        clone.token = "another-token"
        s.add(clone)
        s.flush()
