"""Reassigning a lead while a worker records on its enrollment: no deadlock (PostgreSQL).

An enrollment write locks the enrollment's row and then, in the counter triggers
(``sequencer/db/counters.py``), its prospect's row. A transaction that updated the
prospect first and the enrollment second would hold the lock the worker needs next while
waiting for the one the worker holds, and PostgreSQL would abort one of the two ("deadlock
detected"): a manager's reassign failing at random, or worse, a tick's record of a sent
touch. Every writer therefore takes the enrollment before the prospect.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from sequencer.clock import ManualClock
from sequencer.db.session import Database
from sequencer.people import state_changes
from tests.people.world import enroll, make_world
from tests.servers import Postgres


def _wait_until_blocked(db: Database, thread: threading.Thread, timeout: float = 30.0) -> None:
    """Until a backend other than the caller's waits on a row lock (the reassign queued)."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as probe:
        while time.monotonic() < deadline and thread.is_alive():
            waiting = probe.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()")
            ).scalar_one()
            probe.rollback()
            if waiting:
                return
            time.sleep(0.02)  # polling the server's own lock table: the signal, not a guess
    raise AssertionError("the reassign never queued behind the worker's row lock")


def test_reassign_while_a_worker_updates_the_enrollment_does_not_deadlock(
    postgres: Postgres, tmp_path, monkeypatch, clock: ManualClock  # noqa: ANN001
) -> None:
    url = postgres.fresh_database()
    db = Database(url)
    world = make_world(tmp_path, url, monkeypatch)
    enrollment_id = enroll(db, world, clock, "lena@acme.example", owner="sam", value="5000").enrollment_id
    errors: list[BaseException] = []

    def manager_reassigns() -> None:
        try:
            state_changes.reassign(db, enrollment_id, "lee", now=clock.now(), actor="manager")
        except BaseException as exc:  # noqa: BLE001 - the test reports what the manager hit
            errors.append(exc)

    with db.engine.connect() as worker:
        # The worker holds the enrollment as an UPDATE of it does (as a tick recording a
        # send does: FOR NO KEY UPDATE, which lets foreign-key checks of new events pass) ...
        worker.execute(text("SELECT id FROM enrollments WHERE id = :i FOR NO KEY UPDATE"), {"i": enrollment_id})
        manager = threading.Thread(target=manager_reassigns)
        manager.start()
        _wait_until_blocked(db, manager)
        # ... then writes it, which makes its trigger lock the prospect.
        worker.execute(
            text("UPDATE enrollments SET steps_done = steps_done + 1, replied_at = now() WHERE id = :i"),
            {"i": enrollment_id},
        )
        worker.commit()
    manager.join(60)
    assert not manager.is_alive()
    assert errors == []
    with db.engine.connect() as c:
        owners = c.execute(
            text("SELECT e.owner, p.owner, e.steps_done FROM enrollments e JOIN prospects p ON p.id = e.prospect_id "
                 "WHERE e.id = :i"), {"i": enrollment_id}
        ).one()
    assert tuple(owners) == ("lee", "lee", 1)
    db.dispose()
