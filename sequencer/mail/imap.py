"""The IMAP adapter: one connection class for everything we do on a rep's mailbox server.

The sending engine appends each touch's Sent copy and, after a crash, looks a
Message-ID up in Sent; the inbox poller fetches new mail incrementally; ``sequencer
run`` waits in IDLE; ``check --connect`` logs in. All of them go through
:class:`ImapConnection`, so the login (username defaults to the mailbox address, as
the README says), TLS, Sent-folder discovery, retries and command counting are the
same everywhere.

What a caller may rely on:

- Security mirrors SMTP: ``tls`` (implicit, port 993), ``starttls`` (port 143,
  upgraded before login) or ``none`` (plain, for local test servers).
- Errors come out as ``MailboxAuthError`` (login refused, never retried) or
  ``MailboxError`` (anything else), naming the mailbox and server, never the password.
- A lost connection (server restart, network) is retried ``retries`` times with
  exponential backoff on a fresh connection. Pass ``retries=0`` where a retry could
  repeat a side effect the caller handles itself (the engine's Sent copies).
- Reading changes nothing: folders are opened with EXAMINE and bodies fetched with
  ``BODY.PEEK``. The exceptions are :meth:`append_sent` and :meth:`mark_seen` (only
  called when the mailbox sets ``imap.mark_seen: true``).
- An idle poll (no new mail) costs a constant number of commands whatever the folder
  size: EXAMINE reports UIDVALIDITY and UIDNEXT, and when UIDNEXT has not moved past
  the last UID stored, nothing else is sent. ``commands`` counts every tagged command
  (LOGIN included, the greeting not), across reconnects, so tests and benchmarks can
  prove it.
- New mail is fetched by UID in bounded chunks, so memory stays bounded and each
  chunk can be committed before the next one is read. On a UIDVALIDITY change or a
  first sync, a bounded recent window is fetched instead (``FolderBatch.rescan``) and
  the caller dedupes it by Message-ID.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from types import TracebackType
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from sequencer.config import ImapConfig, MailboxConfig
from sequencer.errors import MailboxAuthError, MailboxError
from sequencer.mail import imap_fetch
from sequencer.mail.imap_fetch import (
    DEFAULT_MAX_BYTES,
    FETCH_CHUNK,
    FolderBatch,
    FolderCursor,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}
# Names clients use for Sent when the server does not flag one \Sent (SPECIAL-USE).
SENT_FALLBACKS = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "INBOX.Sent",
    "INBOX/Sent",
    "[Gmail]/Sent Mail",
)
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes socket.timeout, ConnectionResetError, ssl.SSLError
    imaplib.IMAP4.abort,
    IMAPClientAbortError,
    EOFError,
)


def _tls_context(server: ImapConfig) -> ssl.SSLContext | None:
    if server.security == "none":
        return None
    return ssl.create_default_context(cafile=server.ca_file)


class ImapConnection:
    """One mailbox's IMAP connection: opened lazily, reconnecting, counted.

    Use as a context manager, or call :meth:`connect` and :meth:`close`. Not thread-safe:
    one connection per thread (the engine keeps one per SMTP slot).
    """

    def __init__(
        self,
        mailbox: MailboxConfig,
        *,
        retries: int = 4,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mailbox.imap is None:
            raise MailboxError(mailbox.name, "no imap server configured")
        self.mailbox = mailbox
        self.imap: ImapConfig = mailbox.imap
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._client: IMAPClient | None = None
        self._sent_folder: str | None = None
        self._sent_looked_up = False
        self._idle_uidnext: dict[str, int] = {}
        self.commands = 0
        self.reconnects = 0

    @property
    def where(self) -> str:
        return f"IMAP {self.imap.host}:{self.imap.port or DEFAULT_PORTS[self.imap.security]}"

    # -- connection ------------------------------------------------------------------
    def __enter__(self) -> ImapConnection:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> ImapConnection:
        """Open and log in (if not open yet), retrying connection failures, never a refused login."""
        self._with_retry("connect", lambda c: None)
        return self

    def close(self) -> None:
        if self._client is not None:
            _quiet_logout(self._client)
            self._client = None

    def _open(self) -> IMAPClient:
        cfg = self.imap
        context = _tls_context(cfg)
        client = IMAPClient(
            cfg.host,
            port=cfg.port or DEFAULT_PORTS[cfg.security],
            ssl=cfg.security == "tls",
            ssl_context=context,
            timeout=cfg.timeout,
        )
        client.normalise_times = False  # aware INTERNALDATEs
        self._count_commands(client)
        # username: the server's, else the mailbox's, else the mailbox address
        secret = self.mailbox.secret("imap")
        try:
            if cfg.security == "starttls":
                client.starttls(context)
            client.login(secret.username, secret.password(f"mailbox {self.mailbox.name} imap"))
            if b"CONDSTORE" in client.capabilities():
                client.enable("CONDSTORE")  # SELECT then reports HIGHESTMODSEQ
        except LoginError as exc:
            _quiet_logout(client)
            raise MailboxAuthError(
                self.mailbox.name, f"{self.where} refused the login for {secret.username}: {server_said(exc)}"
            ) from None
        except BaseException:
            _drop(client)
            raise
        return client

    def _count_commands(self, client: IMAPClient) -> None:
        """Every IMAP command takes a new tag: counting tags counts round trips."""
        inner = client._imap
        original = inner._new_tag

        def counted_new_tag() -> Any:
            self.commands += 1
            return original()

        inner._new_tag = counted_new_tag

    def _with_retry(self, what: str, op: Callable[[IMAPClient], T]) -> T:
        """Run ``op`` on a live connection; on a connection loss reconnect with backoff."""
        delay = self.backoff_seconds
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            try:
                if self._client is None:
                    self._client = self._open()
                    if attempt:
                        self.reconnects += 1
                return op(self._client)
            except MailboxAuthError:
                raise
            except CONNECTION_ERRORS as exc:
                last = exc
                if self._client is not None:
                    _drop(self._client)
                    self._client = None
                if attempt < self.retries:
                    log.warning(
                        "mailbox %s: %s %s failed (%s: %s); reconnecting in %.1fs",
                        self.mailbox.name,
                        self.where,
                        what,
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                    self._sleep(delay)
                    delay = min(delay * 2, 30.0)
            except IMAPClientError as exc:
                raise MailboxError(
                    self.mailbox.name, f"{self.where} {what} failed: {server_said(exc)}"
                ) from None
        attempts = self.retries + 1
        raise MailboxError(
            self.mailbox.name,
            f"{self.where} unreachable during {what} after {attempts} "
            f"attempt{'s' if attempts > 1 else ''} ({type(last).__name__}: {last})",
        )

    def capabilities(self) -> tuple[bytes, ...]:
        return tuple(self._with_retry("CAPABILITY", lambda c: c.capabilities()))

    # -- Sent ------------------------------------------------------------------------
    def sent_folder(self) -> str | None:
        """The configured ``imap.folders.sent``, else the folder flagged ``\\Sent``, else a usual name.

        Looked up with one LIST, once per connection object.
        """
        if self.imap.folders.sent:
            return self.imap.folders.sent
        if not self._sent_looked_up:
            self._sent_folder = self._with_retry("LIST", _find_sent)
            self._sent_looked_up = True
        return self._sent_folder

    def append_sent(self, raw: bytes, when: datetime) -> str:
        """Store a copy of a sent message in Sent, marked read; returns the folder used."""
        return self.append_sent_many([(raw, when)])

    def append_sent_many(self, copies: list[tuple[bytes, datetime]]) -> str:
        """Store copies in Sent, marked read, in one MULTIAPPEND (RFC 3502) where the server
        has it, else one APPEND each; returns the folder used.

        MULTIAPPEND is all or nothing on the server; the one-by-one fallback may have stored
        some when it fails, so the caller looks failed copies up before filing them again.
        """
        folder = self._sent_or_fail()
        if not copies:
            return folder

        def op(c: IMAPClient) -> None:
            if len(copies) > 1 and b"MULTIAPPEND" in c.capabilities():
                c.multiappend(
                    folder,
                    [{"msg": raw, "flags": (b"\\Seen",), "date": when} for raw, when in copies],
                )
                return
            for raw, when in copies:
                c.append(folder, raw, flags=(b"\\Seen",), msg_time=when)

        self._with_retry(f"APPEND {folder}", op)
        return folder

    def sent_message_ids(self, message_ids: list[str]) -> set[str]:
        """Which of ``message_ids`` the Sent folder holds (one EXAMINE, one SEARCH each)."""
        folder = self._sent_or_fail()

        def op(c: IMAPClient) -> set[str]:
            c.select_folder(folder, readonly=True)
            return {mid for mid in message_ids if c.search(["HEADER", "Message-ID", mid])}

        return self._with_retry(f"SEARCH {folder}", op) if message_ids else set()

    def _sent_or_fail(self) -> str:
        folder = self.sent_folder()
        if folder is None:
            raise MailboxError(
                self.mailbox.name,
                f"{self.where}: no Sent folder found; set imap.folders.sent in the config",
            )
        return folder

    def search_message_id(self, folder: str, message_id: str) -> bool:
        """Whether ``folder`` holds a message with this Message-ID (header search on the server)."""

        def op(c: IMAPClient) -> bool:
            c.select_folder(folder, readonly=True)
            return bool(c.search(["HEADER", "Message-ID", message_id]))

        return self._with_retry(f"SEARCH {folder}", op)

    # -- polling ---------------------------------------------------------------------
    def fetch_new(
        self,
        folder: str,
        cursor: FolderCursor,
        *,
        since: date,
        window_limit: int = 500,
        max_bytes: int = DEFAULT_MAX_BYTES,
        chunk: int = FETCH_CHUNK,
    ) -> Iterator[FolderBatch]:
        """Yield the folder's new mail in UID order, chunk by chunk, each with its cursor.

        Always yields at least one batch (possibly empty) so the caller can store the
        folder's current UIDVALIDITY and HIGHESTMODSEQ. A missing folder raises MailboxError.
        """
        status = self._with_retry(f"EXAMINE {folder}", lambda c: imap_fetch.examine(c, folder))
        uidvalidity = int(status.get(b"UIDVALIDITY") or 0)
        modseq = status.get(b"HIGHESTMODSEQ")
        modseq = int(modseq) if modseq is not None else None
        exists = int(status.get(b"EXISTS") or 0)
        rescan = cursor.uidvalidity != uidvalidity
        if rescan:
            uids = self._with_retry(
                f"SEARCH {folder}", lambda c: imap_fetch.search_since(c, since)
            )[-window_limit:]
            start_uid = 0
        else:
            start_uid = cursor.last_uid
            uidnext = status.get(b"UIDNEXT")
            if exists == 0 or (uidnext is not None and int(uidnext) <= start_uid + 1):
                uids = []  # the idle case: nothing but EXAMINE was sent
            else:
                uids = self._with_retry(
                    f"SEARCH {folder}", lambda c: imap_fetch.search_after(c, start_uid)
                )
        if not uids:
            last = start_uid if not rescan else imap_fetch.max_uid(status, start_uid)
            yield FolderBatch(folder, FolderCursor(uidvalidity, last, modseq), (), rescan, exists)
            return
        high = start_uid
        for i in range(0, len(uids), chunk):
            part = uids[i : i + chunk]
            fetched = self._with_retry(
                f"FETCH {folder}", lambda c, p=part: imap_fetch.fetch(c, p, max_bytes)
            )
            high = max(high, *part)
            if rescan and i + chunk >= len(uids):
                # Messages outside the window (old INTERNALDATE) are skipped for good.
                high = max(high, imap_fetch.max_uid(status, high))
            cursor_after = FolderCursor(uidvalidity, high, modseq)
            yield FolderBatch(folder, cursor_after, tuple(fetched), rescan, exists)

    def mark_seen(self, folder: str, uids: list[int]) -> None:
        """Flag handled messages \\Seen: only called when the mailbox asks for it (mark_seen)."""
        if not uids:
            return

        def op(c: IMAPClient) -> None:
            c.select_folder(folder, readonly=False)
            c.add_flags(uids, [b"\\Seen"], silent=True)
            c.unselect_folder()

        self._with_retry(f"STORE {folder}", op)

    # -- IDLE ------------------------------------------------------------------------
    def wait_for_mail(
        self,
        timeout: float,
        folder: str | None = None,
        *,
        on_idle: Callable[[], None] | None = None,
    ) -> bool:
        """Block in IDLE on the inbox until something arrives or ``timeout`` seconds pass.

        Returns True when the server announced new mail (EXISTS/RECENT), or when UIDNEXT
        moved since the previous call (mail that landed between two IDLE rounds), False
        on timeout. ``on_idle`` is called once the server has accepted IDLE, so a caller
        knows from then on no new mail goes unnoticed. Servers without IDLE: sleeps
        ``timeout`` and returns True so the caller simply polls. Connection losses are
        retried like any other command.
        """
        folder = folder or self.imap.folders.inbox

        def op(c: IMAPClient) -> bool:
            if b"IDLE" not in c.capabilities():
                self._sleep(timeout)
                return True
            status = c.select_folder(folder, readonly=True)
            uidnext = int(status.get(b"UIDNEXT") or 0)
            before = self._idle_uidnext.get(folder)
            self._idle_uidnext[folder] = uidnext
            if before is not None and uidnext > before:
                return True  # landed between two rounds
            c.idle()
            if on_idle is not None:
                on_idle()
            try:
                responses = c.idle_check(timeout=timeout)
            finally:
                done = c.idle_done()
            responses = [*responses, *(done[1] if isinstance(done, tuple) else [])]
            arrived = any(
                isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT")
                for r in responses
            )
            if arrived:  # the caller polls now; the next round takes a fresh UIDNEXT
                self._idle_uidnext.pop(folder, None)
            return arrived

        return self._with_retry(f"IDLE {folder}", op)

    # -- diagnostics -----------------------------------------------------------------
    def server_time(self, folder: str) -> datetime | None:
        """The server's clock, read from the INTERNALDATE it stamps on an APPEND; None
        when the server lacks UIDPLUS (then the probe cannot remove exactly its own message).

        The probe message is appended \\Seen \\Deleted and removed at once by UID, so
        the rep's mailbox is left as it was.
        """

        def op(c: IMAPClient) -> datetime | None:
            if b"UIDPLUS" not in c.capabilities():
                return None
            probe = b"Subject: sequencer doctor clock probe\r\n\r\nremoved at once\r\n"
            answer = c.append(folder, probe, flags=(b"\\Seen", b"\\Deleted"))
            match = re.search(rb"APPENDUID \d+ (\d+)", answer or b"")
            if match is None:
                return None
            uid = int(match.group(1))
            c.select_folder(folder)
            try:
                stamped = c.fetch([uid], ["INTERNALDATE"]).get(uid, {}).get(b"INTERNALDATE")
            finally:
                c.uid_expunge([uid])  # only this UID: never CLOSE, which expunges all \\Deleted
            if not isinstance(stamped, datetime):
                return None
            return stamped if stamped.tzinfo else stamped.astimezone()

        return self._with_retry(f"APPEND {folder} (clock probe)", op)


def server_said(exc: BaseException) -> str:
    """The server's words from an imaplib/imapclient error: ``[AUTHENTICATIONFAILED] ...``,
    not the Python bytes literal ``b'[AUTHENTICATIONFAILED] ...'`` they carry."""
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in exc.args]
    text = " ".join(p for p in parts if p) or type(exc).__name__
    if text.startswith(("b'", 'b"')) and text[-1:] in "'\"":
        text = text[2:-1]  # imapclient formats some errors with the literal already
    return text


def _find_sent(c: IMAPClient) -> str | None:
    """One LIST: the folder flagged \\Sent, else the first of the usual names that exists."""
    folders = c.list_folders()
    for flags, _delimiter, name in folders:
        if b"\\Sent" in flags:
            return str(name)
    names = {str(name) for _flags, _delimiter, name in folders}
    return next((n for n in SENT_FALLBACKS if n in names), None)


def _quiet_logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - already gone; nothing to clean up
        _drop(client)


def _drop(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # the socket is dead already
        client.shutdown()


__all__ = ["CONNECTION_ERRORS", "SENT_FALLBACKS", "ImapConnection"]
