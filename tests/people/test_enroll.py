"""Enrollment service: guards, first-touch scheduling, state changes, suppression, timelines.

Every test runs on SQLite and PostgreSQL (the ``db`` fixture). ``make_world`` writes
a real config.yaml, two sequences and their templates into tmp_path; the CSV and
CLI tests reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.config import Config, load_config
from sequencer.core.sequences import Sequence, load_sequences
from sequencer.core.templates import TemplateStore
from sequencer.db.models import Enrollment, Event, Prospect
from sequencer.errors import AlreadyEnrolled, InvalidAddress, NotFound, Suppressed, UserError
from sequencer.people import enroll as svc
from sequencer.people import state_changes, suppression
from sequencer.people import timeline as timelines
from sequencer.people.guards import MissingVariables

QUOTE_SEQUENCE = """\
name: Quote follow-up
steps:
  - wait: 0
    template: quote/01
    subject: "Your quote for {{ company }}"
  - wait: 2 business days
    template: quote/02
  - wait: 3 business days
    template: quote/02
"""

NURTURE_SEQUENCE = """\
name: Nurture
timezone: Europe/London
send_window: {days: [mon, tue, wed, thu, fri], start: "10:00", end: "12:00"}
steps:
  - wait: 1 day
    template: nurture/01
    subject: "Hello {{ first_name | default('there') }}"
