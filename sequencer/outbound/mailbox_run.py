"""One mailbox's connections for the sending engine, kept open across ticks.

The SMTP pool carries the sends; IMAP sessions (one per SMTP slot, opened lazily)
append the Sent copies and let crash recovery look a Message-ID up in Sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sequencer.config import MailboxConfig
from sequencer.errors import MailboxError
from sequencer.mail.imap import ImapConnection
from sequencer.mail.smtp import SmtpPool


class MailboxRun:
    """Per mailbox: the SMTP pool and a lazily opened IMAP session (for Sent), reused across ticks."""

    def __init__(self, mailbox: MailboxConfig) -> None:
        self.mailbox = mailbox
        self.pool = SmtpPool(mailbox)
        # One IMAP session per SMTP slot, so Sent copies do not serialise the sends.
        self.imap_free: list[ImapConnection] = []
        self.imap_slots = asyncio.Semaphore(mailbox.concurrency)

    @property
    def saves_sent(self) -> bool:
        return self.mailbox.imap is not None and not self.mailbox.server_saves_sent

    async def _imap_call(self, fn: Callable[[ImapConnection], Any]) -> Any:
        async with self.imap_slots:
            session = self.imap_free.pop() if self.imap_free else None

            def call() -> Any:
                nonlocal session
                if session is None:
                    # No retries here: a repeated APPEND could file a second Sent copy;
                    # the engine decides what a failed copy means.
                    session = ImapConnection(self.mailbox, retries=0).connect()
                return fn(session)

            try:
                value = await asyncio.to_thread(call)
            except MailboxError:
                if session is not None:
                    await asyncio.to_thread(session.close)
                raise
            assert session is not None
            self.imap_free.append(session)
            return value

    async def append_sent(self, raw: bytes, when: datetime) -> None:
        await self._imap_call(lambda session: session.append_sent(raw, when))

    async def find_in_sent(self, message_ids: list[str]) -> set[str]:
        def search(session: ImapConnection) -> set[str]:
            folder = session.sent_folder()
            if folder is None:
                raise MailboxError(
                    self.mailbox.name, "no Sent folder found to check; set imap.folders.sent"
                )
            return {mid for mid in message_ids if session.search_message_id(folder, mid)}

        return await self._imap_call(search)

    async def close(self) -> None:
        await self.pool.close()
        sessions, self.imap_free = self.imap_free, []
        for session in sessions:
            await asyncio.to_thread(session.close)
