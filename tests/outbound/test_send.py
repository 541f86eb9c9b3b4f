"""The sending engine against the real SMTP front + Dovecot, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.core.sequence_files import load_sequences
from sequencer.core.templates import TemplateStore
from sequencer.db import outbox
from sequencer.db.models import Enrollment, Message, Prospect, Suppression
from sequencer.outbound import engine as send
from sequencer.outbound import operations as outbox_ops
from sequencer.people.enroll import enroll
from sequencer.project import load_config
from tests.servers import Fault

pytestmark = pytest.mark.servers

SEQUENCE = {
    "name": "Quote follow-up (test)",
    "mailbox": "owner",
    "list_unsubscribe": True,
    "steps": [
        {"wait": 0, "template": "t/first", "subject": "Your quote for {{ company }}"},
        {"wait": "2 business days", "template": "t/second"},
        {"wait": "3 business days", "template": "t/third"},
        {"wait": "1 week", "template": "t/last"},
    ],
}
TEMPLATES = {
    "t/first": "Hi {{ first_name }},\n\nhere is the quote for {{ company }}.\n\n{{ signature }}\n",
    "t/second": "Hi {{ first_name }}, any questions on the quote?\n",
    "t/third": "Hi {{ first_name }}, shall we talk {{ next_business_day_name() }}?\n--- html ---\n<p>Hi {{ first_name }}</p>\n",
    "t/last": "Hi {{ first_name }}, closing the file for now.\n",
}


class World:
    """A config dir (config.yaml, sequences/, templates/) wired to the test servers."""

    def __init__(self, root: Path, db_url: str, mail: Any, **mailbox: Any) -> None:
        self.root = root
        self.mail = mail
        self.rep = mail.new_address("rep")
        sending = mailbox.pop("sending", {})
        entry = mail.mailbox_config(self.rep, name="rep", **mailbox)
        for key, value in {
            "daily_limit": 10000,
            "per_minute": 100000,
            "min_spacing_seconds": 0,
            "max_spacing_seconds": 0,
        }.items():
            entry.setdefault(key, value)
        (root / "sequences").mkdir(parents=True, exist_ok=True)
        (root / "sequences" / "quote.yaml").write_text(yaml.safe_dump(SEQUENCE, sort_keys=False))
        for name, body in TEMPLATES.items():
            path = root / "templates" / f"{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        self.config_path = root / "sequencer.yaml"
        self.config_path.write_text(
            yaml.safe_dump(
                {
                    "database": db_url,
                    "timezone": "UTC",
                    "mailboxes": [entry],
                    "sending": {"require_poll_before_followup": True, **sending},
                },
                sort_keys=False,
            )
        )
        self.config = load_config(self.config_path)
        self.templates = TemplateStore(self.config.templates_path)
        self.sequences = load_sequences(self.config.sequences_path, self.templates, ["rep"])

    def tick(
        self, db: Any, clock: ManualClock, *, poll: bool = True, dry_run: bool = False
    ) -> send.TickResult:
        """A tick whose poll hook stands in for the inbox poller (marks the inbox read up to now)."""
        hook = (lambda: outbox_ops.mark_polled(db, "rep", clock.now())) if poll else None
        return send.tick(
            db,
            self.config,
            self.sequences,
            self.templates,
            clock,
            worker_id="test",
            dry_run=dry_run,
            poll_hook=hook,
        )

    def enroll(
        self,
        db: Any,
        clock: ManualClock,
        email_addr: str,
        *,
        tz: str = "UTC",
        name: str = "Dana Whitfield",
        company: str = "Acme",
    ) -> int:
        r = enroll(
            db,
            self.config,
            self.sequences,
            email=email_addr,
            sequence_id="quote",
            name=name,
            company=company,
            tz=tz,
            owner="rep",
            now=clock.now(),
        )
        assert r.enrollment_id is not None
        return r.enrollment_id


def bulk_enroll(db: Any, n: int, *, due: datetime, mail: Any, sequence: str = "quote") -> list[str]:
    """n prospects with step 1 due at ``due`` (fast: one transaction, no per-row checks).

    Their addresses are plus-addresses of one receiving mailbox (Dovecot files user+tag
    into user's INBOX), so the test servers do not create a mailbox per prospect.
    """
    user, domain = mail.new_address("sink").split("@")
    emails = [f"{user}+p{i}@{domain}" for i in range(n)]
    with db.session() as s:
        prospects = [
            Prospect(
                email=e,
                display_email=e,
                name=f"Prospect {i}",
                company=f"Co {i}",
                owner="rep",
                timezone="UTC",
                fields={},
                created_at=due,
                updated_at=due,
            )
            for i, e in enumerate(emails)
        ]
        s.add_all(prospects)
        s.flush()
        s.add_all(
            Enrollment(
                prospect_id=p.id,
                sequence_id=sequence,
                mailbox="rep",
                owner="rep",
                status="active",
                status_reason="enrolled",
                status_changed_at=due,
                steps_done=0,
                total_steps=4,
                next_send_at=due,
                token=secrets.token_urlsafe(18),
                thread_refs=[],
                enrolled_at=due,
                source="test",
            )
            for p in prospects
        )
    return emails


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def enrollment(db: Any, eid: int) -> Enrollment:
    with db.session() as s:
        e = s.get(Enrollment, eid)
        assert e is not None
        return e


# --------------------------------------------------------------------------------------------


def test_four_step_sequence_arrives_threaded_at_local_times(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db.url, mail)
    prospect = mail.new_address("dana")
    ny = ZoneInfo("America/New_York")
    eid = world.enroll(db, clock, prospect, tz="America/New_York")
    # Monday 09:00 UTC is 04:00 in New York: nothing goes before the window opens.
    assert world.tick(db, clock).sent == 0
    for _ in range(4):
        due = enrollment(db, eid).next_send_at
        assert due is not None
        clock.set(due - timedelta(minutes=5))
        assert world.tick(db, clock).sent == 0, "nothing goes before the touch is due"
        clock.set(due + timedelta(minutes=1))
        assert world.tick(db, clock).sent == 1
    assert enrollment(db, eid).status == "completed"

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
    assert first["List-Unsubscribe"].startswith("<mailto:rep-")
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
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db.url, mail)
    eid = world.enroll(db, clock, mail.new_address("dana"))
    assert world.tick(db, clock).sent == 1
    due = enrollment(db, eid).next_send_at
    assert due is not None
    clock.set(due + timedelta(minutes=1))
    assert world.tick(db, clock, poll=False).sent == 0
    assert enrollment(db, eid).wait_reason == outbox.WAIT_POLL
    [status] = outbox_ops.status(db, world.config, clock)
    assert status.overdue == {outbox.WAIT_POLL: 1}
    assert world.tick(db, clock, poll=True).sent == 1


def test_451_is_retried_with_backoff_then_sent_once(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db.url, mail)
    prospect = mail.new_address("dana")
    eid = world.enroll(db, clock, prospect)
    mail.relay.faults[prospect] = Fault(replies=["451 4.7.1 Greylisted, try again later"])
    result = world.tick(db, clock)
    assert (result.sent, result.retrying) == (0, 1)
    e = enrollment(db, eid)
    assert e.status == "active" and e.wait_reason and e.wait_reason.startswith("retry 1/")
    assert e.next_send_at == clock.now() + timedelta(
        seconds=world.config.sending.retry_base_seconds
    )
    assert world.tick(db, clock).sent == 0, "the backoff is honoured"
    clock.advance(timedelta(minutes=6))
    assert world.tick(db, clock).sent == 1
    inbox = mail.wait_for(prospect, 1)
    assert len(inbox) == 1
    with db.session() as s:
        row = s.scalars(select(Message)).one()
    assert row.status == "sent" and row.attempts == 2 and inbox[0]["Message-ID"] == row.message_id
    assert enrollment(db, eid).wait_reason is None


def test_550_bounces_and_suppresses_only_that_recipient(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db.url, mail)
    bad, good = mail.new_address("gone"), mail.new_address("dana")
    bad_id = world.enroll(db, clock, bad)
    good_id = world.enroll(db, clock, good)
    mail.relay.faults[bad] = Fault(permanent=f"550 5.1.1 <{bad}>: Recipient address rejected")
    result = world.tick(db, clock)
    assert (result.sent, result.bounced) == (1, 1)
    assert enrollment(db, bad_id).status == "bounced"
    assert enrollment(db, good_id).status == "active"
    with db.session() as s:
        assert s.scalars(select(Suppression.value)).all() == [bad]
    assert len(mail.wait_for(good, 1)) == 1
    clock.advance(timedelta(days=10))
    world.tick(db, clock)
    assert not any(bad in rcpts for _f, rcpts, _raw in mail.relay.messages[1:])


def test_window_and_daily_limit_hold_the_rest_until_next_business_morning(
    db: Any, mail: Any, tmp_path: Path
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    clock = ManualClock(datetime(2026, 3, 6, 16, 0, tzinfo=berlin))  # a Friday afternoon
    world = World(tmp_path, db.url, mail, daily_limit=3, timezone="Europe/Berlin")
    prospects = [mail.new_address(f"p{i}") for i in range(5)]
    for p in prospects:
        world.enroll(db, clock, p, tz="Europe/Berlin")
    result = world.tick(db, clock)
    assert result.sent == 3 and result.deferred == {outbox.WAIT_LIMIT: 2}
    [status] = outbox_ops.status(db, world.config, clock)
    assert (status.sent_today, status.daily_limit) == (3, 3)
    assert status.waiting == {outbox.WAIT_LIMIT: 2}
    for hour in (17, 20, 23):
        clock.set(datetime(2026, 3, 6, hour, 0, tzinfo=berlin))
        assert world.tick(db, clock).sent == 0
    clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=berlin))  # Saturday
    assert world.tick(db, clock).sent == 0
    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=berlin))  # Monday morning
    assert world.tick(db, clock).sent == 2

    dates = [
        parsedate_to_datetime(parse(raw)["Date"]).astimezone(berlin)
        for _f, _r, raw in mail.relay.messages
    ]
    assert [d.date().isoformat() for d in dates] == ["2026-03-06"] * 3 + ["2026-03-09"] * 2
    assert all((8, 0) <= (d.hour, d.minute) < (17, 30) for d in dates)


def test_touch_due_outside_the_window_moves_to_the_next_opening(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db.url, mail)
    eid = world.enroll(db, clock, mail.new_address("dana"))
    night = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    with db.session() as s:
        s.get(Enrollment, eid).next_send_at = night  # type: ignore[union-attr]
    clock.set(night + timedelta(minutes=1))
    result = world.tick(db, clock)
    assert result.sent == 0 and result.deferred == {outbox.WAIT_WINDOW: 1}
    e = enrollment(db, eid)
    assert (
        e.next_send_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
        and e.wait_reason == outbox.WAIT_WINDOW
    )
    assert mail.relay.messages == []


def test_refused_login_pauses_mailbox_and_sends_nothing(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQ_WRONG_PASSWORD", "not-the-password")
    world = World(tmp_path, db.url, mail, password_env="SEQ_WRONG_PASSWORD")
    eid = world.enroll(db, clock, mail.new_address("dana"))
    result = world.tick(db, clock)
    assert result.sent == 0 and "rep" in result.paused
    assert (
        "refused the login" in result.paused["rep"]
        and "not-the-password" not in result.paused["rep"]
    )
    assert mail.relay.messages == []
    e = enrollment(db, eid)
    assert e.status == "active" and e.steps_done == 0 and e.lease_owner is None
    [status] = outbox_ops.status(db, world.config, clock)
    assert status.paused_reason and status.overdue == {"due": 1}
    assert world.tick(db, clock).sent == 0, "a paused mailbox stays paused"

    monkeypatch.setenv("SEQ_WRONG_PASSWORD", "secret")
    assert outbox_ops.unpause(db, clock, "rep")
    assert world.tick(db, clock).sent == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1


def test_connections_are_reused_and_replaced_after_the_server_drops_them(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    import asyncio

    world = World(tmp_path, db.url, mail)
    for i in range(6):
        world.enroll(db, clock, mail.new_address(f"p{i}"))

    async def scenario() -> tuple[int, int]:
        engine = send.Engine(
            db, world.config, world.sequences, world.templates, clock, worker_id="t"
        )
        try:
            first = await engine.tick()
            opened = mail.relay.connections
            mail.relay.stop()  # the server goes away; pooled connections are dead
            mail.relay.start(mail.dovecot.lmtp_port)
            for i in range(2):
                world.enroll(db, clock, mail.new_address(f"q{i}"))
            second = await engine.tick()
            return first.sent + second.sent, opened
        finally:
            await engine.aclose()

    sent, opened = asyncio.run(scenario())
    assert sent == 8
    assert opened <= world.config.mailboxes[0].concurrency
    assert len(mail.relay.messages) == 8


def test_dry_run_changes_nothing(db: Any, mail: Any, clock: ManualClock, tmp_path: Path) -> None:
    world = World(tmp_path, db.url, mail)
    eid = world.enroll(db, clock, mail.new_address("dana"))
    result = world.tick(db, clock, dry_run=True)
    assert [p["subject"] for p in result.planned] == ["Your quote for Acme"]
    assert mail.relay.messages == []
    e = enrollment(db, eid)
    assert e.steps_done == 0 and e.lease_owner is None
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_per_minute_rate_is_honoured_when_the_server_is_fast(
    db: Any, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(
        tmp_path, db.url, mail, per_minute=2, min_spacing_seconds=40, max_spacing_seconds=50
    )
    for i in range(4):
        world.enroll(db, clock, mail.new_address(f"p{i}"))
    sent_at = []
    for _ in range(30):  # 5 simulated minutes in 10-second steps
        if world.tick(db, clock).sent:
            sent_at.append(clock.now())
        clock.advance(timedelta(seconds=10))
    assert len(sent_at) == 4
    gaps = [(b - a).total_seconds() for a, b in zip(sent_at, sent_at[1:], strict=False)]
    assert all(g >= 40 for g in gaps), gaps
