"""In-process SMTP and IMAP servers, so ``sequencer demo`` needs nothing installed.

One background thread runs one asyncio loop holding both servers: an aiosmtpd
SMTP server and a pymap IMAP server on its in-memory ("dict") backend, each on
127.0.0.1 and a free port. Mail accepted over SMTP for a local user is appended
straight into that user's INBOX, so the engine under demonstration sees it only
the way it would in production: by polling IMAP. Mail for anyone else is
accepted and kept in memory (the "internet"), where the demo's scripted
prospects read the touches they answer.

Per-recipient behaviour the demo story needs: an address can bounce after being
accepted, which mails an RFC 3464 delivery status notification back to the
sender's INBOX, as a real remote MTA would.

pymap has no SPECIAL-USE support, so every user gets a plain ``Sent`` folder
and the demo config names it explicitly (``imap.folders.sent: Sent``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import email.utils
import logging
import re
import smtplib
import threading
import uuid
from argparse import Namespace
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, TypeVar

from sequencer.clock import Clock

T = TypeVar("T")

SENT_FOLDER = "Sent"
START_TIMEOUT = 10.0


@dataclass(frozen=True)
class Delivery:
    """One message the SMTP server accepted: the envelope and the bytes as received."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


class DemoMailServers:
    """SMTP + IMAP on loopback, in this process, started and stopped in milliseconds.

    Use as a context manager. Users (``add_user``) are real IMAP logins with an
    INBOX and a Sent folder; SMTP accepts mail from anyone (AUTH is offered and
    checked against the same passwords, but not required) for any recipient.
    ``clock`` stamps delivered messages' INTERNALDATE, so a demo running in
    simulated time gets mailboxes that look like that time.
    """

    def __init__(
        self,
        domain: str = "demo.example",
        clock: Clock | None = None,
        record: bool = True,
    ) -> None:
        self.domain = domain
        self.clock = clock
        self.record = record
        self.smtp_port = 0
        self.imap_port = 0
        self.connections = 0
        self.accepted = 0
        self.deliveries: list[Delivery] = []
        self._passwords: dict[str, str] = {}
        self._bounces: dict[str, str] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stack: AsyncExitStack | None = None
        self._login: Any = None
        self._imap_config: Any = None

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> DemoMailServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> DemoMailServers:
        """Bind both servers and return once they accept connections."""
        # aiosmtpd logs a deprecation warning on every AUTH; it would land in the demo's output.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_servers())
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_servers())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="demo-mail-servers", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError("the demo mail servers did not start within 10 s")
        if failure:
            self._thread.join(1)
            raise RuntimeError(f"the demo mail servers failed to start: {failure[0]}") from failure[
                0
            ]
        return self

    def stop(self) -> None:
        """Close every connection and the loop; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    async def _start_servers(self) -> None:
        from aiosmtpd.smtp import SMTP
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.backend.dict import Config, Login
        from pymap.imap import IMAPServer
        from pysasl.hashing import Cleartext

        class DemoImapConfig(Config):
            @property
            def greeting(self) -> bytes:  # the default resolves the FQDN: slow offline
                return b"Server ready (sequencer demo)"

        args = Namespace(
            host="127.0.0.1", port=0, debug=False, cert=None, key=None, tls=False,
            demo_data=False, demo_user="", demo_password="", passlib_cfg=None,
            proxy_protocol=None, inherited_sockets=None,
        )  # fmt: skip
        config = DemoImapConfig.from_args(
            args, hash_context=Cleartext(), invalid_user_sleep=0.0, reject_dnsbl=False
        )
        config.apply_context()
        self._imap_config = config
        self._login = Login(config)
        stack = AsyncExitStack()
        self._stack = stack
        imap_cb = ProxyProtocolReader(config.proxy_protocol).get_callback(
            IMAPServer(self._login, config)
        )
        imap_server = await asyncio.start_server(imap_cb, host="127.0.0.1", port=0)
        await stack.enter_async_context(imap_server)
        self.imap_port = imap_server.sockets[0].getsockname()[1]

        servers = self
        loop = asyncio.get_running_loop()

        class CountingSMTP(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                with servers._lock:
                    servers.connections += 1
                super().connection_made(transport)  # type: ignore[arg-type]

        handler = _Handler(self)
        smtp_server = await loop.create_server(
            lambda: CountingSMTP(
                handler,
                hostname=f"mx.{self.domain}",
                authenticator=self._authenticate,
                auth_require_tls=False,
                auth_required=False,
                loop=loop,
            ),
            host="127.0.0.1",
            port=0,
        )
        stack.push_async_callback(smtp_server.wait_closed)
        stack.callback(smtp_server.close)
        self.smtp_port = smtp_server.sockets[0].getsockname()[1]

    async def _stop_servers(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stack.aclose(), 5)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = getattr(auth_data, "login", b"") or b""
        password = getattr(auth_data, "password", b"") or b""
        expected = self._passwords.get(login.decode(errors="replace").lower())
        return AuthResult(
            success=expected is not None and expected.encode() == password, handled=False
        )

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the servers' loop from any other thread."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the demo mail servers are not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- users and behaviour -----------------------------------------------------------
    def add_user(self, address: str, password: str) -> None:
        """A local IMAP user with an INBOX and a Sent folder; SMTP mail to it lands in its INBOX."""
        self._call(self._add_user(address.lower(), password))

    async def _add_user(self, address: str, password: str) -> None:
        from pymap.backend.dict import Identity
        from pymap.user import UserMetadata

        identity = Identity(address, self._login, None, frozenset())
        await identity.set(UserMetadata(self._imap_config, address, password=password))
        self._passwords[address] = password
        async with identity.new_session() as session:
            with contextlib.suppress(ValueError):  # already there
                await session.mailbox_set.add_mailbox(SENT_FOLDER)

    def is_local(self, address: str) -> bool:
        return address.lower() in self._passwords

    def bounce(self, address: str, status: str = "5.1.1") -> None:
        """Accept mail for ``address``, then mail the sender a DSN with this status."""
        self._bounces[address.lower()] = status

    # -- mail in and out ------------------------------------------------------------
    def deliver(self, address: str, raw: bytes, folder: str = "INBOX") -> None:
        """Append a message to a local user's folder, as the mail server's delivery agent."""
        self._call(self._append(address.lower(), raw, folder))

    async def _append(self, address: str, raw: bytes, folder: str = "INBOX") -> None:
        from pymap.backend.dict import Identity
        from pymap.parsing.message import AppendMessage

        when = self._now()
        identity = Identity(address, self._login, None, frozenset())
        async with identity.new_session() as session:
            mailbox = await session.mailbox_set.get_mailbox(folder)
            await mailbox.append(AppendMessage(raw, when, frozenset()), recent=True)

    def _now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now().astimezone()

    def send(self, msg: EmailMessage | bytes, sender: str, rcpts: list[str]) -> None:
        """Send as an outside party would: a fresh SMTP session to this server."""
        raw = crlf(msg if isinstance(msg, bytes) else msg.as_bytes())
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.sendmail(sender, rcpts, raw)

    def received_by(self, address: str) -> list[EmailMessage]:
        """Every message the SMTP server accepted for ``address``, oldest first."""
        wanted = address.lower()
        with self._lock:
            raws = [d.raw for d in self.deliveries if wanted in (r.lower() for r in d.rcpt_tos)]
        return [email.message_from_bytes(r, policy=email.policy.default) for r in raws]  # type: ignore[misc]

    async def _accept(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        with self._lock:
            self.accepted += 1
            if self.record:
                self.deliveries.append(Delivery(mail_from, tuple(rcpt_tos), raw))
        for rcpt in rcpt_tos:
            address = rcpt.lower()
            status = self._bounces.get(address)
            if status is not None:
                if mail_from and self.is_local(mail_from):
                    await self._append(
                        mail_from.lower(),
                        make_dsn(mail_from, rcpt, raw, status, self.domain, self._now()),
                    )
            elif self.is_local(address):
                await self._append(address, raw)


class _Handler:
    """aiosmtpd handler: accept everything, then deliver or bounce per recipient."""

    def __init__(self, servers: DemoMailServers) -> None:
        self.servers = servers

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        await self.servers._accept(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        return "250 2.0.0 OK queued"


def crlf(raw: bytes) -> bytes:
    """SMTP wants CRLF line ends; smtplib passes bytes through as they are."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def make_dsn(
    sender: str, rcpt: str, original: bytes, status: str, domain: str, when: datetime | None = None
) -> bytes:
    """An RFC 3464 delivery status notification, as Postfix writes one.

    multipart/report with a human part, a ``message/delivery-status`` part and
    the original's headers (``text/rfc822-headers``: Message-ID, In-Reply-To,
    References), which is how the poller attributes a bounce to its touch.
    Written as text, because the email package cannot generate a
    message/delivery-status part from scratch.
    """
    orig = email.message_from_bytes(original, policy=email.policy.compat32)
    action = "failed" if status.startswith("5") else "delayed"
    boundary = f"dsn-{uuid.uuid4().hex}"
    date = email.utils.format_datetime(when) if when else email.utils.formatdate()
    headers = "".join(
        f"{key}: {orig[key]}\n"
        for key in ("From", "To", "Subject", "Message-ID", "Date", "In-Reply-To", "References")
        if orig[key]
    )
    text = f"""\
From: MAILER-DAEMON@mx.{domain} (Mail Delivery System)
To: {sender}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: <dsn.{uuid.uuid4().hex}@mx.{domain}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.{domain}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{rcpt}>: host mx.remote said: 550 {status} User unknown

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.{domain}
Arrival-Date: {date}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{rcpt}>: Recipient address rejected

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{headers}
--{boundary}--
"""
    return crlf(text.encode("utf-8", errors="replace"))
