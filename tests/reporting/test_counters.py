"""The report's counters equal the scans they replace, after any history of transitions.

Random but seeded histories through the real services (enroll, re-enroll, pause, resume,
stop, unenroll, mark-replied, reassign, stage moves, deal value changes) plus the engine's
own writes (a touch sent, a reply, the rep's answer) and a bulk SQL statement, on SQLite
and PostgreSQL; after every few steps each counter-derived figure is compared with the
scan of sequencer.db.reports, for the unfiltered report, a rep, a sequence and a cohort.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from sequencer.clock import ManualClock
from sequencer.core import lifecycle
from sequencer.db import counted, counters
from sequencer.db import reports as scan
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.reports import ReportFilter
from sequencer.db.session import Database
from sequencer.db.store import transition
from sequencer.errors import UserError
from sequencer.people import stages, state_changes
from tests.people.world import World, enroll, make_world

EMAILS = [f"lead{i}@acme{i % 3}.example" for i in range(14)]
REPS = ("sam", "lee")


def _filters(clock: ManualClock, start) -> list[ReportFilter]:  # noqa: ANN001
    middle = start + (clock.now() - start) / 2
    return [
        ReportFilter(),
        ReportFilter(owner="sam"),
        ReportFilter(sequence="quote"),
        ReportFilter(sequence="nurture", owner="lee"),
        ReportFilter(since=middle),
        ReportFilter(until=middle, owner="lee"),
    ]


def _assert_agree(db: Database, clock: ManualClock, start) -> set[str]:  # noqa: ANN001
    """Every counter-derived figure equals its scan; returns the statuses seen."""
    with db.read_session() as s:
        for f in _filters(clock, start):
            want = sorted((g.sequence_id, g.owner or "", g.status, g.steps_done, g.replied_step or 0, g.count,
                           g.replies) for g in scan.status_groups(s, f))
            got = sorted((g.sequence_id, g.owner or "", g.status, g.steps_done, g.replied_step or 0, g.count,
                          g.replies) for g in counted.status_groups(s, f))
            assert got == want, f
            assert counted.pipeline_value(s, f) == scan.pipeline_value(s, f), f
        flags = sorted(s.execute(text("SELECT prospect_id, dead, waiting FROM prospect_flags")).all())
        want_flags = sorted(s.execute(text(
            "SELECT * FROM (SELECT prospect_id, "
            "sum(CASE WHEN status IN ('bounced', 'unsubscribed') THEN 1 ELSE 0 END) AS d, "
            "sum(CASE WHEN status = 'replied' AND replied_at IS NOT NULL AND answered_at IS NULL THEN 1 ELSE 0 END) AS w "
            "FROM enrollments GROUP BY prospect_id) x WHERE d > 0 OR w > 0")).all())
        assert flags == want_flags
        return {g.status for g in scan.status_groups(s, ReportFilter())}


def _enrollments(db: Database, *statuses: str) -> list[Enrollment]:
    with db.read_session() as s:
        return list(s.scalars(select(Enrollment).where(Enrollment.status.in_(statuses)).order_by(Enrollment.id)))


def _step(rnd: random.Random, db: Database, world: World, clock: ManualClock) -> None:
    action = rnd.choice(
        ["enroll", "enroll", "send", "send", "reply", "answer", "pause", "resume", "stop", "unenroll", "unenroll",
         "mark_replied", "reassign", "stage", "value", "bulk", "bounce"]
    )
    now = clock.now()
    email = rnd.choice(EMAILS)
    if rnd.random() < 0.5 and (open_ := _enrollments(db, lifecycle.ACTIVE, lifecycle.PAUSED)):
        with db.read_session() as s:  # someone with an open enrollment, so the service acts
            email = s.get(Prospect, rnd.choice(open_).prospect_id).email
    try:
        if action == "enroll":
            value = rnd.choice([None, "1500.50", "250", "99.99", "12000"])
            enroll(db, world, clock, email, rnd.choice(["quote", "nurture"]), owner=rnd.choice(REPS), value=value)
        elif action == "send" and (live := _enrollments(db, lifecycle.ACTIVE)):
            e = rnd.choice(live)
            with db.session() as s:
                row = s.get(Enrollment, e.id)
                row.steps_done += 1
                row.last_touch_at = now
                s.commit()
        elif action == "reply" and (live := _enrollments(db, lifecycle.ACTIVE, lifecycle.PAUSED)):
            e = rnd.choice(live)
            with db.session() as s:
                row = s.get(Enrollment, e.id)
                transition(s, row, lifecycle.REPLIED, now=now, actor="test", reason="reply",
                           replied_at=now, replied_step=row.steps_done or None)
                s.commit()
        elif action == "answer" and (waiting := _enrollments(db, lifecycle.REPLIED)):
            with db.session() as s:
                row = s.get(Enrollment, rnd.choice(waiting).id)
                if row.answered_at is None and row.replied_at is not None:
                    row.answered_at = now
                s.commit()
        elif action == "pause":
            state_changes.pause(db, email=email, reason="holiday", now=now, actor="test")
        elif action == "resume":
            state_changes.resume(db, world.config, world.sequences, email=email, now=now, actor="test")
        elif action == "stop":
            state_changes.stop(db, email=email, reason="lost", now=now, actor="test")
        elif action == "unenroll":
            state_changes.unenroll(db, email=email, reason="mistake", now=now, actor="test")
        elif action == "mark_replied":
            state_changes.mark_replied(db, email=email, note="called", now=now, actor="test")
        elif action == "reassign" and (any_e := _enrollments(db, *lifecycle.STATES)):
            state_changes.reassign(db, rnd.choice(any_e).id, rnd.choice(REPS), now=now, actor="test")
        elif action == "stage" and (any_e := _enrollments(db, *lifecycle.STATES)):
            stages.move_stage(db, rnd.choice(any_e).prospect_id, rnd.choice(["meeting", "won", "lost"]), "test", now)
        elif action == "value":
            with db.session() as s:
                p = s.scalar(select(Prospect).where(Prospect.email == email))
                if p is not None:
                    p.deal_value = rnd.choice([None, Decimal("10.10"), Decimal("777.77")])
                s.commit()
        elif action == "bounce" and (live := _enrollments(db, lifecycle.ACTIVE)):
            with db.session() as s:
                row = s.get(Enrollment, rnd.choice(live).id)
                transition(s, row, rnd.choice([lifecycle.BOUNCED, lifecycle.UNSUBSCRIBED]), now=now, actor="test",
                           reason="dsn")
                s.commit()
        elif action == "bulk":
            with db.session() as s:
                s.execute(text("UPDATE enrollments SET owner = :to WHERE status = 'paused'"), {"to": rnd.choice(REPS)})
                s.commit()
    except UserError:
        pass  # a service refusing (nothing open to pause, already enrolled, ...) is part of the history
    clock.advance(timedelta(hours=rnd.randint(1, 30)))


@pytest.mark.parametrize("seed", [1, 2])
def test_counters_equal_the_scans_after_random_histories(
    db: Database, db_url: str, tmp_path, monkeypatch, clock: ManualClock, seed: int  # noqa: ANN001
) -> None:
    world = make_world(tmp_path, db_url, monkeypatch)
    rnd = random.Random(seed)
    start = clock.now()
    seen: set[str] = set()
    for i in range(160):
        _step(rnd, db, world, clock)
        if i % 8 == 7:
            seen |= _assert_agree(db, clock, start)
    seen |= _assert_agree(db, clock, start)
    # the history went through the hard cases: a re-enrollment after an unenroll, replies
    assert {lifecycle.REPLIED, lifecycle.UNENROLLED, lifecycle.STOPPED} <= seen


def test_rebuild_gives_the_counters_the_triggers_kept(db: Database, db_url: str, tmp_path, monkeypatch,  # noqa: ANN001
                                                      clock: ManualClock) -> None:
    world = make_world(tmp_path, db_url, monkeypatch)
    rnd = random.Random(7)
    for _ in range(60):
        _step(rnd, db, world, clock)
    with db.read_session() as s:
        kept = (counted.status_groups(s, ReportFilter()), counted.pipeline_value(s, ReportFilter()))
    with db.session() as s:
        counters.rebuild(s.connection())
        s.commit()
    with db.read_session() as s:
        rebuilt = (counted.status_groups(s, ReportFilter()), counted.pipeline_value(s, ReportFilter()))
    assert sorted(map(repr, rebuilt[0])) == sorted(map(repr, kept[0]))
    assert rebuilt[1] == kept[1]
