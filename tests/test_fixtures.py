"""The test harness itself: real SMTP in, real IMAP out, real PostgreSQL."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import text

from tests.servers import PASSWORD


def test_message_sent_with_aiosmtplib_is_read_back_over_imap(mail) -> None:
    rep = mail.new_address("rep")
    prospect = mail.new_address("prospect")
    msg = EmailMessage()
    msg["From"] = rep
    msg["To"] = prospect
    msg["Subject"] = "Your quote"
    msg["Message-ID"] = "<fixture-test@test.example>"
    msg.set_content("Hi, here is the quote.")

    async def send() -> None:
        await aiosmtplib.send(
            msg, hostname="127.0.0.1", port=mail.smtp_port, username=rep, password=PASSWORD,
            start_tls=False, use_tls=False,
        )

    asyncio.run(send())
    inbox = mail.wait_for(prospect, 1)
    assert [m["Subject"] for m in inbox] == ["Your quote"]
    assert inbox[0]["Message-ID"] == "<fixture-test@test.example>"
    assert mail.relay.connections == 1


def test_each_address_is_a_fresh_mailbox_with_a_sent_folder(mail) -> None:
    user = mail.new_address()
    with mail.imap(user) as client:
        folders = {name: flags for flags, _, name in client.list_folders()}
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    assert b"\\Sent" in folders["Sent"]


def test_smtp_front_injects_faults_per_recipient(mail) -> None:
    from tests.servers import Fault

    bad = mail.new_address("bad")
    mail.relay.faults[bad] = Fault(replies=["451 4.3.0 try again later"], permanent="550 5.1.1 no such user")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@test.example", bad, "x"
    msg.set_content("x")

    async def send() -> None:
        await aiosmtplib.send(msg, hostname="127.0.0.1", port=mail.smtp_port)

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as first:
        asyncio.run(send())
    assert first.value.recipients[0].code == 451
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as second:
        asyncio.run(send())
    assert second.value.recipients[0].code == 550


def test_database_backends_are_migrated_and_isolated(db) -> None:
    with db.engine.connect() as conn:
        assert conn.execute(text("select count(*) from prospects")).scalar() == 0
    assert "enrollments" in db.table_names()


def test_smtp_front_delivers_one_message_to_several_recipients(mail) -> None:
    a, b = mail.new_address("a"), mail.new_address("b")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "x@test.example", f"{a}, {b}", "both"
    msg.set_content("hello")
    mail.send(msg, "x@test.example", [a, b])
    assert [m["Subject"] for m in mail.wait_for(a, 1)] == ["both"]
    assert [m["Subject"] for m in mail.wait_for(b, 1)] == ["both"]
