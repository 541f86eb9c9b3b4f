"""Incremental, read-only IMAP fetching for the inbox poller, and IDLE for ``sequencer run``.

What a caller may rely on:

- Nothing in the rep's mailbox changes: folders are opened with EXAMINE (read-only) and
  bodies fetched with ``BODY.PEEK``, so no message is marked seen, moved or deleted. The one
  exception is :meth:`ImapPoller.mark_seen`, which the poll service calls only when the
  mailbox is configured with ``imap.mark_seen: true``.
- An idle poll (no new mail) costs a constant number of IMAP commands whatever the folder
  size: EXAMINE reports UIDVALIDITY and UIDNEXT, and when UIDNEXT has not moved past the
  last UID we stored, nothing else is sent for that folder. ``commands`` counts every
  tagged command sent, so tests and benchmarks can prove it.
- New mail is fetched by UID in bounded chunks (``UID SEARCH UID n:*`` then ``UID FETCH``
  of the size, INTERNALDATE and the first ``max_bytes`` of the message), so memory stays
  bounded and each chunk can be committed before the next one is read.
- When UIDVALIDITY changes (the server rebuilt the folder) or a folder is seen for the
  first time, UIDs mean nothing any more: a bounded recent window (``SINCE`` a few days,
  at most ``window_limit`` newest messages) is fetched instead, and the caller dedupes it
  by Message-ID.
- A lost connection (server restart, network) is retried with exponential backoff on a
  fresh connection; because the cursor lives in the database, nothing is missed.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from sequencer.config import MailboxConfig
from sequencer.errors import MailboxAuthError, MailboxError

log = logging.getLogger(__name__)

T = TypeVar("T")

FETCH_CHUNK = 250  # messages per UID FETCH: bounds memory and the size of one commit
DEFAULT_MAX_BYTES = 256 * 1024  # headers + the first text parts; attachments are cut off
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes socket.timeout, ConnectionResetError, ssl.SSLError
    imaplib.IMAP4.abort,
    IMAPClientAbortError,
    EOFError,
)


@dataclass(frozen=True)
class FetchedMail:
    """One message as fetched: ``raw`` is at most ``max_bytes`` long (``truncated`` says so)."""

    uid: int
    raw: bytes
    size: int
    internaldate: datetime | None
    truncated: bool


@dataclass(frozen=True)
class FolderCursor:
    """Where the last poll of a folder stopped (from the ``folder_state`` table)."""

    uidvalidity: int | None = None
    last_uid: int = 0
    highestmodseq: int | None = None


@dataclass(frozen=True)
class FolderBatch:
    """One chunk of a folder's new mail and the cursor to store once it is saved.

    ``rescan`` is true for a window rescan (first sync or UIDVALIDITY change): the caller
    must dedupe by Message-ID, since it may have seen these messages under the old UIDs.
    """

    folder: str
    cursor: FolderCursor
    messages: tuple[FetchedMail, ...]
    rescan: bool
    exists: int


class ImapPoller:
    """One mailbox's IMAP connection for polling: read-only, reconnecting, counted.

    Use as a context manager. ``commands`` is the number of IMAP commands sent so far
    (LOGIN included, the server greeting not), across reconnects.
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
            raise MailboxError(mailbox.name, "no imap settings configured; cannot poll")
        self.mailbox = mailbox
        self.imap = mailbox.imap
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._client: IMAPClient | None = None
        self._sent_folder: str | None = None
        self._sent_looked_up = False
        self.commands = 0
        self.reconnects = 0

    # -- connection ------------------------------------------------------------------
    def __enter__(self) -> ImapPoller:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open and log in, retrying connection failures with backoff (never bad passwords)."""
        self._with_retry("connect", lambda c: None)

    def _open(self) -> IMAPClient:
        cfg = self.imap
        use_ssl = cfg.security == "tls"
        port = cfg.port or (993 if use_ssl else 143)
        context = None
        if cfg.security != "none":
            context = ssl.create_default_context(cafile=cfg.ca_file)
        client = IMAPClient(
            cfg.host, port=port, ssl=use_ssl, ssl_context=context, timeout=cfg.timeout
        )
        client.normalise_times = False  # aware INTERNALDATEs
        self._count_commands(client)
        if cfg.security == "starttls":
            client.starttls(context)
        secret = self.mailbox.secret("imap")
        try:
            client.login(
                secret.username or self.mailbox.address,
                secret.password(f"mailbox {self.mailbox.name} imap"),
            )
        except LoginError:
            _quiet_logout(client)
            raise MailboxAuthError(
                self.mailbox.name, f"IMAP server {cfg.host} refused the login"
            ) from None
        if b"CONDSTORE" in client.capabilities():
            client.enable("CONDSTORE")  # SELECT then reports HIGHESTMODSEQ
        return client

    def _count_commands(self, client: IMAPClient) -> None:
        """Every IMAP command takes a new tag: counting tags counts round trips."""
        inner = client._imap
        original = inner._new_tag

        def counted_new_tag() -> Any:
            self.commands += 1
            return original()

        inner._new_tag = counted_new_tag

    def close(self) -> None:
        if self._client is not None:
            _quiet_logout(self._client)
            self._client = None

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
                log.warning(
                    "mailbox %s: IMAP %s failed (%s: %s); reconnecting in %.1fs",
                    self.mailbox.name,
                    what,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                if self._client is not None:
                    _drop(self._client)
                    self._client = None
                if attempt < self.retries:
                    self._sleep(delay)
                    delay = min(delay * 2, 30.0)
            except IMAPClientError as exc:
                raise MailboxError(self.mailbox.name, f"IMAP {what} failed: {exc}") from None
        raise MailboxError(
            self.mailbox.name,
            f"IMAP server {self.imap.host}:{self.imap.port} unreachable during {what} "
            f"after {self.retries + 1} attempts ({type(last).__name__}: {last})",
        )

    # -- folders ---------------------------------------------------------------------
    def sent_folder(self) -> str | None:
        """The configured Sent folder, else the one the server marks \\Sent (looked up once)."""
        if self.imap.folders.sent:
            return self.imap.folders.sent
        if not self._sent_looked_up:
            found = self._with_retry("LIST", lambda c: c.find_special_folder(b"\\Sent"))
            self._sent_folder = found
            self._sent_looked_up = True
        return self._sent_folder

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
        status = self._with_retry(f"EXAMINE {folder}", lambda c: _examine(c, folder))
        uidvalidity = int(status.get(b"UIDVALIDITY") or 0)
        modseq = status.get(b"HIGHESTMODSEQ")
        modseq = int(modseq) if modseq is not None else None
        exists = int(status.get(b"EXISTS") or 0)
        rescan = cursor.uidvalidity != uidvalidity
        if rescan:
            uids = self._with_retry(f"SEARCH {folder}", lambda c: _search_since(c, folder, since))[
                -window_limit:
            ]
            start_uid = 0
        else:
            start_uid = cursor.last_uid
            uidnext = status.get(b"UIDNEXT")
            if exists == 0 or (uidnext is not None and int(uidnext) <= start_uid + 1):
                uids = []  # the idle case: nothing but EXAMINE was sent
            else:
                uids = self._with_retry(
                    f"SEARCH {folder}", lambda c: _search_after(c, folder, start_uid)
                )
        if not uids:
            last = start_uid if not rescan else _max_uid(status, start_uid)
            yield FolderBatch(folder, FolderCursor(uidvalidity, last, modseq), (), rescan, exists)
            return
        high = start_uid
        for i in range(0, len(uids), chunk):
            part = uids[i : i + chunk]
            fetched = self._with_retry(
                f"FETCH {folder}", lambda c, p=part: _fetch(c, folder, p, max_bytes)
            )
            high = max(high, *part)
            if rescan and i + chunk >= len(uids):
                # Messages outside the window (old INTERNALDATE) are skipped for good.
                high = max(high, _max_uid(status, high))
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

    # -- IDLE --------------------------------------------------------------------------
    def wait_for_mail(self, timeout: float, folder: str | None = None) -> bool:
        """Block in IDLE on the inbox until something arrives or ``timeout`` seconds pass.

        Returns True when the server announced new or changed mail (EXISTS/RECENT), False
        on timeout. Servers without IDLE: sleeps ``timeout`` and returns True so the
        caller simply polls. Connection losses are retried like any other command.
        """
        folder = folder or self.imap.folders.inbox

        def op(c: IMAPClient) -> bool:
            if b"IDLE" not in c.capabilities():
                self._sleep(timeout)
                return True
            c.select_folder(folder, readonly=True)
            c.idle()
            try:
                responses = c.idle_check(timeout=timeout)
            finally:
                done = c.idle_done()
            responses = [*responses, *(done[1] if isinstance(done, tuple) else [])]
            return any(
                isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT")
                for r in responses
            )

        return self._with_retry(f"IDLE {folder}", op)


# -- single commands (module level so tests can read what each costs) -------------------


def _examine(c: IMAPClient, folder: str) -> dict[bytes, Any]:
    return c.select_folder(folder, readonly=True)  # EXAMINE: read-only, nothing marked seen


def _search_since(c: IMAPClient, folder: str, since: date) -> list[int]:
    return sorted(int(u) for u in c.search(["SINCE", since]))


def _search_after(c: IMAPClient, folder: str, last_uid: int) -> list[int]:
    # "n:*" always matches the highest UID even when it is below n: filter.
    return sorted(
        u for u in (int(x) for x in c.search(["UID", f"{last_uid + 1}:*"])) if u > last_uid
    )


def _max_uid(status: dict[bytes, Any], fallback: int) -> int:
    uidnext = status.get(b"UIDNEXT")
    return int(uidnext) - 1 if uidnext else fallback


def _fetch(c: IMAPClient, folder: str, uids: list[int], max_bytes: int) -> list[FetchedMail]:
    body = f"BODY.PEEK[]<0.{max_bytes}>"
    data = c.fetch(uids, ["RFC822.SIZE", "INTERNALDATE", body])
    out = []
    for uid in sorted(data):
        item = data[uid]
        raw = item.get(b"BODY[]<0>") or item.get(b"BODY[]") or b""
        size = int(item.get(b"RFC822.SIZE") or len(raw))
        when = item.get(b"INTERNALDATE")
        if isinstance(when, datetime):
            when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        else:
            when = None
        out.append(FetchedMail(int(uid), bytes(raw), size, when, size > len(raw)))
    return out


def _quiet_logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # already gone; nothing to clean up
        _drop(client)


def _drop(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # the socket is dead already
        client.shutdown()


__all__ = [
    "CONNECTION_ERRORS",
    "FetchedMail",
    "FolderBatch",
    "FolderCursor",
    "ImapPoller",
]
