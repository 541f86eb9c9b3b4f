"""One mailbox's connections for the sending engine, kept open across ticks.

The SMTP pool carries the sends. One IMAP session per mailbox per worker, opened lazily
and reopened after a failure, files the Sent copies (``outbound.copies``) and lets
crash recovery look Message-IDs up in Sent: IMAP servers cap connections per user
(Dovecot's ``mail_max_userip_connections``, 10 by default), and one per SMTP slot per
worker ran past it with a few workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sequencer.config import MailboxConfig
from sequencer.errors import MailboxError
from sequencer.mail.imap import ImapConnection
from sequencer.mail.smtp import SmtpPool

_T = TypeVar("_T")


class MailboxRun:
    """Per mailbox: the SMTP pool and one lazily opened IMAP session, reused across ticks."""

    def __init__(self, mailbox: MailboxConfig) -> None:
        self.mailbox = mailbox
        self.pool = SmtpPool(mailbox)
        self._imap: ImapConnection | None = None
        self._imap_lock = asyncio.Lock()

    @property
    def saves_sent(self) -> bool:
        return self.mailbox.imap is not None and not self.mailbox.server_saves_sent

    async def imap_call(self, fn: Callable[[ImapConnection], _T]) -> _T:
        """Run ``fn`` on the mailbox's IMAP session, in a thread, one call at a time.

        A failure closes the session (the next call reconnects) and propagates: no
        retries here, a repeated APPEND could file a second copy; the caller decides.
        """
        async with self._imap_lock:

            def call() -> _T:
                if self._imap is None:
                    self._imap = ImapConnection(self.mailbox, retries=0).connect()
                return fn(self._imap)

            try:
                return await asyncio.to_thread(call)
            except MailboxError:
                session, self._imap = self._imap, None
                if session is not None:
                    await asyncio.to_thread(session.close)
                raise

    async def find_in_sent(self, message_ids: list[str]) -> set[str]:
        def search(session: ImapConnection) -> set[str]:
            if session.sent_folder() is None:
                raise MailboxError(
                    self.mailbox.name, "no Sent folder found to check; set imap.folders.sent"
                )
            return session.sent_message_ids(message_ids)

        return await self.imap_call(search)

    async def close(self) -> None:
        await self.pool.close()
        async with self._imap_lock:
            session, self._imap = self._imap, None
            if session is not None:
                await asyncio.to_thread(session.close)
