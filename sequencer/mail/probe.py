"""`sequencer check --connect`: log in to each server and say what works.

Messages name the host, port and what failed, never the secret. Each probe
returns a result instead of raising, so one broken mailbox does not hide the
state of the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

from sequencer.config import MailboxConfig, ServerConfig
from sequencer.errors import SecretError

DEFAULT_PORTS = {
    ("smtp", "tls"): 465,
    ("smtp", "starttls"): 587,
    ("smtp", "none"): 25,
    ("imap", "tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
}


def port_of(proto: str, server: ServerConfig) -> int:
    return server.port or DEFAULT_PORTS[(proto, server.security)]


def tls_context(server: ServerConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=server.ca_file) if server.ca_file else ssl.create_default_context()
    return ctx


@dataclass(frozen=True)
class ProbeResult:
    mailbox: str
    protocol: str
    ok: bool
    detail: str


def probe_smtp(mailbox: MailboxConfig) -> ProbeResult:
    import aiosmtplib

    server = mailbox.smtp
    where = f"{server.host}:{port_of('smtp', server)} ({server.security})"
    try:
        secret = mailbox.secret("smtp")
        password = secret.password(f"mailbox {mailbox.name} smtp")
    except SecretError as exc:
        return ProbeResult(mailbox.name, "smtp", False, str(exc))

    async def go() -> str:
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=port_of("smtp", server),
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            tls_context=tls_context(server) if server.security != "none" else None,
            timeout=server.timeout,
        )
        await client.connect()
        try:
            await client.ehlo()
            if client.supports_extension("auth") or server.security != "none":
                await client.login(secret.username or mailbox.address, password)
                return f"{where}: logged in as {secret.username}"
            return f"{where}: connected (server offers no AUTH)"
        finally:
            client.close()

    try:
        return ProbeResult(mailbox.name, "smtp", True, asyncio.run(go()))
    except aiosmtplib.SMTPAuthenticationError as exc:
        return ProbeResult(mailbox.name, "smtp", False, f"{where}: login refused ({exc.code})")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return ProbeResult(mailbox.name, "smtp", False, f"{where}: {type(exc).__name__}: {exc}")


def probe_imap(mailbox: MailboxConfig) -> ProbeResult:
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError

    server = mailbox.imap
    if server is None:
        return ProbeResult(mailbox.name, "imap", False, "no imap section: replies cannot be detected")
    where = f"{server.host}:{port_of('imap', server)} ({server.security})"
    try:
        secret = mailbox.secret("imap")
        password = secret.password(f"mailbox {mailbox.name} imap")
    except SecretError as exc:
        return ProbeResult(mailbox.name, "imap", False, str(exc))
    try:
        client = IMAPClient(
            server.host,
            port=port_of("imap", server),
            ssl=server.security == "tls",
            ssl_context=tls_context(server) if server.security == "tls" else None,
            timeout=server.timeout,
        )
        try:
            if server.security == "starttls":
                client.starttls(tls_context(server))
            client.login(secret.username or mailbox.address, password)
            sent = client.find_special_folder(b"\\Sent")
            caps = client.capabilities()
            idle = "IDLE" if b"IDLE" in caps else "no IDLE"
            return ProbeResult(
                mailbox.name, "imap", True,
                f"{where}: logged in as {secret.username}; Sent folder: {sent or 'not found'}; {idle}",
            )
        finally:
            with contextlib.suppress(Exception):  # best effort on a broken session
                client.logout()
    except LoginError:
        return ProbeResult(mailbox.name, "imap", False, f"{where}: login refused")
    except (IMAPClientError, OSError, TimeoutError) as exc:
        return ProbeResult(mailbox.name, "imap", False, f"{where}: {type(exc).__name__}: {exc}")
