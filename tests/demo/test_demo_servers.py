"""The demo's in-process mail servers behave like the real thing for our engine.

No fixtures from tests/servers.py here on purpose: these servers exist so the
demo runs where Dovecot does not, and these tests prove it with the same
clients the engine uses (aiosmtplib to send, imapclient to read).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from sequencer.classify import classify
from sequencer.clock import ManualClock
from sequencer.demo.servers import SENT_FOLDER, DemoMailServers

REP = "rep@demo.example"
PASSWORD = "demo-password"


@pytest.fixture
def servers() -> Iterator[DemoMailServers]:
    with DemoMailServers(clock=ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))) as running:
        running.add_user(REP, PASSWORD)
        yield running


def _message(sender: str, to: str, subject: str, msgid: str, body: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg.set_content(body)
    return msg


def _imap(servers: DemoMailServers) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=servers.imap_port, ssl=False, timeout=10)
    client.login(REP, PASSWORD)
    return client


def _inbox(servers: DemoMailServers) -> list[EmailMessage]:
    with _imap(servers) as client:
        client.select_folder("INBOX", readonly=True)
        data = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
        return [
            email.message_from_bytes(data[uid][b"BODY[]"], policy=email.policy.default)  # type: ignore[misc]
            for uid in sorted(data)
        ]


def test_servers_start_and_stop_in_well_under_a_second() -> None:
    started = time.monotonic()
    with DemoMailServers() as running:
        running.add_user(REP, PASSWORD)
        assert running.smtp_port and running.imap_port
    assert time.monotonic() - started < 1.0


def test_mail_sent_over_smtp_is_read_back_over_imap(servers: DemoMailServers) -> None:
    msg = _message("pat@prospect.example", REP, "Re: your quote", "<r1@prospect.example>")
    asyncio.run(aiosmtplib.send(msg, hostname="127.0.0.1", port=servers.smtp_port))

    inbox = _inbox(servers)
    assert [m["Subject"] for m in inbox] == ["Re: your quote"]
    assert inbox[0]["Message-ID"] == "<r1@prospect.example>"


def test_delivery_is_stamped_with_the_simulated_time(servers: DemoMailServers) -> None:
    servers.send(
        _message("pat@prospect.example", REP, "hi", "<t1@p>"), "pat@prospect.example", [REP]
    )
    with _imap(servers) as client:
        client.select_folder("INBOX", readonly=True)
        (data,) = client.fetch(client.search("ALL"), ["INTERNALDATE"]).values()
    assert data[b"INTERNALDATE"].date().isoformat() == "2026-03-02"


def test_smtp_auth_checks_the_user_password(servers: DemoMailServers) -> None:
    msg = _message(REP, "pat@prospect.example", "Quote", "<q1@demo.example>")
    asyncio.run(
        aiosmtplib.send(
            msg, hostname="127.0.0.1", port=servers.smtp_port, username=REP, password=PASSWORD
        )
    )
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        asyncio.run(
            aiosmtplib.send(
                msg, hostname="127.0.0.1", port=servers.smtp_port, username=REP, password="wrong"
            )
        )
    assert [m["Subject"] for m in servers.received_by("pat@prospect.example")] == ["Quote"]


def test_imap_refuses_a_wrong_password(servers: DemoMailServers) -> None:
    client = IMAPClient("127.0.0.1", port=servers.imap_port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        client.login(REP, "wrong")


def test_sent_folder_takes_appends_and_finds_them_by_message_id(servers: DemoMailServers) -> None:
    touch = _message(REP, "pat@prospect.example", "Quote", "<touch-1@demo.example>")
    with _imap(servers) as client:
        assert SENT_FOLDER in [name for _, _, name in client.list_folders()]
        client.append(SENT_FOLDER, touch.as_bytes())
        client.append(
            SENT_FOLDER, _message(REP, "x@y.example", "Other", "<other@demo.example>").as_bytes()
        )
        client.select_folder(SENT_FOLDER, readonly=True)
        assert len(client.search(["HEADER", "Message-ID", "<touch-1@demo.example>"])) == 1
        assert client.search(["HEADER", "Message-ID", "<never-sent@demo.example>"]) == []


def test_uids_grow_so_an_incremental_poller_sees_only_new_mail(servers: DemoMailServers) -> None:
    servers.send(_message("a@p.example", REP, "one", "<1@p>"), "a@p.example", [REP])
    with _imap(servers) as client:
        before = client.folder_status("INBOX", ["UIDVALIDITY", "UIDNEXT"])
        servers.send(_message("b@p.example", REP, "two", "<2@p>"), "b@p.example", [REP])
        after = client.folder_status("INBOX", ["UIDVALIDITY", "UIDNEXT"])
        client.select_folder("INBOX", readonly=True)
        fresh = client.search(["UID", f"{before[b'UIDNEXT']}:*"])
    assert after[b"UIDVALIDITY"] == before[b"UIDVALIDITY"]
    assert after[b"UIDNEXT"] == before[b"UIDNEXT"] + 1
    assert [uid for uid in fresh if uid >= before[b"UIDNEXT"]] == [before[b"UIDNEXT"]]


def test_bouncing_address_mails_a_dsn_the_classifier_reads_as_a_hard_bounce(
    servers: DemoMailServers,
) -> None:
    servers.bounce("gone@prospect.example", "5.1.1")
    touch = _message(REP, "gone@prospect.example", "Your quote", "<touch-9@demo.example>")
    asyncio.run(
        aiosmtplib.send(
            touch, hostname="127.0.0.1", port=servers.smtp_port, username=REP, password=PASSWORD
        )
    )

    (dsn,) = _inbox(servers)
    assert dsn.get_content_type() == "multipart/report"
    verdict = classify(dsn, own_addresses={REP})
    assert verdict.kind == "bounce"
    assert verdict.rule == "delivery status report"  # a real RFC 3464 report, not a guess
    assert verdict.severity == "hard"
    assert verdict.recipients == ("gone@prospect.example",)
    assert "<touch-9@demo.example>" in verdict.refs


def test_mail_for_outside_addresses_is_kept_not_delivered(servers: DemoMailServers) -> None:
    servers.send(
        _message(REP, "pat@prospect.example", "Quote", "<q@demo>"), REP, ["pat@prospect.example"]
    )
    assert [m["Message-ID"] for m in servers.received_by("pat@prospect.example")] == ["<q@demo>"]
    assert _inbox(servers) == []
