"""A sick mailbox pauses, cron sees exit 3, the owner and managers hear once, a fix resumes it.

Against the real SMTP front and Dovecot, through the CLI a cron job runs, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.db.models import Enrollment, MailboxState, Message, Notification
from sequencer.db.session import Database
from tests.kit import World
from tests.servers import Fault, SmtpRelay, free_port

pytestmark = pytest.mark.servers


def set_smtp(world: World, **smtp: Any) -> None:
    """Edit the first rep's SMTP settings in sequencer.yaml, as the operator would."""
    data = yaml.safe_load(world.config_path.read_text())
    data["mailboxes"][0]["smtp"].update(smtp)
    world.config_path.write_text(yaml.safe_dump(data, sort_keys=False))


def attempts_counted(db: Database) -> int:
    """Attempts charged to any enrollment: a retried or failed touch, a retry wait."""
    with db.session() as s:
        tried = s.scalar(select(func.count()).select_from(Message).where(Message.attempts > 0))
        waits = s.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.wait_reason.like("retry%") | (Enrollment.status != "active"))
        )
        return int(tried or 0) + int(waits or 0)


def notices(db: Database) -> list[Notification]:
    with db.session() as s:
        rows = list(s.scalars(select(Notification).where(Notification.kind == "mailbox-paused")))
        s.expunge_all()
        return rows


def pause_state(db: Database, name: str = "rep0") -> MailboxState:
    with db.session() as s:
        st = s.get(MailboxState, name)
        assert st is not None
        s.expunge(st)
        return st


def notices_received(mail: Any, address: str) -> list[email.message.EmailMessage]:
    return [
        m for m in mail.fetch_all(address) if m["X-Sequencer-Notification"] == "mailbox-paused"
    ]


