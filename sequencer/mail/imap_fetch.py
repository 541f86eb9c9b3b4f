"""What an incremental fetch hands the poller, and the single IMAP commands it is made of.

The values (``FetchedMail``, ``FolderCursor``, ``FolderBatch``) cross into the inbox
poller; the commands are module-level functions over a logged-in ``IMAPClient`` so a
test can read what each one costs. ``ImapConnection.fetch_new`` (``mail/imap.py``)
strings them together with retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from imapclient import IMAPClient

FETCH_CHUNK = 250  # messages per UID FETCH: bounds memory and the size of one commit
DEFAULT_MAX_BYTES = 256 * 1024  # headers + the first text parts; attachments are cut off


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


def examine(c: IMAPClient, folder: str) -> dict[bytes, Any]:
    """EXAMINE: read-only, nothing marked seen; reports UIDVALIDITY, UIDNEXT, EXISTS."""
    return c.select_folder(folder, readonly=True)


def search_since(c: IMAPClient, since: date) -> list[int]:
    return sorted(int(u) for u in c.search(["SINCE", since]))


def search_after(c: IMAPClient, last_uid: int) -> list[int]:
    # "n:*" always matches the highest UID even when it is below n: filter.
    return sorted(
        u for u in (int(x) for x in c.search(["UID", f"{last_uid + 1}:*"])) if u > last_uid
    )


def max_uid(status: dict[bytes, Any], fallback: int) -> int:
    uidnext = status.get(b"UIDNEXT")
    return int(uidnext) - 1 if uidnext else fallback


def fetch(c: IMAPClient, uids: list[int], max_bytes: int) -> list[FetchedMail]:
    """UID FETCH of size, INTERNALDATE and the first ``max_bytes`` (PEEK: nothing marked seen)."""
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


__all__ = [
    "DEFAULT_MAX_BYTES",
    "FETCH_CHUNK",
    "FetchedMail",
    "FolderBatch",
    "FolderCursor",
]
