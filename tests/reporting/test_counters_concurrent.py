"""The counter triggers under concurrent writers on PostgreSQL: no deadlock, no lost count.

Two transactions moving counters in opposite directions between the same reps and
statuses share counter keys. If the triggers updated a counter row in place, each would
hold one key's row and wait for the other's (PostgreSQL aborts one with "deadlock
detected"), and two writers creating the same key at once could both miss it. The
writers here work on disjoint enrollments, so any wait between them comes from the
counters alone; afterwards every counter-derived figure must equal the scan.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

from sqlalchemy import Connection, text

from sequencer.clock import ManualClock
from sequencer.db import counted, counters
from sequencer.db import reports as scan
from sequencer.db.reports import ReportFilter
from sequencer.db.session import Database
from tests.people.world import enroll, make_world
from tests.servers import Postgres

REPS = ("sam", "lee")


def _seed(pg: Postgres, tmp_path, monkeypatch, clock: ManualClock, n: int) -> Database:  # noqa: ANN001
    url = pg.fresh_database()
    db = Database(url)
    world = make_world(tmp_path, url, monkeypatch)
    for i in range(n):
        enroll(db, world, clock, f"lead{i}@acme.example", "quote" if i % 3 else "nurture",
               owner=REPS[i % 2], value=str(100 + i))
        clock.advance(timedelta(minutes=5))
    return db


def _assert_agree(db: Database) -> None:
    with db.read_session() as s:
        for f in (ReportFilter(), ReportFilter(owner="sam"), ReportFilter(sequence="quote")):
            def key(g: scan.StatusGroup) -> tuple:
                return (g.sequence_id, g.owner or "", g.status, g.steps_done, g.replied_step or 0, g.count, g.replies)

            assert sorted(map(key, counted.status_groups(s, f))) == sorted(map(key, scan.status_groups(s, f))), f
            assert counted.pipeline_value(s, f) == scan.pipeline_value(s, f), f


def _ids(conn: Connection) -> list[int]:
    return list(conn.execute(text("SELECT id FROM enrollments ORDER BY id")).scalars())


def _run_both(*work) -> list[BaseException]:  # noqa: ANN002
    errors: list[BaseException] = []

    def wrap(fn) -> None:  # noqa: ANN001
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - the test reports what each writer hit
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer is still blocked"
    return errors


def test_opposite_moves_between_the_same_reps_neither_deadlock_nor_lose_counts(
    postgres: Postgres, tmp_path, monkeypatch, clock: ManualClock  # noqa: ANN001
) -> None:
    db = _seed(postgres, tmp_path, monkeypatch, clock, 4)
    with db.engine.connect() as a, db.engine.connect() as b:
        e1, e2, e3, e4 = _ids(a)  # e1, e3 are sam's; e2, e4 lee's (autobegun: one transaction each)
        # each holds a write on one key of the other's next move
        a.execute(text("UPDATE enrollments SET owner = 'lee' WHERE id = :i"), {"i": e1})
        b.execute(text("UPDATE enrollments SET owner = 'sam' WHERE id = :i"), {"i": e2})

        def first() -> None:
            a.execute(text("UPDATE enrollments SET status = 'replied', replied_at = now() WHERE id = :i"), {"i": e4})
            a.commit()

        def second() -> None:
            b.execute(text("UPDATE enrollments SET status = 'replied', replied_at = now() WHERE id = :i"), {"i": e3})
            b.commit()

        errors = _run_both(first, second)
    assert errors == []
    _assert_agree(db)
    db.dispose()


def test_two_writers_with_random_transitions_keep_the_counters_exact(
    postgres: Postgres, tmp_path, monkeypatch, clock: ManualClock  # noqa: ANN001
) -> None:
    db = _seed(postgres, tmp_path, monkeypatch, clock, 24)
    with db.engine.connect() as c:
        ids = _ids(c)
    moves = [
        "UPDATE enrollments SET owner = CASE owner WHEN 'sam' THEN 'lee' ELSE 'sam' END WHERE id = :i",
        "UPDATE enrollments SET steps_done = steps_done + 1 WHERE id = :i",
        "UPDATE enrollments SET status = 'paused' WHERE id = :i AND status = 'active'",
        "UPDATE enrollments SET status = 'active' WHERE id = :i AND status = 'paused'",
        "UPDATE enrollments SET status = 'replied', replied_at = now(), replied_step = 1 WHERE id = :i",
        "UPDATE enrollments SET answered_at = now() WHERE id = :i AND replied_at IS NOT NULL",
        "UPDATE enrollments SET status = 'unenrolled' WHERE id = :i",
        "UPDATE enrollments SET status = 'bounced' WHERE id = :i AND status = 'active'",
        "UPDATE prospects SET deal_value = deal_value + 1 WHERE id = (SELECT prospect_id FROM enrollments "
        "WHERE id = :i)",
    ]

    def writer(mine: list[int], seed: int) -> None:
        rnd = random.Random(seed)
        with db.engine.connect() as conn:
            for _ in range(60):
                for i in sorted(rnd.sample(mine, 3)):
                    conn.execute(text(rnd.choice(moves)), {"i": i})
                if rnd.random() < 0.2:  # fold the deltas while the other writer appends
                    counters.compact(conn)
                conn.commit()

    errors = _run_both(lambda: writer(ids[0::2], 1), lambda: writer(ids[1::2], 2))
    assert errors == []
    _assert_agree(db)
    with db.session() as s:
        counters.compact(s.connection())
        keys = s.execute(text("SELECT count(*), count(DISTINCT (sequence_id, owner, status, steps_done, "
                              "replied_step)) FROM report_status_counts")).one()
    assert keys[0] == keys[1]  # folded: one row per key
    _assert_agree(db)
    db.dispose()
