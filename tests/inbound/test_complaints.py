"""A spam complaint end to end: an ARF report (RFC 5965) lands in the rep's inbox, a real poll
reads it, and the complainant is stopped and suppressed; `show`, `report` and the dashboard
call it a complaint, never a reply. Both databases, real Dovecot.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from starlette.testclient import TestClient

from sequencer.cli import main
from sequencer.db.models import Suppression
from sequencer.inbound.poll import poll_mailbox
from sequencer.web.app import create_app
from sequencer.web.auth import WebAuth
from tests.kit import Project, make_project

pytestmark = pytest.mark.servers


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:
    return make_project(mail, db, clock, tmp_path)


def arf(rep: str, complainant: str, message_id: str) -> bytes:
    """RFC 5965 appendix B's example report, about our touch (the third part returns it)."""
    b = "part1_13d.2e68ed54_" + uuid.uuid4().hex
    return (
        "From: <abusedesk@mailbox-provider.example>\r\n"
        "Date: Mon, 2 Mar 2026 14:00:00 +0000\r\n"
        "Subject: FW: Your quote for Acme\r\n"
        f"To: <{rep}>\r\nMessage-ID: <{uuid.uuid4().hex}@mailbox-provider.example>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=feedback-report;\r\n boundary="{b}"\r\n\r\n'
        f"--{b}\r\nContent-Type: text/plain; charset=\"US-ASCII\"\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        "This is an email abuse report for an email message received from IP\r\n"
        "192.0.2.1 on Mon, 2 Mar 2026 14:00:00 +0000.\r\n\r\n"
        f"--{b}\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
        f"Original-Mail-From: <{rep}>\r\nOriginal-Rcpt-To: <{complainant}>\r\n"
        "Arrival-Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
        "Reporting-MTA: dns; mail.mailbox-provider.example\r\nSource-IP: 192.0.2.1\r\n\r\n"
        f"--{b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
        "Received: from mailserver.test.example by mail.mailbox-provider.example;\r\n"
        "        Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        f"From: Sam Rivera <{rep}>\r\nTo: <{complainant}>\r\nSubject: Your quote for Acme\r\n"
        f"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\nContent-type: text/plain\r\n\r\nHi Dana,\r\n\r\nTouch 1.\r\n\r\n"
        f"--{b}--\r\n"
    ).encode()


def cli(p: Project, *args: str) -> Result:
    cfg = ["--config", str(p.config_file()), "--at", p.clock.now().isoformat()]
    return CliRunner().invoke(main, [*cfg, *args])


def _complained(p: Project) -> tuple[str, int, int]:
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch = p.send_touch(eid, prospect)
    bystander = p.mail.new_address("lee")
    other = p.enroll(bystander, name="Lee Bystander")
    p.send_touch(other, bystander)
    p.mail.dovecot.deliver(p.rep, arf(p.rep, prospect, touch))
    assert p.mail.wait_for(p.rep, 1)
    result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert result.ok, result.error
    assert result.replies == 0 and result.notified == 0  # no reply alert for a complaint
    return prospect, eid, other


def test_complaint_stops_and_suppresses_the_complainant(project: Project) -> None:
    p = project
    prospect, eid, other = _complained(p)
    e = p.enrollment(eid)
    assert e.status == "stopped" and e.next_send_at is None and e.replied_at is None
    assert "spam complaint" in (e.status_reason or "")
    assert p.enrollment(other).status == "active"
    with p.db.session() as s:
        assert s.scalars(select(Suppression.value)).all() == [prospect]
    [row] = json.loads(cli(p, "inbound", "list", "--kind", "complaint", "--json").output)
    assert row["complainant"] == prospect and row["trust"] == "trusted"
    assert json.loads(cli(p, "inbound", "list", "--kind", "reply", "--json").output) == []


def test_complaint_shows_as_a_complaint_in_show_and_report(project: Project) -> None:
    p = project
    prospect, eid, _other = _complained(p)
    shown = cli(p, "show", prospect)
    assert shown.exit_code == 0, shown.output
    assert "inbound:complaint" in shown.output and "event:complaint" in shown.output
    assert "inbound:reply" not in shown.output and "SUPPRESSED" in shown.output
    data = json.loads(cli(p, "show", prospect, "--json").output)
    kinds = {(t["source"], t["kind"]) for t in data["timeline"]}
    assert {("inbound", "complaint"), ("event", "complaint")} <= kinds
    assert not {k for k in kinds if k[1] in ("reply", "replied")}
    assert data["enrollments"][0]["status"] == "stopped"

    p.clock.advance(timedelta(minutes=5))  # the activity window ends before "now"
    report = json.loads(cli(p, "report", "--json").output)
    assert report["deliverability"]["complaints"] == 1
    assert report["deliverability"]["complaints_in_window"] == 1
    assert report["totals"]["replies"] == 0 and report["totals"]["stopped"] == 1
    table = cli(p, "report")
    assert "Deliverability: 1 spam complaints (1 in the window)" in table.output


def test_dashboard_shows_the_complaint_and_the_review_count(project: Project) -> None:
    p = project
    prospect, _eid, _other = _complained(p)
    client = TestClient(
        create_app(p.config, p.db, p.clock, auth=WebAuth(), cache_seconds=0),
        base_url="http://127.0.0.1",
    )
    home = client.get("/")
    assert home.status_code == 200, home.text
    assert 'id="complaint-count">1<' in home.text
    assert 'id="review-count">0<' in home.text
    lead = client.get(f"/leads/{prospect}")
    assert lead.status_code == 200, lead.text
    assert "Spam complaint" in lead.text and "k-reply" not in lead.text


def test_untrusted_complaint_is_counted_for_review_and_acts_on_nobody(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    p.send_touch(eid, prospect)
    p.mail.dovecot.deliver(p.rep, arf(p.rep, prospect, "<not.ours@forged.example>"))
    assert p.mail.wait_for(p.rep, 1)
    assert poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep").ok
    assert p.enrollment(eid).status == "active"
    report = json.loads(cli(p, "report", "--json").output)
    assert report["deliverability"] == {
        "complaints": 0,
        "complaints_in_window": 0,
        "awaiting_review": 1,
        "review_command": "sequencer inbound list --untrusted",
    }
    assert "sequencer inbound list --untrusted" in cli(p, "report").output
    client = TestClient(
        create_app(p.config, p.db, p.clock, auth=WebAuth(), cache_seconds=0),
        base_url="http://127.0.0.1",
    )
    home = client.get("/").text
    assert 'id="review-count">1<' in home and "inbound list --untrusted" in home
    [row] = json.loads(cli(p, "inbound", "list", "--untrusted", "--json").output)
    assert cli(p, "inbound", "confirm", str(row["id"])).exit_code == 0
    assert p.enrollment(eid).status == "stopped"
    report = json.loads(cli(p, "report", "--json").output)["deliverability"]
    assert (report["complaints"], report["awaiting_review"]) == (1, 0)
