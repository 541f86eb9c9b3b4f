"""The sending engine against the real SMTP front + Dovecot, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.db import outbox
from sequencer.db.models import Enrollment, Message, Suppression
from sequencer.db.session import Database
from sequencer.outbound import operations as outbox_ops
from sequencer.outbound.engine import Engine
from tests.kit import World, mark_polled, parse
from tests.servers import Fault

pytestmark = pytest.mark.servers

# --------------------------------------------------------------------------------------------


def test_four_step_sequence_arrives_threaded_at_local_times(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("dana")
    ny = ZoneInfo("America/New_York")
    eid = world.enroll(prospect, tz="America/New_York")
    # Monday 09:00 UTC is 04:00 in New York: nothing goes before the window opens.
    assert world.tick().sent == 0
    for _ in range(4):
        due = world.enrollment(eid).next_send_at
        assert due is not None
        clock.set(due - timedelta(minutes=5))
        assert world.tick().sent == 0, "nothing goes before the touch is due"
        clock.set(due + timedelta(minutes=1))
        assert world.tick().sent == 1
    assert world.enrollment(eid).status == "completed"

    inbox = mail.wait_for(prospect, 4)
    assert len(inbox) == 4
    dates = [parsedate_to_datetime(m["Date"]).astimezone(ny) for m in inbox]
    for d in dates:
        assert d.weekday() < 5 and (8, 0) <= (d.hour, d.minute) < (17, 30), d
    assert dates[0].date().isoformat() == "2026-03-02"
    assert dates[1].date().isoformat() == "2026-03-04"  # 2 business days later
    assert dates[2].date().isoformat() == "2026-03-09"  # 3 business days after Wednesday
    assert dates[3].date().isoformat() == "2026-03-16"  # a week later

    first = inbox[0]
    assert first["Subject"] == "Your quote for Acme"
    assert first["From"].addresses[0].addr_spec == world.rep
    assert first["In-Reply-To"] is None
    assert first["List-Unsubscribe"].startswith(f"<mailto:{world.rep.split('@')[0]}")
    ids = [m["Message-ID"] for m in inbox]
    for k in range(1, 4):
        assert inbox[k]["Subject"] == "Re: Your quote for Acme"
        assert inbox[k]["In-Reply-To"] == ids[k - 1]
        assert inbox[k]["References"].split() == ids[:k]
    assert inbox[2].get_body(("html",)) is not None
    with db.session() as s:
        stored = [m for (m,) in s.execute(select(Message.message_id).order_by(Message.step))]
    assert stored == ids

    sent_copies = mail.wait_for(world.rep, 4, folder="Sent")
    assert sorted(m["Message-ID"] for m in sent_copies) == sorted(ids)


def test_follow_up_waits_for_an_inbox_poll_after_it_became_due(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    eid = world.enroll(mail.new_address("dana"))
    assert world.tick().sent == 1
    due = world.enrollment(eid).next_send_at
    assert due is not None
    clock.set(due + timedelta(minutes=1))
    # The inbox was read before the follow-up became due: a reply may have come since.
    mark_polled(db, "rep0", due - timedelta(minutes=1))
    assert world.tick(poll=False).sent == 0
    assert world.enrollment(eid).wait_reason == outbox.WAIT_POLL
    [status] = outbox_ops.status(db, world.config, clock)
    assert status.overdue == {outbox.WAIT_POLL: 1}
    assert world.tick(poll=True).sent == 1


def test_reply_that_arrived_before_the_follow_up_stops_it_through_the_real_poll(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("dana")
    eid = world.enroll(prospect)
    assert world.tick().sent == 1
    [touch] = mail.wait_for(prospect, 1)
    reply = EmailMessage()
    reply["From"], reply["To"] = prospect, world.rep
    reply["Subject"] = "Re: " + touch["Subject"]
    reply["In-Reply-To"] = touch["Message-ID"]
    reply["Message-ID"] = make_msgid(domain="prospect.example")
    reply.set_content("Thanks, let's talk on Thursday.")
    mail.send(reply, prospect, [world.rep])
    mail.wait_for(world.rep, 1)
    due = world.enrollment(eid).next_send_at
    assert due is not None
    clock.set(due + timedelta(minutes=1))
    assert world.tick(poll=False).sent == 0, "the follow-up waits until the inbox is read"
    world.poll()  # the production poller: records the reply and the watermark
    assert world.enrollment(eid).status == "replied"
    assert world.tick(poll=False).sent == 0
    assert len(mail.wait_for(prospect, 1)) == 1


def test_451_is_retried_with_backoff_then_sent_once(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("dana")
    eid = world.enroll(prospect)
    mail.relay.faults[prospect] = Fault(replies=["451 4.7.1 Greylisted, try again later"])
    result = world.tick()
    assert (result.sent, result.retrying) == (0, 1)
    e = world.enrollment(eid)
    assert e.status == "active" and e.wait_reason and e.wait_reason.startswith("retry 1/")
    assert e.next_send_at == clock.now() + timedelta(
        seconds=world.config.sending.retry_base_seconds
    )
    assert world.tick().sent == 0, "the backoff is honoured"
    clock.advance(timedelta(minutes=6))
    assert world.tick().sent == 1
    inbox = mail.wait_for(prospect, 1)
    assert len(inbox) == 1
    with db.session() as s:
        row = s.scalars(select(Message)).one()
    assert row.status == "sent" and row.attempts == 2 and inbox[0]["Message-ID"] == row.message_id
    assert world.enrollment(eid).wait_reason is None


def test_550_bounces_and_suppresses_only_that_recipient(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    bad, good = mail.new_address("gone"), mail.new_address("dana")
    bad_id = world.enroll(bad)
    good_id = world.enroll(good)
    mail.relay.faults[bad] = Fault(permanent=f"550 5.1.1 <{bad}>: Recipient address rejected")
    result = world.tick()
    assert (result.sent, result.bounced) == (1, 1)
    assert world.enrollment(bad_id).status == "bounced"
    assert world.enrollment(good_id).status == "active"
    with db.session() as s:
        assert s.scalars(select(Suppression.value)).all() == [bad]
    assert len(mail.wait_for(good, 1)) == 1
    clock.advance(timedelta(days=10))
    world.tick()
    assert not any(bad in rcpts for _f, rcpts, _raw in mail.relay.messages[1:])


def test_window_and_daily_limit_hold_the_rest_until_next_business_morning(
    db: Database, mail: Any, tmp_path: Path
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    clock = ManualClock(datetime(2026, 3, 6, 16, 0, tzinfo=berlin))  # a Friday afternoon
    world = World(
        tmp_path, db, mail, clock, sequence="quote", daily_limit=3, timezone="Europe/Berlin"
    )
    prospects = [mail.new_address(f"p{i}") for i in range(5)]
    for p in prospects:
        world.enroll(p, tz="Europe/Berlin")
    result = world.tick()
    assert result.sent == 3 and result.deferred == {outbox.WAIT_LIMIT: 2}
    [status] = outbox_ops.status(db, world.config, clock)
    assert (status.sent_today, status.daily_limit) == (3, 3)
    assert status.waiting == {outbox.WAIT_LIMIT: 2}
    for hour in (17, 20, 23):
        clock.set(datetime(2026, 3, 6, hour, 0, tzinfo=berlin))
        assert world.tick().sent == 0
    clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=berlin))  # Saturday
    assert world.tick().sent == 0
    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=berlin))  # Monday morning
    assert world.tick().sent == 2

    dates = [
        parsedate_to_datetime(parse(raw)["Date"]).astimezone(berlin)
        for _f, _r, raw in mail.relay.messages
    ]
    assert [d.date().isoformat() for d in dates] == ["2026-03-06"] * 3 + ["2026-03-09"] * 2
    assert all((8, 0) <= (d.hour, d.minute) < (17, 30) for d in dates)


def test_touch_due_outside_the_window_moves_to_the_next_opening(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    eid = world.enroll(mail.new_address("dana"))
    night = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    with db.session() as s:
        s.get(Enrollment, eid).next_send_at = night  # type: ignore[union-attr]
    clock.set(night + timedelta(minutes=1))
    result = world.tick()
    assert result.sent == 0 and result.deferred == {outbox.WAIT_WINDOW: 1}
    e = world.enrollment(eid)
    assert (
        e.next_send_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
        and e.wait_reason == outbox.WAIT_WINDOW
    )
    assert mail.relay.messages == []


def test_refused_login_pauses_mailbox_and_sends_nothing(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQ_WRONG_PASSWORD", "not-the-password")
    world = World(tmp_path, db, mail, clock, sequence="quote", password_env="SEQ_WRONG_PASSWORD")
    eid = world.enroll(mail.new_address("dana"))
    result = world.tick()
    assert result.sent == 0 and "rep0" in result.paused
    assert (
        "refused the login" in result.paused["rep0"]
        and "not-the-password" not in result.paused["rep0"]
    )
    assert mail.relay.messages == []
    e = world.enrollment(eid)
    assert e.status == "active" and e.steps_done == 0 and e.lease_owner is None
    [status] = outbox_ops.status(db, world.config, clock)
    assert status.paused_reason and status.overdue == {"due": 1}
    assert world.tick().sent == 0, "a paused mailbox stays paused"

    monkeypatch.setenv("SEQ_WRONG_PASSWORD", "secret")
    assert outbox_ops.unpause(db, clock, "rep0")
    assert world.tick().sent == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1


def test_connections_are_reused_and_replaced_after_the_server_drops_them(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    import asyncio

    world = World(tmp_path, db, mail, clock, sequence="quote")
    for i in range(6):
        world.enroll(mail.new_address(f"p{i}"))

    async def scenario() -> tuple[int, int]:
        engine = Engine(db, world.config, world.sequences, world.templates, clock, worker_id="t")
        try:
            first = await engine.tick()
            opened = mail.relay.connections
            mail.relay.stop()  # the server goes away; pooled connections are dead
            mail.relay.start(mail.dovecot.lmtp_port)
            for i in range(2):
                world.enroll(mail.new_address(f"q{i}"))
            second = await engine.tick()
            return first.sent + second.sent, opened
        finally:
            await engine.aclose()

    sent, opened = asyncio.run(scenario())
    assert sent == 8
    assert opened <= world.config.mailboxes[0].concurrency
    assert len(mail.relay.messages) == 8


def test_dry_run_changes_nothing(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    eid = world.enroll(mail.new_address("dana"))
    result = world.tick(dry_run=True)
    assert [p["subject"] for p in result.planned] == ["Your quote for Acme"]
    assert mail.relay.messages == []
    e = world.enrollment(eid)
    assert e.steps_done == 0 and e.lease_owner is None
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_per_minute_rate_is_honoured_when_the_server_is_fast(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(
        tmp_path,
        db,
        mail,
        clock,
        sequence="quote",
        per_minute=2,
        min_spacing_seconds=40,
        max_spacing_seconds=50,
    )
    for i in range(4):
        world.enroll(mail.new_address(f"p{i}"))
    sent_at = []
    for _ in range(30):  # 5 simulated minutes in 10-second steps
        if world.tick().sent:
            sent_at.append(clock.now())
        clock.advance(timedelta(seconds=10))
    assert len(sent_at) == 4
    gaps = [(b - a).total_seconds() for a, b in zip(sent_at, sent_at[1:], strict=False)]
    assert all(g >= 40 for g in gaps), gaps
