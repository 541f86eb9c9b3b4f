"""The inbox poller end to end: real Dovecot, mail delivered over SMTP, both databases.

Every test sends touches through the SMTP front with our Message-ID, lets the prospect
(or a mail server) answer for real, polls the rep's mailbox and checks what a rep or a
manager would notice: the sequence stopped or not, the alert in the inbox, the response
time, the suppression.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sequencer.db.models import Event, InboundMessage, Suppression
from sequencer.inbound.poll import poll_all, poll_mailbox
from tests.kit import Project, make_project, reply_to

pytestmark = pytest.mark.servers


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:
    return make_project(mail, db, clock, tmp_path)


def poll(p: Project):  # type: ignore[no-untyped-def]
    result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert result.ok, result.error
    return result


def events(p: Project, enrollment_id: int, kind: str) -> list[Event]:
    with p.db.session() as s:
        return list(
            s.scalars(select(Event).where(Event.enrollment_id == enrollment_id, Event.kind == kind))
        )


def notifications(p: Project, user: str, count: int = 1) -> list:  # type: ignore[type-arg]
    msgs = p.mail.wait_for(user, count)
    return [m for m in msgs if m["X-Sequencer-Notification"]]


# --- replies --------------------------------------------------------------------------------


def test_threaded_reply_stops_sequence_alerts_owner_and_records_response_time(
    project: Project,
) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    assert p.mail.wait_for(prospect, 1)

    p.clock.advance(timedelta(hours=3))
    p.mail.send(
        reply_to(
            touch1,
            sender=prospect,
            to=p.rep,
            body="Thanks Sam, looks good. Can we talk Thursday?\n\nOn Mon, Sam wrote:\n> Touch 1",
        ),
        prospect,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    result = poll(p)

    e = p.enrollment(eid)
    assert e.status == "replied"
    assert e.next_send_at is None  # touch 2 will never go out
    assert e.replied_step == 1 and e.replied_at == p.clock.now()
    [replied] = events(p, eid, "replied")
    assert "Thursday" in replied.data["snippet"] and "Touch 1" not in replied.data["snippet"]
    assert result.replies == 1 and result.notified == 1

    [alert] = notifications(p, p.rep, 2)
    body = alert.get_content()
    assert "Dana Whitfield (Acme)" in alert["Subject"]
    assert "touch 1" in body and "Quote sent" in body and "Quote follow-up" in body
    assert "18,400" in body and "Can we talk Thursday?" in body
    assert "http" not in body
    assert alert["Auto-Submitted"] == "auto-generated"

    # The rep answers from their mail client: the copy lands in Sent.
    p.clock.advance(timedelta(minutes=90))
    reply_id = p.mail.fetch_all(p.rep)[0]["Message-ID"]
    answer = reply_to(reply_id, sender=p.rep, to=prospect, body="Thursday 10am works.")
    with p.mail.imap(p.rep) as c:
        c.append("Sent", answer.as_bytes(), flags=[b"\\Seen"])
    result = poll(p)
    e = p.enrollment(eid)
    assert e.answered_at == p.clock.now()
    [answered] = events(p, eid, "answered")
    assert answered.data["response_seconds"] == 90 * 60
    assert result.answered == 1
    # The alert itself (From the rep's own address) is never taken for a reply.
    assert len(events(p, eid, "replied")) == 1 and not events(p, eid, "reply_received")


def test_reply_without_threading_headers_is_attributed_by_sender(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    p.send_touch(eid, prospect)
    p.mail.send(
        reply_to(
            None,
            sender=prospect,
            to=p.rep,
            body="Got it, will review with my boss.",
            subject="quote",
        ),
        prospect,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    e = p.enrollment(eid)
    assert e.status == "replied" and e.replied_step == 1
    assert "sender" in events(p, eid, "replied")[0].data["via"]


def test_colleague_reply_in_thread_follows_the_domain_policy(
    mail, db, clock, tmp_path: Path
) -> None:
    p = make_project(mail, db, clock, tmp_path, colleague=False)
    prospect = p.mail.new_address("dana")
    colleague = prospect.replace("dana", "boss")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(
        reply_to(touch1, sender=colleague, to=p.rep, body="Dana is out, I'll look."),
        colleague,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "active"
    assert events(p, eid, "colleague_reply")


def test_colleague_reply_alert_names_who_wrote_it(project: Project) -> None:
    p = project  # stop_on_reply_from_domain: true
    prospect = p.mail.new_address("dana")
    colleague = prospect.replace("dana", "boss")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(
        reply_to(touch1, sender=f"Pat Quinn <{colleague}>", to=p.rep, body="I'll take it, call me."),
        colleague,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "replied"
    [alert] = notifications(p, p.rep, 2)
    assert alert["Subject"].startswith(
        f"Reply from Pat Quinn <{colleague}> (colleague of Dana Whitfield (Acme))"
    )
    assert "Pat Quinn" in alert.get_content() and "call me" in alert.get_content()


def test_own_mail_with_our_references_is_never_a_reply(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    # A copy of our own follow-up (e.g. CC'd to ourselves) carries our Message-ID in References.
    p.mail.send(reply_to(touch1, sender=p.rep, to=prospect, body="following up"), p.rep, [p.rep])
    with p.mail.imap(p.rep) as c:
        c.append("Sent", reply_to(touch1, sender=p.rep, to=prospect, body="manual note").as_bytes())
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "active"


def test_poll_reads_without_marking_anything_seen(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(reply_to(touch1, sender=prospect, to=p.rep, body="Yes please."), prospect, [p.rep])
    p.mail.wait_for(p.rep, 1)
    poll(p)
    with p.mail.imap(p.rep) as c:
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags(c.search("ALL"))
    assert flags and all(b"\\Seen" not in f for f in flags.values())


# --- escalation -----------------------------------------------------------------------------


def test_unanswered_reply_is_escalated_to_managers_once(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(reply_to(touch1, sender=prospect, to=p.rep, body="Call me?"), prospect, [p.rep])
    p.mail.wait_for(p.rep, 1)
    poll(p)
    p.clock.advance(timedelta(hours=3))
    assert poll(p).escalated == 0
    p.clock.advance(timedelta(hours=2))
    assert poll(p).escalated == 1
    p.clock.advance(timedelta(hours=5))
    assert poll(p).escalated == 0
    [note] = notifications(p, p.manager)
    assert "Unanswered for 5h" in note["Subject"] and "Dana Whitfield" in note["Subject"]
    assert p.enrollment(eid).escalated_at is not None


# --- out of office ---------------------------------------------------------------------------


def test_out_of_office_continues_and_return_date_postpones_next_touch(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    p.mail.dovecot.set_vacation(
        prospect, "I am out of the office and back on 16 March. For urgent matters call Bob."
    )
    eid = p.enroll(prospect)
    p.send_touch(eid, prospect)
    [ooo] = p.mail.wait_for(p.rep, 1)  # Pigeonhole answered the touch for real
    assert ooo["Auto-Submitted"] and ooo["Auto-Submitted"].startswith("auto-replied")
    poll(p)
    e = p.enrollment(eid)
    assert e.status == "active"
    # back Monday 16 March -> the next business day after it, Tuesday 17 March.
    assert e.next_send_at == datetime(2026, 3, 17, 0, 0, tzinfo=UTC)
    [event] = events(p, eid, "auto_reply")
    assert event.data["return_date"] == "2026-03-16"
    assert not notifications(p, p.rep, 1)


# --- bounces --------------------------------------------------------------------------------


def test_bounce_after_acceptance_marks_the_right_enrollment_bounced(project: Project) -> None:
    from tests.servers import Fault

    p = project
    good, bad = p.mail.new_address("dana"), p.mail.new_address("gone")
    p.mail.relay.faults[bad] = Fault(bounce_after_accept="5.1.1")
    e_good, e_bad = p.enroll(good), p.enroll(bad, name="Gone Person")
    p.send_touch(e_good, good)
    p.send_touch(e_bad, bad)
    [dsn] = p.mail.wait_for(p.rep, 1)
    assert dsn.get_content_type() == "multipart/report"
    poll(p)
    assert p.enrollment(e_bad).status == "bounced"
    assert p.enrollment(e_good).status == "active"
    with p.db.session() as s:
        assert s.scalars(select(Suppression.value)).all() == [bad]


def test_repeated_soft_bounces_end_in_bounced(project: Project) -> None:
    from tests.servers import Fault

    p = project
    full = p.mail.new_address("full")
    p.mail.relay.faults[full] = Fault(bounce_after_accept="4.2.2")
    eid = p.enroll(full)
    for n in range(1, 4):
        p.send_touch(eid, full)
        p.mail.wait_for(p.rep, n)
        poll(p)
        e = p.enrollment(eid)
        if n < 3:
            assert e.status == "active" and e.next_send_at is not None
    assert e.status == "bounced"
    assert len(events(p, eid, "soft_bounce")) == 3


# --- unsubscribe ------------------------------------------------------------------------------


def test_remove_me_reply_unsubscribes_and_suppresses(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(
        reply_to(touch1, sender=prospect, to=p.rep, body="Please remove me from your list."),
        prospect,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "unsubscribed"
    with p.db.session() as s:
        assert s.scalars(select(Suppression.value)).all() == [prospect]


# --- the sender's hook ---------------------------------------------------------------------


def test_poll_all_records_the_poll_time_the_sender_waits_for(project: Project) -> None:
    from sequencer.db.models import MailboxState

    p = project
    [result] = poll_all(p.db, p.config, p.sequences, p.clock)
    assert result.ok
    with p.db.session() as s:
        assert s.get(MailboxState, "rep").last_poll_at == p.clock.now()  # type: ignore[union-attr]


def test_stored_verdicts_are_idempotent(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(reply_to(touch1, sender=prospect, to=p.rep, body="Hi!"), prospect, [p.rep])
    p.mail.wait_for(p.rep, 1)
    poll(p)
    p.mail.wait_for(p.rep, 2)  # the reply alert landed too
    poll(p)
    # Forget the cursor: the next poll re-reads the folder, but nothing is stored or applied twice.
    from sequencer.db.models import FolderState

    with p.db.session() as s:
        for row in s.scalars(select(FolderState)):
            row.last_uid = 0
    again = poll(p)
    assert again.stored == 0 and again.applied == 0
    with p.db.session() as s:
        assert (
            len(s.scalars(select(InboundMessage).where(InboundMessage.kind == "reply")).all()) == 1
        )


# --- enroll by filing --------------------------------------------------------------------------


def _send_quote_by_hand(p: Project, prospect: str, *, bcc: str | None = None) -> tuple[str, bytes]:
    quote = reply_to(
        None,
        sender=p.rep,
        to=f"Dana Whitfield <{prospect}>",
        subject="Quote Q-17 for Acme",
        body="Hi Dana, attached is the quote.",
    )
    # One transaction per recipient: the SMTP front's LMTP hop takes one recipient at a time.
    for rcpt in [prospect, *([bcc] if bcc else [])]:
        p.mail.send(quote, p.rep, [rcpt])
    return str(quote["Message-ID"]), quote.as_bytes()


def _assert_threaded_on(p: Project, prospect: str, filed_id: str) -> int:
    from sequencer.db.models import Enrollment, Prospect

    with p.db.session() as s:
        e = s.scalars(select(Enrollment).join(Prospect).where(Prospect.email == prospect)).one()
        assert e.status == "active" and e.source == "filing" and e.sequence_id == "quote-follow-up"
        assert e.thread_root_id == filed_id and e.last_message_id == filed_id
        assert e.thread_refs == [filed_id] and e.thread_subject == "Quote Q-17 for Acme"
        return e.id


def test_email_filed_into_a_folder_enrolls_its_recipients_in_that_thread(
    mail, db, clock, tmp_path: Path
) -> None:
    p = make_project(
        mail,
        db,
        clock,
        tmp_path,
        imap={"folders": {"enroll": {"Follow up/quote": "quote-follow-up"}}},
    )
    prospect = p.mail.new_address("dana")
    filed_id, raw = _send_quote_by_hand(p, prospect)
    with p.mail.imap(p.rep) as c:
        c.create_folder("Follow up/quote")
        c.append("Sent", raw, flags=[b"\\Seen"])
        c.append("Follow up/quote", raw, flags=[b"\\Seen"])
    result = poll(p)
    assert result.enrolled == 1 and "Follow up/quote" in result.folders
    eid = _assert_threaded_on(p, prospect, filed_id)
    # A reply to the filed email itself (touch 0) stops the sequence.
    p.mail.send(
        reply_to(filed_id, sender=prospect, to=p.rep, body="Received, thanks!"), prospect, [p.rep]
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    e = p.enrollment(eid)
    assert e.status == "replied" and e.replied_step == 0


def test_bcc_to_the_plus_address_enrolls_into_that_sequence(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    plus = p.rep.replace("@", "+quote-follow-up@")
    filed_id, _ = _send_quote_by_hand(p, prospect, bcc=plus)
    p.mail.wait_for(p.rep, 1)
    result = poll(p)
    assert result.enrolled == 1
    _assert_threaded_on(p, prospect, filed_id)
    assert poll(p).enrolled == 0  # the same email is never enrolled twice


def test_failing_message_is_set_aside_and_retried_after_the_fix(project: Project) -> None:
    import json

    from click.testing import CliRunner

    from sequencer.cli import main

    p = project
    prospect, other = p.mail.new_address("dana"), p.mail.new_address("lee")
    eid = p.enroll(other)
    touch1 = p.send_touch(eid, other)
    # BCC to a sequence that does not exist yet: set aside, the reply after it still applies.
    p.mail.send(
        reply_to(None, sender=p.rep, to=prospect, subject="Quote Q-17 for Acme", body="quote"),
        p.rep,
        [p.rep.replace("@", "+new-leads@")],
    )
    p.mail.send(reply_to(touch1, sender=other, to=p.rep, body="Sounds good"), other, [p.rep])
    p.mail.wait_for(p.rep, 2)
    result = poll(p)
    assert result.set_aside == 1 and p.enrollment(eid).status == "replied"

    runner = CliRunner()
    cfg = ["--config", str(p.config_file()), "--at", p.clock.now().isoformat()]
    listed = runner.invoke(main, [*cfg, "inbound", "list", "--set-aside", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "no sequence 'new-leads'" in listed.output

    (p.root / "sequences" / "new-leads.yaml").write_text(
        (p.root / "sequences" / "quote-follow-up.yaml").read_text()
    )
    retried = runner.invoke(main, [*cfg, "inbound", "retry", "--json"])
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.output) == {"retried": 1, "applied": 1, "set_aside": 0}
    again = runner.invoke(main, [*cfg, "inbound", "retry"])
    assert (again.exit_code, again.output.strip()) == (0, "nothing set aside")
    with p.db.session() as s:
        from sequencer.db.models import Enrollment

        assert s.scalars(
            select(Enrollment.sequence_id).where(Enrollment.source == "filing")
        ).all() == ["new-leads"]


def test_poll_command_prints_what_it_did(project: Project) -> None:
    import json

    from click.testing import CliRunner

    from sequencer.cli import main

    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(reply_to(touch1, sender=prospect, to=p.rep, body="Yes!"), prospect, [p.rep])
    p.mail.wait_for(p.rep, 1)
    cfg = ["--config", str(p.config_file()), "--at", p.clock.now().isoformat()]
    out = CliRunner().invoke(main, [*cfg, "poll", "--json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert row["replies"] == 1 and row["kinds"]["reply"] == 1
    listed = CliRunner().invoke(main, [*cfg, "inbound", "list", "--kind", "reply", "--json"])
    assert json.loads(listed.output)[0]["prospect"] == prospect


def test_mark_seen_marks_only_handled_machine_mail_as_read(mail, db, clock, tmp_path: Path) -> None:
    p = make_project(mail, db, clock, tmp_path, imap={"mark_seen": True})
    dana, lee = p.mail.new_address("dana"), p.mail.new_address("lee")
    e1, e2 = p.enroll(dana), p.enroll(lee)
    t1, t2 = p.send_touch(e1, dana), p.send_touch(e2, lee)
    p.mail.send(
        reply_to(
            t1,
            sender=dana,
            to=p.rep,
            subject="Automatic reply: Your quote",
            body="I am away until Friday.",
            extra={"Auto-Submitted": "auto-replied"},
        ),
        dana,
        [p.rep],
    )
    p.mail.send(reply_to(t2, sender=lee, to=p.rep, body="Interested!"), lee, [p.rep])
    p.mail.wait_for(p.rep, 2)
    poll(p)
    with p.mail.imap(p.rep) as c:
        c.select_folder("INBOX", readonly=True)
        data = c.fetch(c.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    seen = {
        v[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip(): b"\\Seen" in v[b"FLAGS"]
        for v in data.values()
    }
    assert seen["Subject: Automatic reply: Your quote"] is True
    assert seen["Subject: Re: Your quote for Acme"] is False
