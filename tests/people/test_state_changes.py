"""Taking prospects out and looking them up: pause, resume, stop, unenroll, mark-replied,
suppression, the enrollment listing and a prospect's timeline. SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sequencer.db.models import Enrollment
from sequencer.errors import NotFound, UserError
from sequencer.people import state_changes, suppression
from sequencer.people import timeline as timelines
from tests.people.world import count, enroll


def test_timeline_through_pause_resume_stop(db, world, clock) -> None:
    first = enroll(db, world, clock, "dana@acme.com", tz="America/New_York")
    clock.advance(timedelta(hours=1))
    until = clock.now() + timedelta(days=7)
    [paused] = state_changes.pause(
        db,
        email="dana@acme.com",
        reason="on holiday",
        until=until,
        now=clock.now(),
        actor="cli:sam",
    )
    assert (paused.to_status, paused.paused_until) == ("paused", until)
    clock.set(datetime(2026, 3, 14, 3, 0, tzinfo=UTC))  # Saturday: the planned touch is long past
    [resumed] = state_changes.resume(
        db, world.config, world.sequences, email="dana@acme.com", now=clock.now(), actor="cli:sam"
    )
    assert first.next_send_at < clock.now()
    assert resumed.next_send_at == datetime(2026, 3, 16, 12, 30, tzinfo=UTC)  # Mon 08:30 EDT
    clock.advance(timedelta(days=1))
    state_changes.stop(
        db, email="dana@acme.com", reason="went with a competitor", now=clock.now(), actor="cli:lee"
    )

    t = timelines.timeline(db, "DANA@acme.com", now=clock.now())
    events = [(e.kind, e.actor, e.reason) for e in t.entries if e.source == "event"]
    assert events == [
        ("enrolled", "cli", "enrolled in quote"),
        ("paused", "cli:sam", "on holiday"),
        ("resumed", "cli:sam", "resumed by cli:sam"),
        ("stopped", "cli:lee", "went with a competitor"),
    ]
    assert [e.at for e in t.entries] == sorted(e.at for e in t.entries)
    assert t.entries[1].detail["from"] == "active" and t.entries[1].detail["to"] == "paused"
    [row] = t.enrollments
    assert (row.status, row.next_send_at, row.step) == ("stopped", None, "0/3")


def test_resume_keeps_a_future_touch_time(db, world, clock) -> None:
    clock.set(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # Saturday
    first = enroll(db, world, clock, "dana@acme.com")  # Monday 08:30 Chicago
    state_changes.pause(db, email="dana@acme.com", now=clock.now())
    [resumed] = state_changes.resume(
        db, world.config, world.sequences, email="dana@acme.com", now=clock.now()
    )
    assert resumed.next_send_at == first.next_send_at


def test_pause_or_resume_needs_a_matching_enrollment(db, world, clock) -> None:
    enroll(db, world, clock, "dana@acme.com")
    with pytest.raises(NotFound):
        state_changes.resume(db, world.config, world.sequences, email="dana@acme.com", now=clock.now())
    with pytest.raises(UserError, match="name a prospect"):
        state_changes.pause(db, now=clock.now())
    with pytest.raises(UserError, match="not in the future"):
        state_changes.pause(db, email="dana@acme.com", until=clock.now(), now=clock.now())
    with pytest.raises(NotFound, match="no prospect"):
        state_changes.stop(db, email="nobody@acme.com", now=clock.now())


def test_pause_a_whole_sequence(db, world, clock) -> None:
    for i in range(3):
        enroll(db, world, clock, f"p{i}@acme.com")
    enroll(db, world, clock, "x@other.com", sequence_id="nurture")
    changes = state_changes.pause(db, sequence_id="quote", reason="pricing change", now=clock.now())
    assert sorted(c.email for c in changes) == ["p0@acme.com", "p1@acme.com", "p2@acme.com"]
    assert count(db, Enrollment, Enrollment.status == "paused") == 3


def test_mark_replied_stops_open_and_then_completed_enrollments(db, world, clock) -> None:
    enroll(db, world, clock, "dana@acme.com")
    [change] = state_changes.mark_replied(db, email="dana@acme.com", note="called back", now=clock.now())
    assert (change.from_status, change.to_status, change.reason) == (
        "active",
        "replied",
        "called back",
    )
    with db.session() as s:
        e = s.scalars(select(Enrollment)).one()
        assert e.replied_at == clock.now() and e.next_send_at is None
    with pytest.raises(NotFound):
        state_changes.mark_replied(db, email="dana@acme.com", now=clock.now())


def test_suppressing_a_domain_stops_every_open_enrollment_there(db, world, clock) -> None:
    a = enroll(db, world, clock, "a@acme.com")
    b = enroll(db, world, clock, "b@acme.com", sequence_id="nurture")
    state_changes.pause(db, email="b@acme.com", now=clock.now())
    c = enroll(db, world, clock, "c@notacme.com")
    result = suppression.suppress_add(db, "ACME.com", reason="asked by legal", now=clock.now())
    assert (result.value, result.kind, result.created) == ("acme.com", "domain", True)
    assert sorted(x.enrollment_id for x in result.stopped) == sorted(
        [a.enrollment_id, b.enrollment_id]
    )
    with db.session() as s:
        statuses = {e.id: (e.status, e.status_reason) for e in s.scalars(select(Enrollment))}
    assert statuses[a.enrollment_id] == ("stopped", "suppressed: acme.com (asked by legal)")
    assert statuses[c.enrollment_id][0] == "active"
    assert suppression.suppress_add(db, "@acme.com", now=clock.now()).created is False
    assert [r.value for r in suppression.suppress_list(db)] == ["acme.com"]
    assert suppression.suppress_remove(db, "@acme.com", now=clock.now()) is True
    assert suppression.suppress_remove(db, "acme.com", now=clock.now()) is False
    assert enroll(db, world, clock, "new@acme.com").enrolled


def test_suppression_values_are_checked() -> None:
    assert suppression.parse_suppression("@Example.COM") == ("example.com", "domain")
    assert suppression.parse_suppression("Dana@Example.com") == ("dana@example.com", "address")
    for bad in ("localhost", "@", "a b.com", "x@"):
        with pytest.raises(UserError):
            suppression.parse_suppression(bad)


def test_list_shows_step_status_and_days_in_state(db, world, clock) -> None:
    enroll(db, world, clock, "a@acme.com", owner="sam")
    enroll(db, world, clock, "b@acme.com", owner="lee")
    state_changes.pause(db, email="b@acme.com", reason="waiting on budget", now=clock.now())
    clock.advance(timedelta(days=3, hours=12))
    rows = timelines.list_enrollments(db, now=clock.now())
    # soonest next touch first: lee's prospect is timed in Berlin (due at once), sam's in Chicago
    assert [(r.email, r.step, r.status, r.days_in_state) for r in rows] == [
        ("b@acme.com", "1/3", "paused", 3.5),
        ("a@acme.com", "1/3", "active", 3.5),
    ]
    assert [r.email for r in timelines.list_enrollments(db, now=clock.now(), owner="lee")] == [
        "b@acme.com"
    ]
    assert [r.email for r in timelines.list_enrollments(db, now=clock.now(), status="paused")] == [
        "b@acme.com"
    ]
    due = timelines.list_enrollments(db, now=clock.now(), due_before=clock.now())
    assert [r.email for r in due] == ["b@acme.com", "a@acme.com"]
    assert (
        timelines.list_enrollments(
            db, now=clock.now(), due_before=datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        )[0].email
        == "b@acme.com"
    )
    assert (
        len(
            timelines.list_enrollments(
                db, now=clock.now(), due_before=datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
            )
        )
        == 1
    )
    assert timelines.list_enrollments(db, now=clock.now(), sequence_id="nurture") == []
    with pytest.raises(UserError, match="unknown status"):
        timelines.list_enrollments(db, now=clock.now(), status="sleeping")
