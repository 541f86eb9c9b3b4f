"""Never obey a forged stop: the trust rule end to end, through real polls of real Dovecot.

A bounce (or complaint) acts on a prospect only when it carries the Message-ID of a touch we
sent to that prospect; one that does not is listed for review and acts on nobody until a
person confirms it. A third party's "remove me" in a prospect's thread removes the writer.
A DMARC failure recorded by our receiving server holds even a referencing stop for review.
Both databases.
"""

from __future__ import annotations

import json
import uuid
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from sequencer.cli import main
from sequencer.db.models import Event, Suppression
from sequencer.inbound.poll import poll_mailbox
from tests.kit import Project, make_project, reply_to

pytestmark = pytest.mark.servers

STRANGER = "mailer-daemon@forged.example"


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:
    return make_project(mail, db, clock, tmp_path)


def poll(p: Project) -> None:
    result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert result.ok, result.error


def cli(p: Project, *args: str) -> Result:
    cfg = ["--config", str(p.config_file()), "--at", p.clock.now().isoformat()]
    return CliRunner().invoke(main, [*cfg, *args])


def suppressed(p: Project) -> list[str]:
    with p.db.session() as s:
        return sorted(s.scalars(select(Suppression.value)))


def event_kinds(p: Project, enrollment_id: int) -> list[str]:
    with p.db.session() as s:
        return list(s.scalars(select(Event.kind).where(Event.enrollment_id == enrollment_id)))


def dsn(
    rcpt: str,
    *,
    returned_id: str | None,
    headers: dict[str, str] | None = None,
    returned_as: str = "text/rfc822-headers",
    status: str = "5.1.1",
) -> bytes:
    """A delivery report for ``rcpt`` as an MTA writes one (RFC 3464), from a daemon.

    ``returned_id`` is the Message-ID of the returned message (ours for a genuine report,
    a stranger's for a forged one); ``returned_as`` "text/rfc822-headers" attaches its
    headers, "none" attaches nothing (the report's own ``headers`` carry the evidence).
    """
    boundary = "=_dsn_" + uuid.uuid4().hex
    own = {
        "From": f"Mail Delivery System <{STRANGER}>",
        "To": "rep",
        "Subject": "Undelivered Mail Returned to Sender",
        "Date": "Mon, 02 Mar 2026 09:30:00 +0000",
        "Message-ID": f"<dsn.{uuid.uuid4().hex}@forged.example>",
        "Auto-Submitted": "auto-replied",
        "MIME-Version": "1.0",
        "Content-Type": f'multipart/report; report-type=delivery-status; boundary="{boundary}"',
        **(headers or {}),
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in own.items())
    parts = [
        "Content-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message "
        f"could not be delivered to one or more recipients.\r\n\r\n<{rcpt}>: host mx.remote "
        f"said: 550 {status} User unknown\r\n",
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.forged.example\r\n"
        f"\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{rcpt}>: Recipient address rejected\r\n",
    ]
    if returned_as == "text/rfc822-headers" and returned_id:
        parts.append(
            f"Content-Type: text/rfc822-headers\r\n\r\nFrom: Sam Rivera <rep@test.example>\r\n"
            f"To: {rcpt}\r\nSubject: Your quote for Acme\r\nMessage-ID: {returned_id}\r\n"
        )
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return (head + "\r\n" + body).encode()


def plain_bounce(rcpt: str, pasted_id: str) -> bytes:
    """A plain-text bounce (no DSN part) quoting the returned message's headers in its text."""
    return (
        f"From: MAILER-DAEMON@mx.remote.example\r\nTo: rep\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        "Date: Mon, 02 Mar 2026 09:30:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.remote.example>\r\nAuto-Submitted: auto-replied\r\n"
        "\r\nThis message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        f"  {rcpt}\r\n    host mx.remote.example said: 550 5.1.1 User unknown\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        f"Message-ID: {pasted_id}\r\nFrom: Sam Rivera <rep@test.example>\r\nTo: {rcpt}\r\n"
        "Subject: Your quote for Acme\r\n\r\nHi Dana,\r\n"
    ).encode()