def test_closed_smtp_port_exits_3_pauses_the_mailbox_and_a_fixed_port_resumes_it(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    closed = free_port()
    world = World(
        tmp_path, db, mail, clock, reps=2, sequence="quote",
        smtp={"host": "127.0.0.1", "port": closed, "security": "none"},
    )
    leads = [mail.new_address(f"lead{i}") for i in range(3)]
    eids = [world.enroll(lead) for lead in leads]

    first = world.cli("tick")
    assert first.exit_code == 3, first.output
    assert (
        "mailbox rep0 paused: SMTP unreachable (connection refused)" in first.stderr
        and "; 3 touches not attempted" in first.stderr
    ), first.stderr
    assert mail.relay.messages == [] or all(
        m[0] != world.rep for m in mail.relay.messages
    ), "nothing went out from the paused mailbox"
    assert attempts_counted(db) == 0
    assert [world.enrollment(e).steps_done for e in eids] == [0, 0, 0]
    paused_at = pause_state(db).paused_at
    [shown] = world.cli_json("show", leads[0])["enrollments"]
    assert shown["waits_for"].startswith("the mailbox rep0 to resume (tried again at ")
    assert "connection refused" in shown["waits_for"]

    status = world.cli_json("status")
    [rep0] = [m for m in status["mailboxes"] if m["name"] == "rep0"]
    assert rep0["state"] == "unreachable" and "connection refused" in rep0["reason"]

    # The back-off runs out, the port is still closed: a retry, not a new pause.
    clock.advance(timedelta(minutes=2))
    again = world.cli("tick")
    assert again.exit_code == 3 and "3 touches not attempted" in again.stderr
    assert pause_state(db).paused_at == paused_at, "a retry keeps the pause's start"
    assert attempts_counted(db) == 0
    [notice] = notices(db)
    assert notice.status == "sent" and set(notice.recipients) == {world.rep, world.manager}
    assert len(notices_received(mail, world.manager)) == 1
    assert len(notices_received(mail, world.rep)) == 1

    # The operator fixes the port: the very next tick (no back-off wait) sends.
    set_smtp(world, port=mail.smtp_port)
    fixed = world.cli("tick")
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout.startswith("sent 3"), fixed.output
    assert [world.enrollment(e).steps_done for e in eids] == [1, 1, 1]
    st = pause_state(db)
    assert st.paused_reason is None and st.paused_at is None and st.pause_failures == 0
    assert world.cli_json("status")["mailboxes"][0]["state"] == "ok"


def _self_signed(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_relay(mail: Any, tmp_path: Path) -> Any:
    """The SMTP front on implicit TLS (port 465 style) with a self-signed certificate."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    relay = SmtpRelay(free_port(), ssl_context=context)
    relay.start(mail.dovecot.lmtp_port)
    relay.cert = cert  # type: ignore[attr-defined]
    try:
        yield relay
    finally:
        relay.stop()


def test_untrusted_certificate_pauses_the_mailbox_and_trusting_it_resumes(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path, tls_relay: Any
) -> None:
    world = World(
        tmp_path, db, mail, clock, sequence="quote",
        smtp={"host": "127.0.0.1", "port": tls_relay.port, "security": "tls"},
    )
    lead = mail.new_address("dana")
    eid = world.enroll(lead)

    first = world.cli("tick")
    assert first.exit_code == 3, first.output
    assert (
        "mailbox rep0 paused: SMTP unreachable (TLS certificate not trusted)" in first.stderr
        and "1 touches not attempted" in first.stderr
    ), first.stderr
    assert tls_relay.messages == [] and attempts_counted(db) == 0
    assert world.enrollment(eid).status == "active"

    set_smtp(world, ca_file=str(tls_relay.cert))
    fixed = world.cli("tick")
    assert fixed.exit_code == 0, fixed.output
    assert [m[1] for m in tls_relay.messages if lead in m[1]] == [[lead]]
    assert world.enrollment(eid).steps_done == 1


def test_daily_limit_550_5_4_5_pauses_24h_leaves_the_lead_active_and_tells_once(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, reps=2, sequence="quote")
    lead = mail.new_address("dana")
    mail.relay.faults[lead] = Fault(
        permanent="550 5.4.5 Daily user sending limit exceeded. For more information visit"
    )
    eid = world.enroll(lead)

    first = world.cli("tick")
    assert first.exit_code == 3, first.output
    assert "mailbox rep0 paused: Gmail daily sending limit exceeded, paused 24 h" in first.stderr
    e = world.enrollment(eid)
    assert e.status == "active" and e.steps_done == 0 and attempts_counted(db) == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.status == "failed")) == 0, "never bounced"
    st = pause_state(db)
    assert st.pause_kind == "quota" and st.paused_until is not None
    assert st.paused_until - clock.now() == timedelta(hours=24)

    clock.advance(timedelta(hours=23))
    assert world.cli("tick").exit_code == 3, "still inside the provider's window"
    [notice] = notices(db)
    assert set(notice.recipients) == {world.rep, world.manager}
    [received] = notices_received(mail, world.manager)
    assert "daily sending limit" in received["Subject"]
    assert "no touch was counted against any of them" in received.get_content()

    del mail.relay.faults[lead]
    clock.advance(timedelta(hours=1, minutes=1))
    resumed = world.cli("tick")
    assert resumed.exit_code == 0, resumed.output
    assert world.enrollment(eid).steps_done == 1
    assert len(notices(db)) == 1


def test_run_logs_a_structured_event_per_paused_mailbox() -> None:
    from sequencer.outbound.result import TickResult
    from sequencer.outbound.runner import mailbox_events

    result = TickResult(
        unreachable={"rep0": "SMTP unreachable (connection refused): x"},
        paused={"rep1": "Gmail daily sending limit exceeded, paused 24 h: 550 5.4.5"},
        not_attempted={"rep0": 3},
    )
    assert mailbox_events(result, "w1") == [
        {"event": "mailbox_paused", "worker": "w1", "mailbox": "rep1", "state": "paused",
         "reason": "Gmail daily sending limit exceeded, paused 24 h: 550 5.4.5",
         "not_attempted": 0},
        {"event": "mailbox_unreachable", "worker": "w1", "mailbox": "rep0",
         "state": "unreachable", "reason": "SMTP unreachable (connection refused): x",
         "not_attempted": 3},
    ]



# --- the deliverability guard -----------------------------------------------------------


def test_mailbox_crossing_the_bounce_threshold_pauses_and_managers_hear_once(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, reps=2, sequence="quote")
    leads = [mail.new_address(f"lead{i}") for i in range(10)]
    for lead in leads[:4]:  # 4 hard bounces in 10 touches: 4% of a 100-touch window
        mail.relay.faults[lead] = Fault(permanent="550 5.1.1 <x>: Recipient address rejected")
    for lead in leads:
        world.enroll(lead)
    first = world.cli("tick")
    assert first.exit_code == 0 and "bounced 4" in first.stdout, first.output

    later = [world.enroll(mail.new_address(f"later{i}")) for i in range(2)]
    second = world.cli("tick")
    assert second.exit_code == 3, second.output
    assert (
        "mailbox rep0 paused: deliverability: hard-bounce rate 4.0% "
        "(4 in the last 10 touches, over a window of 100) is over 3.0%; "
        "2 touches not attempted"
    ) in second.stderr, second.stderr
    assert [world.enrollment(e).steps_done for e in later] == [0, 0]
    [rep0] = [m for m in world.cli_json("status")["mailboxes"] if m["name"] == "rep0"]
    assert rep0["state"] == "paused" and "hard-bounce rate 4.0%" in rep0["reason"]

    clock.advance(timedelta(days=2))
    assert world.cli("tick").exit_code == 3, "paused until the operator resumes it"
    [received] = notices_received(mail, world.manager)
    assert "hard-bounce rate 4.0%" in received.get_content()
    assert len(notices(db)) == 1

    resumed = world.cli("outbox", "unpause", "rep0")
    assert resumed.exit_code == 0 and "sends again" in resumed.output
    after = world.cli("tick")
    assert after.exit_code == 0, after.output
    assert [world.enrollment(e).steps_done for e in later] == [1, 1], (
        "the bounces the operator has seen do not pause it again"
    )


def test_three_bounces_in_a_young_mailbox_stay_under_the_threshold(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    leads = [mail.new_address(f"lead{i}") for i in range(5)]
    for lead in leads[:3]:
        mail.relay.faults[lead] = Fault(permanent="550 5.1.1 <x>: Recipient address rejected")
    for lead in leads:
        world.enroll(lead)
    assert world.cli("tick").exit_code == 0
    world.enroll(mail.new_address("later"))
    assert world.cli("tick").exit_code == 0, "3 of a 100-touch window is 3%: not over"


def test_complaints_over_the_rate_pause_the_mailbox(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    from sequencer.db.models import InboundMessage

    world = World(tmp_path, db, mail, clock, sequence="quote")
    world.enroll(mail.new_address("lead"))
    assert world.cli("tick").exit_code == 0
    with db.session() as s:  # one complaint report on one touch: 100% > 0.3%
        s.add(
            InboundMessage(
                mailbox="rep0", folder="INBOX", uidvalidity=1, uid=1, kind="complaint",
                received_at=clock.now(), refs=[], recipients=[], trust="trusted",
            )
        )
    world.enroll(mail.new_address("next"))
    out = world.cli("tick")
    assert out.exit_code == 3
    assert "deliverability: spam-complaint rate 100.00% (1 complaint(s) on 1 touches" in out.stderr


# --- wait bounds -------------------------------------------------------------------------


def test_validate_rejects_a_wait_over_three_years_with_file_and_line(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = World(tmp_path, db, mail, clock, sequence="quote")
    path = tmp_path / "sequences" / "quote.yaml"
    text = path.read_text().replace("wait: 1 week", "wait: 99999999999999999999 days")
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "99999999999999999999" in s)
    out = world.cli("validate")
    assert out.exit_code == 2, out.output
    assert f"quote.yaml:{line}" in out.output and "longer than 3 years" in out.output


def test_a_touch_whose_next_wait_overflows_fails_alone_after_smtp(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    import dataclasses

    from sequencer.core.schedule import Wait

    world = World(tmp_path, db, mail, clock, sequence="quote")
    quote = world.sequences["quote"]
    huge = dataclasses.replace(quote.steps[1], wait=Wait(10**20, "days"))  # past validation
    world.sequences["quote"] = dataclasses.replace(
        quote, steps=(quote.steps[0], huge, *quote.steps[2:])
    )
    bad = world.enroll(mail.new_address("bad"))
    good = [world.enroll(mail.new_address(f"good{i}"), "inbound") for i in range(3)]
    clock.advance(timedelta(minutes=10))  # the inbound sequence's first wait

    result = world.tick()
    assert result.sent == 4 and result.failed == 1, result
    e = world.enrollment(bad)
    assert e.status == "failed" and e.steps_done == 1
    assert "next step cannot be scheduled: OverflowError" in (e.status_reason or "")
    assert [world.enrollment(g).steps_done for g in good] == [1, 1, 1]
    with db.session() as s:
        statuses = s.scalars(select(Message.status)).all()
    assert sorted(statuses) == ["sent"] * 4, "nothing left sending or held"
    assert len([m for m in mail.relay.messages]) == 4
