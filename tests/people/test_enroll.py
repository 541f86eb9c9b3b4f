"""Enrollment service: guards and first-touch scheduling.

Every test runs on SQLite and PostgreSQL (the ``db`` fixture) in the ``world`` of
``tests.people.world``: a real config.yaml, two sequences and their templates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sequencer.db.models import Enrollment, Event, Prospect
from sequencer.errors import AlreadyEnrolled, InvalidAddress, NotFound, Suppressed, UserError
from sequencer.people import state_changes, suppression
from sequencer.people.guards import MissingVariables
from tests.people.world import count, enroll

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


def test_start_in_the_past_sends_at_the_next_window_not_a_wait_from_now(db, world, clock) -> None:
    # nurture: wait 1 day, weekdays 10:00-12:00 London; now is Monday 09:00 in London.
    # The clock started 30 days ago, so the wait is long over and the first touch goes
    # when today's window opens; ignoring start would wait a day (Tuesday 10:00).
    result = enroll(
        db,
        world,
        clock,
        "dana@acme.com",
        sequence_id="nurture",
        start=clock.now() - timedelta(days=30),
    )
    assert result.next_send_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_start_in_the_future_counts_the_wait_from_start(db, world, clock) -> None:
    start = datetime(2026, 3, 4, 11, 30, tzinfo=UTC)  # Wednesday 11:30 in London
    result = enroll(db, world, clock, "dana@acme.com", sequence_id="nurture", start=start)
    assert result.next_send_at == datetime(2026, 3, 5, 11, 30, tzinfo=UTC)  # a day on, in the window


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