"""


@dataclass
class World:
    root: Path
    config_path: Path
    config: Config
    sequences: dict[str, Sequence]


def make_world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> World:
    """config.yaml (database = db_url), sequences/quote.yaml + nurture.yaml, templates, 2 mailboxes."""
    monkeypatch.setenv("SEQ_TEST_PASSWORD", "secret")
    root = tmp_path / "world"
    (root / "sequences").mkdir(parents=True, exist_ok=True)
    for name in ("quote", "nurture"):
        (root / "templates" / name).mkdir(parents=True, exist_ok=True)
    (root / "templates" / "quote" / "01.txt").write_text(
        "Hi {{ first_name | default('there') }},\n\nquote {{ quote_number }} for {{ company }}.\n"
    )
    (root / "templates" / "quote" / "02.txt").write_text("Any news on {{ quote_number }}?\n")
    (root / "templates" / "nurture" / "01.txt").write_text("Thought you might like this.\n")
    (root / "sequences" / "quote.yaml").write_text(QUOTE_SEQUENCE)
    (root / "sequences" / "nurture.yaml").write_text(NURTURE_SEQUENCE)

    def mailbox(name: str, tz: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "address": f"{name}@rep.example",
            "owner": name,
            "password_env": "SEQ_TEST_PASSWORD",
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
            "send_window": {"days": "business", "start": "08:30", "end": "17:00"},
        }
        if tz:
            entry["timezone"] = tz
        return entry

    config = {
        "database": db_url,
        "timezone": "America/Chicago",
        "holidays": "US",
        "sequences_dir": "sequences",
        "templates_dir": "templates",
        "mailboxes": [mailbox("sam"), mailbox("lee", "Europe/Berlin")],
        **extra,
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cfg = load_config(path)
    sequences = load_sequences(cfg.sequences_path, TemplateStore(cfg.templates_path))
    return World(root, path, cfg, sequences)


@pytest.fixture
def world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(tmp_path, db_url, monkeypatch)


def enroll(
    db: Any, world: World, clock: ManualClock, email: str, sequence_id: str = "quote", **kw: Any
) -> svc.EnrollResult:
    kw.setdefault("company", "Acme")
    kw.setdefault("fields", {"quote_number": "Q-1"})
    return svc.enroll(
        db,
        world.config,
        world.sequences,
        email=email,
        sequence_id=sequence_id,
        now=clock.now(),
        **kw,
    )


def count(db: Any, model: Any, *where: Any) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# --- scheduling -----------------------------------------------------------------------


def test_first_touch_waits_for_the_prospects_monday_morning(db, world, clock) -> None:
    clock.set(datetime(2026, 3, 6, 22, 0, tzinfo=UTC))  # Friday 22:00 UTC = Saturday 07:00 Tokyo
    result = enroll(db, world, clock, "Dana.W@Acme.com", tz="Asia/Tokyo")
    assert result.enrolled and result.timezone == "Asia/Tokyo"
    # Monday 9 March 08:30 in Tokyo (the mailbox's window) = Sunday 23:30 UTC
    assert result.next_send_at == datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
    assert result.next_send_local.strftime("%a %H:%M") == "Mon 08:30"


def test_first_touch_skips_a_public_holiday_in_the_config_time_zone(db, world, clock) -> None:
    clock.set(datetime(2026, 5, 23, 15, 0, tzinfo=UTC))  # Saturday before Memorial Day
    result = enroll(db, world, clock, "dana@acme.com")
    assert result.timezone == "America/Chicago"
    assert result.next_send_at == datetime(2026, 5, 26, 13, 30, tzinfo=UTC)  # Tue 08:30 CDT


def test_sequence_window_and_wait_apply_and_rep_zone_is_the_fallback(db, world, clock) -> None:
    # nurture: wait 1 day, weekdays 10:00-12:00, sequence zone Europe/London
    result = enroll(db, world, clock, "dana@acme.com", sequence_id="nurture", owner="lee")
    assert result.mailbox == "lee" and result.timezone == "Europe/London"
    assert result.next_send_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    # a sequence without its own zone uses the rep's mailbox zone (lee: Europe/Berlin)
    other = enroll(db, world, clock, "bo@acme.com", owner="lee")
    assert other.timezone == "Europe/Berlin"


def test_start_in_the_past_never_schedules_before_now(db, world, clock) -> None:
    result = enroll(
        db,
        world,
        clock,
        "dana@acme.com",
        sequence_id="nurture",
        start=clock.now() - timedelta(days=30),
    )
    assert result.next_send_at >= clock.now()


def test_enrollment_records_mailbox_steps_token_and_an_event(db, world, clock) -> None:
    result = enroll(
        db,
        world,
        clock,
        "Dana <Dana@Acme.com>",
        name="Dana Whitfield",
        owner="sam",
        value="$12,000",
        tz="Europe/Berlin",
    )
    with db.session() as s:
        e = s.get(Enrollment, result.enrollment_id)
        p = s.get(Prospect, result.prospect_id)
        events = list(s.scalars(select(Event).where(Event.enrollment_id == e.id)))
    assert (e.status, e.mailbox, e.owner, e.total_steps, e.steps_done) == (
        "active",
        "sam",
        "sam",
        3,
        0,
    )
    assert len(e.token) >= 20 and e.next_send_at == result.next_send_at
    assert p.email == "dana@acme.com" and p.display_email == "Dana <Dana@Acme.com>"
    assert str(p.deal_value) == "12000.00" and p.fields == {"quote_number": "Q-1"}
    assert [(ev.kind, ev.actor) for ev in events] == [("enrolled", "cli")]


def test_enrolling_again_updates_the_prospect_but_not_its_data_with_blanks(
    db, world, clock
) -> None:
    enroll(db, world, clock, "dana@acme.com", name="Dana")
    again = enroll(
        db,
        world,
        clock,
        "DANA@acme.com",
        company="Acme GmbH",
        name=None,
        fields={"quote_number": "Q-2", "extra": ""},
    )
    assert not again.enrolled and again.prospect_updated
    with db.session() as s:
        p = s.scalars(select(Prospect)).one()
    assert (p.name, p.company, p.fields) == ("Dana", "Acme GmbH", {"quote_number": "Q-2"})


# --- guards ---------------------------------------------------------------------------


def test_already_active_in_same_sequence_is_not_enrolled_twice(db, world, clock) -> None:
    first = enroll(db, world, clock, "dana@acme.com")
    second = enroll(db, world, clock, "dana@acme.com", force=True)
    assert not second.enrolled and second.enrollment_id == first.enrollment_id
    assert "already active" in second.skipped_reason
    assert count(db, Enrollment) == 1


def test_paused_in_same_sequence_also_counts_as_enrolled(db, world, clock) -> None:
    enroll(db, world, clock, "dana@acme.com")
    state_changes.pause(db, email="dana@acme.com", reason="vacation", now=clock.now())
    assert not enroll(db, world, clock, "dana@acme.com").enrolled


def test_active_elsewhere_needs_allow_parallel(db, world, clock) -> None:
    enroll(db, world, clock, "dana@acme.com", sequence_id="nurture")
    with pytest.raises(AlreadyEnrolled, match="already active in sequence nurture"):
        enroll(db, world, clock, "dana@acme.com")
    assert count(db, Enrollment) == 1
    result = enroll(db, world, clock, "dana@acme.com", allow_parallel=True)
    assert result.enrolled and result.also_active_in == ("nurture",)


def test_suppressed_address_or_domain_is_never_enrolled_even_with_force(db, world, clock) -> None:
    suppression.suppress_add(db, "dana@acme.com", reason="unsubscribed", now=clock.now())
    suppression.suppress_add(db, "@bounce.example", reason="hard bounce", now=clock.now())
    for email in ("Dana@ACME.com", "anyone@bounce.example"):
        with pytest.raises(Suppressed):
            enroll(db, world, clock, email, force=True, allow_parallel=True)
    assert count(db, Enrollment) == 0 and count(db, Prospect) == 0


def test_finished_sequence_needs_force(db, world, clock) -> None:
    enroll(db, world, clock, "dana@acme.com")
    state_changes.stop(db, email="dana@acme.com", reason="lost deal", now=clock.now())
    with pytest.raises(AlreadyEnrolled, match=r"before \(stopped"):
        enroll(db, world, clock, "dana@acme.com")
    assert enroll(db, world, clock, "dana@acme.com", force=True).enrolled
    assert count(db, Enrollment) == 2


def test_unenrolled_prospect_can_be_enrolled_again_without_force(db, world, clock) -> None:
    enroll(db, world, clock, "dana@acme.com")
    state_changes.unenroll(db, email="dana@acme.com", reason="wrong sequence", now=clock.now())
    assert enroll(db, world, clock, "dana@acme.com").enrolled


def test_missing_template_variable_is_refused_and_nothing_written(db, world, clock) -> None:
    with pytest.raises(MissingVariables, match="quote_number"):
        enroll(db, world, clock, "dana@acme.com", fields={})
    assert count(db, Prospect) == 0


def test_invalid_address_unknown_sequence_and_owner_are_user_errors(db, world, clock) -> None:
    with pytest.raises(InvalidAddress):
        enroll(db, world, clock, "dana@@acme")
    with pytest.raises(NotFound, match="no sequence 'nope'"):
        enroll(db, world, clock, "dana@acme.com", sequence_id="nope")
    with pytest.raises(NotFound, match="no mailbox for owner 'kim'"):
        enroll(db, world, clock, "dana@acme.com", owner="kim")
    with pytest.raises(UserError, match="unknown time zone"):
        enroll(db, world, clock, "dana@acme.com", tz="Mars/Olympus")


# --- state changes and timeline -------------------------------------------------------


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
