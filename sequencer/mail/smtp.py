"""SMTP adapter: one small connection pool per mailbox, errors split at the edge.

The engine never sees an aiosmtplib exception. Every failure becomes one of:

* ``TemporaryFailure`` -- 4xx replies, timeouts, dropped connections: try again later.
  ``maybe_delivered`` is true only when the connection broke *during* DATA, where the
  server may already have accepted the message; the engine must not resend those blindly.
* ``HardBounce`` -- a 5xx reply to RCPT: this recipient will never take mail.
* ``PermanentFailure`` -- a 5xx reply to the message itself (DATA): this touch will
  never be accepted, but the address is not known to be bad.
* ``MailboxAuthError`` -- the server refused the mailbox's credentials.
* ``MailboxError`` -- the server refused the sender (5xx to MAIL FROM): a mailbox problem.

Connections are reused across sends (a rep's provider counts logins, and a TLS
handshake per touch is slow); a connection the server dropped is replaced on the
next send, and a drop before DATA is retried once on a fresh connection, since
nothing was transmitted yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.email import quote_address

from sequencer.config import MailboxConfig, ServerConfig
from sequencer.errors import MailboxAuthError, MailboxError

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"tls": 465, "starttls": 587, "none": 25}


class TemporaryFailure(MailboxError):
    """4xx or a network failure: retry later. Carries the SMTP code when there was one."""

    def __init__(
        self,
        mailbox: str,
        message: str,
        *,
        code: int | None = None,
        recipient: str | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        self.code = code
        self.reply = message
        self.recipient = recipient
        self.maybe_delivered = maybe_delivered
        super().__init__(mailbox, f"{code} {message}" if code else message)


class PermanentFailure(MailboxError):
    """5xx for this message: never retried."""

    def __init__(self, mailbox: str, code: int, message: str, recipient: str | None = None) -> None:
        self.code = code
        self.reply = message
        self.recipient = recipient
        super().__init__(
            mailbox, f"{code} {message}" + (f" (recipient {recipient})" if recipient else "")
        )


class HardBounce(PermanentFailure):
    """5xx to RCPT: the recipient address does not take mail; suppress it."""


class SenderRejected(MailboxError):
    """5xx to MAIL FROM: the server will not send as this mailbox (pause it, do not bounce)."""


@dataclass(frozen=True)
class Accepted:
    """The server took the message: its final reply (often carries a queue id)."""

    code: int
    message: str


def _tls_context(server: ServerConfig) -> ssl.SSLContext | None:
    if server.security == "none":
        return None
    return (
        ssl.create_default_context(cafile=server.ca_file)
        if server.ca_file
        else ssl.create_default_context()
    )


def _reply_text(exc: aiosmtplib.SMTPResponseException) -> str:
    return " ".join(str(exc.message).split())


class SmtpPool:
    """Up to ``mailbox.concurrency`` authenticated connections to one mailbox's server.

    ``send`` is safe to call from many tasks at once; at most ``concurrency`` run
    in parallel. The password is fetched once, on the first connection, and kept
    only in this object (never logged).
    """

    def __init__(self, mailbox: MailboxConfig, *, concurrency: int | None = None) -> None:
        self.mailbox = mailbox
        self.server = mailbox.smtp
        self.concurrency = concurrency or mailbox.concurrency
        self._slots = asyncio.Semaphore(self.concurrency)
        self._idle: list[aiosmtplib.SMTP] = []
        self._password: str | None = None
        self._password_loaded = False
        self.connections_opened = 0

    @property
    def name(self) -> str:
        return self.mailbox.name

    def _credentials(self) -> tuple[str, str] | None:
        secret = self.mailbox.secret("smtp")
        if not (secret.password_env or secret.password_cmd):
            return None
        if not self._password_loaded:
            self._password = secret.password(f"mailbox {self.name} smtp")
            self._password_loaded = True
        assert secret.username is not None and self._password is not None
        return secret.username, self._password

    async def _connect(self) -> aiosmtplib.SMTP:
        server = self.server
        port = server.port or DEFAULT_PORTS[server.security]
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=port,
            timeout=server.timeout,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            tls_context=_tls_context(server),
        )
        where = f"{server.host}:{port}"
        try:
            await client.connect()
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(
                self.name, f"cannot connect to SMTP {where}: {_describe(exc)}"
            ) from None
        credentials = self._credentials()
        if credentials:
            try:
                await client.login(*credentials)
            except aiosmtplib.SMTPAuthenticationError as exc:
                with contextlib.suppress(Exception):
                    await client.quit()
                raise MailboxAuthError(
                    self.name,
                    f"SMTP {where} refused the login for {credentials[0]}: {exc.code} {_reply_text(exc)}",
                ) from None
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise MailboxAuthError(
                        self.name,
                        f"SMTP {where} refused the login for {credentials[0]}: {exc.code} {_reply_text(exc)}",
                    ) from None
                raise TemporaryFailure(self.name, _reply_text(exc), code=exc.code) from None
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                raise TemporaryFailure(
                    self.name, f"SMTP {where} login failed: {_describe(exc)}"
                ) from None
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                raise TemporaryFailure(
                    self.name, f"SMTP {where} greeting failed: {_describe(exc)}"
                ) from None
        self.connections_opened += 1
        return client

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        return await self._connect()

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append(client)

    async def send(
        self,
        sender: str,
        recipient: str,
        raw: bytes | Callable[[], bytes],
        *,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> Accepted:
        """Send one message to one recipient; raise one of the module's failures.

        ``raw`` may be a function producing the bytes: it is called once a connection
        slot is free, so building one message overlaps the other slots' round trips.
        Whatever it raises propagates unchanged (nothing was sent). ``ready`` is awaited
        once the connection is up, right before MAIL FROM: what it raises also
        propagates with nothing sent (the caller's last check that it may still send).
        """
        async with self._slots:
            if callable(raw):
                raw = raw()
            for attempt in (1, 2):
                client = await self._checkout()
                if ready is not None and attempt == 1:
                    try:
                        await ready()
                    except BaseException:
                        self._checkin(client)
                        raise
                try:
                    result = await self._transaction(client, sender, recipient, raw)
                except _Dropped as dropped:
                    _close_quietly(client)
                    if attempt == 1 and not dropped.after_data:
                        log.info(
                            "mailbox %s: SMTP connection dropped (%s); reconnecting",
                            self.name,
                            dropped.reason,
                        )
                        continue
                    raise TemporaryFailure(
                        self.name,
                        f"connection lost {'during' if dropped.after_data else 'before'} DATA: {dropped.reason}",
                        recipient=recipient,
                        maybe_delivered=dropped.after_data,
                    ) from None
                except BaseException:
                    _close_quietly(client)
                    raise
                self._checkin(client)
                return result
        raise AssertionError("unreachable")

    async def _transaction(
        self, client: aiosmtplib.SMTP, sender: str, recipient: str, raw: bytes
    ) -> Accepted:
        in_data = False
        try:
            try:
                await _mail(client, sender)
            except aiosmtplib.SMTPSenderRefused as exc:
                await _rset(client)
                if exc.code >= 500:
                    raise SenderRejected(
                        self.name, f"server refused sender {sender}: {exc.code} {_reply_text(exc)}"
                    ) from None
                raise TemporaryFailure(self.name, _reply_text(exc), code=exc.code) from None
            try:
                await _rcpt(client, recipient)
            except aiosmtplib.SMTPRecipientRefused as exc:
                await _rset(client)
                if exc.code >= 500:
                    raise HardBounce(self.name, exc.code, _reply_text(exc), recipient) from None
                raise TemporaryFailure(
                    self.name, _reply_text(exc), code=exc.code, recipient=recipient
                ) from None
            in_data = True
            try:
                response = await client.data(raw)
            except aiosmtplib.SMTPDataError as exc:
                await _rset(client)
                if exc.code >= 500:
                    raise PermanentFailure(
                        self.name, exc.code, _reply_text(exc), recipient
                    ) from None
                raise TemporaryFailure(
                    self.name, _reply_text(exc), code=exc.code, recipient=recipient
                ) from None
            return Accepted(response.code, " ".join(response.message.split()))
        except (
            TimeoutError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            OSError,
        ) as exc:
            raise _Dropped(_describe(exc), after_data=in_data) from None
        except aiosmtplib.SMTPResponseException as exc:
            # Any other reply (e.g. 421 service closing) outside the cases above.
            await _rset(client)
            if exc.code >= 500:
                raise PermanentFailure(self.name, exc.code, _reply_text(exc), recipient) from None
            raise TemporaryFailure(
                self.name, _reply_text(exc), code=exc.code, recipient=recipient
            ) from None

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                await client.quit(timeout=5)
            _close_quietly(client)


class _Dropped(Exception):
    def __init__(self, reason: str, *, after_data: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_data = after_data


_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO, as aiosmtplib would quote it.

    Plain addresses (all of ours: validated when stored) skip aiosmtplib's
    ``email.utils`` parsing, a visible cost per message at hundreds a second.
    """
    if _PLAIN_ADDRESS.match(address):
        return f"<{address}>".encode("ascii")
    return quote_address(address).encode("ascii")


async def _mail(client: aiosmtplib.SMTP, sender: str) -> None:
    """``client.mail(sender)`` on a connection already greeted (see ``_connect``)."""
    response = await client.execute_command(b"MAIL", b"FROM:" + _path(sender))
    if response.code != 250:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)


