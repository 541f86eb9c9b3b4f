"""IMAP adapter: a logged-in session on a mailbox's server (imapclient, synchronous).

The sending engine uses it to put a copy of each touch into the rep's Sent folder
and, after a crash, to look a Message-ID up there; the inbox poller builds on the
same session. Security mirrors SMTP: ``tls`` (implicit, port 993), ``starttls``
(port 143, upgraded before login) or ``none`` (plain, for local test servers).
"""

from __future__ import annotations

import contextlib
import ssl
from datetime import datetime
from types import TracebackType

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SENT as SPECIAL_USE_SENT

from sequencer.config import ImapConfig, MailboxConfig
from sequencer.errors import MailboxAuthError, MailboxError

DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}
# Names clients use for Sent when the server does not advertise SPECIAL-USE.
SENT_FALLBACKS = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "INBOX.Sent",
    "INBOX/Sent",
    "[Gmail]/Sent Mail",
)


def _tls_context(server: ImapConfig) -> ssl.SSLContext | None:
    if server.security == "none":
        return None
    return (
        ssl.create_default_context(cafile=server.ca_file)
        if server.ca_file
        else ssl.create_default_context()
    )


class ImapSession:
    """One IMAP connection for one mailbox. Use as a context manager or call connect/close.

    Errors come out as ``MailboxAuthError`` (login refused) or ``MailboxError``
    (anything else), naming the mailbox and server, never the password.
    """

    def __init__(self, mailbox: MailboxConfig) -> None:
        if mailbox.imap is None:
            raise MailboxError(mailbox.name, "no imap server configured")
        self.mailbox = mailbox
        self.server: ImapConfig = mailbox.imap
        self.client: IMAPClient | None = None
        self._sent_folder: str | None = None

    @property
    def where(self) -> str:
        port = self.server.port or DEFAULT_PORTS[self.server.security]
        return f"IMAP {self.server.host}:{port}"

    def connect(self) -> ImapSession:
        server = self.server
        port = server.port or DEFAULT_PORTS[server.security]
        secret = self.mailbox.secret("imap")
        try:
            client = IMAPClient(
                server.host,
                port=port,
                ssl=server.security == "tls",
                ssl_context=_tls_context(server),
                timeout=server.timeout,
            )
            if server.security == "starttls":
                client.starttls(_tls_context(server))
        except (TimeoutError, OSError, IMAPClientError) as exc:
            raise MailboxError(
                self.mailbox.name, f"cannot connect to {self.where}: {type(exc).__name__}: {exc}"
            ) from None
        password = secret.password(f"mailbox {self.mailbox.name} imap")
        try:
            client.login(secret.username, password)
        except LoginError as exc:
            _logout_quietly(client)
            raise MailboxAuthError(
                self.mailbox.name, f"{self.where} refused the login for {secret.username}: {exc}"
            ) from None
        except (OSError, IMAPClientError) as exc:
            _logout_quietly(client)
            raise MailboxError(
                self.mailbox.name, f"{self.where} login failed: {type(exc).__name__}: {exc}"
            ) from None
        self.client = client
        return self

    def close(self) -> None:
        if self.client is not None:
            _logout_quietly(self.client)
            self.client = None

    def __enter__(self) -> ImapSession:
        return self.connect() if self.client is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _require(self) -> IMAPClient:
        if self.client is None:
            self.connect()
        assert self.client is not None
        return self.client

    def find_sent_folder(self) -> str | None:
        """The configured ``imap.folders.sent``, else the folder flagged ``\\Sent``, else a usual name."""
        if self.server.folders.sent:
            return self.server.folders.sent
        if self._sent_folder:
            return self._sent_folder
        client = self._require()
        try:
            found = client.find_special_folder(SPECIAL_USE_SENT)
            if not found:
                names = {name for _flags, _delim, name in client.list_folders()}
                found = next((n for n in SENT_FALLBACKS if n in names), None)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                self.mailbox.name, f"{self.where}: listing folders failed: {exc}"
            ) from None
        self._sent_folder = found
        return found

    def append_sent(self, raw: bytes, when: datetime) -> str:
        """Store a copy of a sent message in Sent, marked read; returns the folder used."""
        folder = self.find_sent_folder()
        if folder is None:
            raise MailboxError(
                self.mailbox.name,
                f"{self.where}: no Sent folder found; set imap.folders.sent in the config",
            )
        try:
            self._require().append(folder, raw, flags=(b"\\Seen",), msg_time=when)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                self.mailbox.name, f"{self.where}: saving to {folder!r} failed: {exc}"
            ) from None
        return folder

    def search_message_id(self, folder: str, message_id: str) -> bool:
        """Whether ``folder`` holds a message with this Message-ID (header search on the server)."""
        client = self._require()
        try:
            client.select_folder(folder, readonly=True)
            return bool(client.search(["HEADER", "Message-ID", message_id]))
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                self.mailbox.name, f"{self.where}: searching {folder!r} failed: {exc}"
            ) from None


def _logout_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection is going away either way
        with contextlib.suppress(Exception):
            client.shutdown()


__all__ = ["ImapSession", "SENT_FALLBACKS"]