def _sent_touch(p: Project) -> tuple[str, int, str]:
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch = p.send_touch(eid, prospect)
    assert p.mail.wait_for(prospect, 1)
    return prospect, eid, touch


def _deliver(p: Project, raw: bytes, count: int) -> None:
    p.mail.dovecot.deliver(p.rep, raw.replace(b"To: rep\r\n", f"To: {p.rep}\r\n".encode()))
    assert len(p.mail.wait_for(p.rep, count)) >= count


# --- a forged report acts on nobody, until a person decides -----------------------------------


def test_forged_dsn_is_held_for_review_and_confirm_applies_it(project: Project) -> None:
    p = project
    prospect, eid, _touch = _sent_touch(p)
    _deliver(p, dsn(prospect, returned_id="<not.ours.123@forged.example>"), 1)
    poll(p)
    e = p.enrollment(eid)
    assert e.status == "active" and e.next_send_at is not None
    assert suppressed(p) == []
    assert "bounced" not in event_kinds(p, eid)

    listed = cli(p, "inbound", "list", "--untrusted")
    assert listed.exit_code == 0, listed.output
    assert "UNTRUSTED" in listed.output
    as_json = cli(p, "inbound", "list", "--untrusted", "--json")
    [row] = json.loads(as_json.output)
    assert row["kind"] == "bounce" and row["trust"] == "untrusted"
    assert row["recipients"] == [prospect] and row["candidate_enrollment"] == eid
    assert row["candidate_prospect"] == prospect and row["prospect"] is None
    assert "no Message-ID of a touch" in row["trust_reason"]
    assert f"{prospect}?" in listed.output  # whom it would act on, as a question
    assert row["from"] == STRANGER
    # every other listing still shows it, marked
    assert json.loads(cli(p, "inbound", "list", "--json").output)[0]["trust"] == "untrusted"

    done = cli(p, "inbound", "confirm", str(row["id"]), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["prospect"] == prospect
    assert p.enrollment(eid).status == "bounced"
    assert suppressed(p) == [prospect]
    assert "inbound_confirmed" in event_kinds(p, eid)
    assert cli(p, "inbound", "list", "--untrusted").output.strip() == "nothing awaiting review"
    again = cli(p, "inbound", "confirm", str(row["id"]))
    assert again.exit_code != 0 and "not awaiting review" in again.output
    poll(p)  # a later poll never re-applies or re-judges it
    assert p.enrollment(eid).status == "bounced"


def test_rejected_forged_dsn_stays_inert(project: Project) -> None:
    p = project
    prospect, eid, _touch = _sent_touch(p)
    _deliver(p, dsn(prospect, returned_id=None, returned_as="none"), 1)
    poll(p)
    [row] = json.loads(cli(p, "inbound", "list", "--untrusted", "--json").output)
    done = cli(p, "inbound", "reject", str(row["id"]))
    assert done.exit_code == 0, done.output
    assert "acts on nobody" in done.output
    poll(p)
    assert p.enrollment(eid).status == "active" and suppressed(p) == []
    assert json.loads(cli(p, "inbound", "list", "--untrusted", "--json").output) == []
    listed = json.loads(cli(p, "inbound", "list", "--kind", "bounce", "--json").output)
    assert listed[0]["trust"] == "rejected"


def test_a_dsn_quoting_another_prospects_touch_does_not_act_on_this_one(
    project: Project,
) -> None:
    """Knowing one of our Message-IDs is not enough: it must be a touch sent to THIS prospect.

    The report is about the touch it returns (the failed address is where that touch was
    forwarded, as with an alias): that enrollment bounces, the named address is untouched.
    """
    p = project
    prospect, eid, _touch = _sent_touch(p)
    other = p.mail.new_address("lee")
    other_eid = p.enroll(other)
    other_touch = p.send_touch(other_eid, other)
    _deliver(p, dsn(prospect, returned_id=None, returned_as="none",
                    headers={"References": other_touch}), 1)
    poll(p)
    assert p.enrollment(eid).status == "active"
    assert suppressed(p) == [other] and p.enrollment(other_eid).status == "bounced"


# --- a genuine report acts at once ------------------------------------------------------------


@pytest.mark.parametrize("where", ["rfc822-headers", "in-reply-to", "references", "body text"])
def test_genuine_dsn_carrying_our_message_id_acts_at_once(project: Project, where: str) -> None:
    p = project
    prospect, eid, touch = _sent_touch(p)
    raw = {
        "rfc822-headers": lambda: dsn(prospect, returned_id=touch),
        "in-reply-to": lambda: dsn(
            prospect, returned_id=None, returned_as="none", headers={"In-Reply-To": touch}
        ),
        "references": lambda: dsn(
            prospect, returned_id=None, returned_as="none", headers={"References": touch}
        ),
        "body text": lambda: plain_bounce(prospect, touch),
    }[where]()
    _deliver(p, raw, 1)
    poll(p)
    assert p.enrollment(eid).status == "bounced"
    assert suppressed(p) == [prospect]
    [row] = json.loads(cli(p, "inbound", "list", "--kind", "bounce", "--json").output)
    assert row["trust"] == "trusted" and touch in row["trust_reason"]
    assert json.loads(cli(p, "inbound", "list", "--untrusted", "--json").output) == []


def test_dmarc_fail_holds_a_referencing_bounce_for_review(project: Project) -> None:
    p = project
    prospect, eid, touch = _sent_touch(p)
    results = "mx.test.example; spf=fail smtp.mailfrom=forged.example; dmarc=fail header.from=x"
    _deliver(p, dsn(prospect, returned_id=touch, headers={"Authentication-Results": results}), 1)
    poll(p)
    assert p.enrollment(eid).status == "active" and suppressed(p) == []
    [row] = json.loads(cli(p, "inbound", "list", "--untrusted", "--json").output)
    assert "dmarc=fail" in row["trust_reason"]
    assert cli(p, "inbound", "confirm", str(row["id"])).exit_code == 0
    assert p.enrollment(eid).status == "bounced"


# --- opt-outs written by someone else ---------------------------------------------------------


def test_forwardees_remove_me_suppresses_the_writer_not_the_prospect(project: Project) -> None:
    p = project
    prospect, eid, touch = _sent_touch(p)
    forwardee = p.mail.new_address("pat")
    p.mail.send(
        reply_to(touch, sender=forwardee, to=p.rep, body="Please remove me from your list."),
        forwardee,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    e = p.enrollment(eid)
    assert e.status == "active" and e.next_send_at is not None
    assert suppressed(p) == [forwardee]
    assert "third_party_unsubscribe" in event_kinds(p, eid)


def test_forwardee_who_is_also_a_prospect_is_unsubscribed_themselves(project: Project) -> None:
    p = project
    prospect, eid, touch = _sent_touch(p)
    forwardee = p.mail.new_address("pat")
    other = p.enroll(forwardee, name="Pat Quinn")
    p.mail.send(
        reply_to(touch, sender=forwardee, to=p.rep, body="Please unsubscribe me."),
        forwardee,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "active"
    assert p.enrollment(other).status == "unsubscribed"
    assert suppressed(p) == [forwardee]


def test_prospects_own_remove_me_still_unsubscribes_them(project: Project) -> None:
    p = project
    prospect, eid, touch = _sent_touch(p)
    msg: EmailMessage = reply_to(
        touch, sender=prospect, to=p.rep, body="Merci de me retirer de votre liste de diffusion."
    )
    del msg["Date"]
    msg["Date"] = format_datetime(p.clock.now())
    p.mail.send(msg, prospect, [p.rep])
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "unsubscribed"
    assert suppressed(p) == [prospect]


def test_prospect_opting_out_from_another_address_of_theirs_is_unsubscribed(
    project: Project,
) -> None:
    """Same name, other address (their phone's or private mailbox): it is them; honour it."""
    p = project
    prospect, eid, touch = _sent_touch(p)
    private = p.mail.new_address("dana.private")
    p.mail.send(
        reply_to(touch, sender=f"Dana Whitfield <{private}>", to=p.rep,
                 body="Please remove me from your list."),
        private,
        [p.rep],
    )
    p.mail.wait_for(p.rep, 1)
    poll(p)
    assert p.enrollment(eid).status == "unsubscribed"
    assert prospect in suppressed(p)