async def _rcpt(client: aiosmtplib.SMTP, recipient: str) -> None:
    """``client.rcpt(recipient)``, the same way."""
    response = await client.execute_command(b"RCPT", b"TO:" + _path(recipient))
    if response.code not in (250, 251):
        raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)


async def _rset(client: aiosmtplib.SMTP) -> None:
    """Reset the transaction so the connection can carry the next message."""
    with contextlib.suppress(Exception):
        await client.rset()


def _close_quietly(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.close()


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _check(mailbox: MailboxConfig) -> str:
    pool = SmtpPool(mailbox, concurrency=1)
    client = await pool._connect()
    try:
        server = mailbox.smtp
        port = server.port or DEFAULT_PORTS[server.security]
        how = "logged in" if pool._credentials() else "connected (no login configured)"
        return f"SMTP {server.host}:{port} ({server.security}): {how} as {mailbox.secret('smtp').username}"
    finally:
        with contextlib.suppress(Exception):
            await client.quit(timeout=5)
        _close_quietly(client)


def check_smtp(mailbox: MailboxConfig) -> str:
    """Connect and log in once; a one-line success message (never the password).

    Raises MailboxAuthError when the credentials are refused, TemporaryFailure
    (a MailboxError) when the server cannot be reached.
    """
    return asyncio.run(_check(mailbox))


__all__ = [
    "Accepted",
    "HardBounce",
    "PermanentFailure",
    "SenderRejected",
    "SmtpPool",
    "TemporaryFailure",
    "check_smtp",
]
