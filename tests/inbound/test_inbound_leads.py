"""Inbound leads: web-form notifications filed by a server rule (Sieve) into the Leads folder
become prospects, owners in round robin, enrollments and owner alerts; speed to lead is in the
report; a message without a usable address is recorded and reported. Real SMTP + Dovecot."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from sequencer.db.models import Enrollment, InboundLead, Prospect
from sequencer.inbound.leads import choose_address, form_fields
from tests.kit import World

pytestmark = pytest.mark.servers
FORMS = "forms-noreply@web.example"


def file_form_mail_into_leads(mail: Any, user: str) -> None:
    """A Sieve rule, as a mail admin would set up: the web form's mail goes to Leads."""
    mail.dovecot.set_sieve(
        user,
        'require ["fileinto", "mailbox"];\n'
        f'if address :is "from" "{FORMS}" {{ fileinto :create "Leads"; stop; }}\n',
    )


def form_notification(to: str, *, name: str, email: str | None, company: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Website <{FORMS}>"
    msg["To"] = to
    msg["Subject"] = f"New demo request from {name}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@web.example>"
    lines = [f"Name: {name}", f"Company: {company}"]
    if email:
        lines.append(f"Email: {email}")
    lines.append("Message: we would like a demo next week")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def test_web_form_leads_are_routed_round_robin_enrolled_alerted_and_timed(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(
        tmp_path,
        db,
        mail,
        clock,
        reps=3,
        leads_folder="Leads",
        inbound={
            "sequence": "inbound",
            "owners": ["rep0", "rep1", "rep2"],
            "email_field": "Email",
            "name_field": "Name",
            "company_field": "Company",
        },
    )
    file_form_mail_into_leads(mail, w.rep)
    leads = [mail.new_address(f"lead{i}") for i in range(3)]
    for i, address in enumerate(leads):
        mail.send(
            form_notification(w.rep, name=f"Lena Park {i}", email=address, company="Fernhill"),
            FORMS,
            [w.rep],
        )
    mail.send(
        form_notification(w.rep, name="Nobody", email=None, company="Unknown"), FORMS, [w.rep]
    )
    assert len(mail.wait_for(w.rep, 4, folder="Leads")) == 4

    result = w.poll()
    assert result.ok, result.error
    with db.session() as s:
        rows = s.query(InboundLead).order_by(InboundLead.id).all()
        assert [r.status for r in rows] == ["enrolled", "enrolled", "enrolled", "no_address"]
        assert [r.owner for r in rows[:3]] == ["rep0", "rep1", "rep2"]
        assert "no usable address" in (rows[3].reason or "")
        for address, owner in zip(leads, ("rep0", "rep1", "rep2"), strict=True):
            p = s.query(Prospect).filter_by(email=address).one()
            e = s.query(Enrollment).filter_by(prospect_id=p.id).one()
            assert (p.name, p.company, e.owner, e.sequence_id, e.source) == (
                "Lena Park " + address[4],
                "Fernhill",
                owner,
                "inbound",
                "inbound",
            )
    for i, rep in enumerate(w.reps):  # each owner alerted at once, in their own inbox
        (alert,) = mail.wait_for(rep, 1, timeout=5)
        assert str(alert["Subject"]).strip().startswith(f"New inbound lead for you: Lena Park {i}")
    w.poll()  # re-polling creates nothing twice
    with db.session() as s:
        assert s.query(InboundLead).count() == 4

    clock.set(clock.now() + timedelta(minutes=5))
    w.tick()  # the welcome touches go out five minutes after the leads arrived
    out = w.cli("report", "--format", "json")
    assert out.exit_code == 0, out.output
    speed = json.loads(out.output)["speed_to_lead"]
    assert speed["leads"] == 3 and speed["responded"] == 3 and speed["median_minutes"] == 5.0
    assert [(r["owner"], r["leads"], r["median_minutes"]) for r in speed["per_rep"]] == [
        ("rep0", 1, 5.0),
        ("rep1", 1, 5.0),
        ("rep2", 1, 5.0),
    ]
    assert speed["unusable"] == 1 and speed["unusable_items"][0]["status"] == "no_address"


def test_the_address_comes_from_the_form_field_then_reply_to_then_from(tmp_path: Path) -> None:
    from sequencer.config import Config

    config = Config.model_validate({"inbound": {"email_field": "E-mail"}})
    own = frozenset({"sales@ours.example"})
    fields = form_fields("Name: Lena\nE-mail:  <Lena@Fernhill.example>\n")
    assert choose_address(config, {"fields": fields, "from": ["noreply@web.example"]}, own) == (
        "lena@fernhill.example",
        "form field 'E-mail'",
    )
    assert (
        choose_address(
            config, {"fields": {}, "reply_to": ["x@y.example"], "from": ["a@b.example"]}, own
        )[0]
        == "x@y.example"
    )
    address, why = choose_address(
        config, {"fields": {}, "from": ["no-reply@web.example", "sales@ours.example"]}, own
    )
    assert address is None and "From" in why


def test_the_digest_has_a_speed_to_lead_line(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    from sequencer.db import leads as tq
    from sequencer.reporting.digest import build_digest

    w = World(tmp_path, db, mail, clock, inbound={"sequence": "inbound", "owner": "rep0"})
    eid = w.enroll(mail.new_address("lena"), sequence="inbound")
    with db.session() as s:
        tq.record_lead(
            s,
            inbound_id=_stored_inbound(s, w),
            mailbox="rep0",
            received_at=clock.now(),
            email="lena@x.example",
            owner="rep0",
            enrollment_id=eid,
            status="enrolled",
        )
    clock.set(clock.now() + timedelta(minutes=5))
    w.tick()
    text = build_digest(db, w.config, now=clock.now()).text
    assert "SPEED TO LEAD: median 5 min over 1 inbound leads; per rep: rep0 5 min (1)" in text


def _stored_inbound(s: Any, w: World) -> int:
    from sequencer.db.models import InboundMessage

    row = InboundMessage(
        mailbox="rep0",
        folder="Leads",
        uidvalidity=1,
        uid=1,
        kind="lead",
        received_at=w.clock.now(),
        applied=True,
        refs=[],
        recipients=[],
    )
    s.add(row)
    s.flush()
    return row.id
