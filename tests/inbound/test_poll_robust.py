"""No single message stops a poll: oversized headers, unreadable mail, a database refusal.

Real Dovecot, both databases. What a rep would notice: the next reply is still recorded and
the sequence stops; what an operator would notice: `status` says why a poll failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.inbound import poll as poll_service
from sequencer.inbound.poll import poll_mailbox
from tests.kit import Project, make_project, reply_to

pytestmark = pytest.mark.servers


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:
    return make_project(mail, db, clock, tmp_path)


def _oversized(p: Project) -> bytes:
    long_id = "<" + "x" * 1200 + "@spam.example>"
    long_from = "=?utf-8?q?" + "A" * 1100 + "?= <" + "b" * 200 + "@spam.example>"
    return (
        f"From: {long_from}\r\nTo: {p.rep}\r\nSubject: huge headers\r\n"
        f"Message-ID: {long_id}\r\nIn-Reply-To: {long_id}\r\nReferences: {long_id}\r\n"
        "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n\r\nhello\x00 there\r\n"
    ).encode()


def _long_from(p: Project) -> bytes:
    """A 400-character From address (over the 320 an address column holds)."""
    sender = "c" * (400 - len("@spam.example")) + "@spam.example"
    assert len(sender) == 400
    return (
        f"From: {sender}\r\nTo: {p.rep}\r\nSubject: long sender\r\n"
        f"Message-ID: <{'d' * 40}@spam.example>\r\nReply-To: {sender}\r\n"
        "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n\r\nPlease remove me.\r\n"
    ).encode()


def test_oversized_message_id_does_not_stop_the_next_reply(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.dovecot.deliver(p.rep, _oversized(p))
    p.mail.dovecot.deliver(p.rep, _long_from(p))
    p.mail.wait_for(p.rep, 2)
    first = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert first.ok, first.error
    assert first.stored == 2 and first.set_aside == 0
    p.mail.send(
        reply_to(touch1, sender=prospect, to=p.rep, body="Yes, send it."), prospect, [p.rep]
    )
    p.mail.wait_for(p.rep, 3)
    second = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert second.ok, second.error
    assert p.enrollment(eid).status == "replied"
    listed = poll_service.inbound_messages(p.db)
    huge = next(r for r in listed if r["subject"] == "huge headers")
    assert huge["message_id"].startswith("<sha256.")
    long_sender = next(r for r in listed if r["subject"] == "long sender")
    assert long_sender["from"] and len(long_sender["from"]) <= 320 and not long_sender["error"]


def test_a_failing_poll_shows_in_status_with_its_reason(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = project
    from sequencer.inbound import store

    def refuse(*_a: object, **_k: object) -> None:
        raise RuntimeError("database refused the batch")

    monkeypatch.setattr(store, "fetch_and_store", refuse)
    result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert not result.ok and "database refused the batch" in (result.error or "")
    cfg = ["--config", str(p.config_file()), "--at", p.clock.now().isoformat()]
    out = CliRunner().invoke(main, [*cfg, "status"])
    assert "poll: RuntimeError: database refused the batch" in out.output
    data = json.loads(CliRunner().invoke(main, [*cfg, "status", "--json"]).output)
    rows = data["mailboxes"] if isinstance(data, dict) else data
    [row] = rows
    assert row["state"] != "ok" and "database refused the batch" in row["reason"]
