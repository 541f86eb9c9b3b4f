"""Filing the Sent-folder copies: off the send path, from a durable queue, never twice.

The commit that records touches sent also queues their copies (``db.sent_copies``),
leased to this worker. Right after it, ``Copier.add`` hands them to a background task
that files them on the mailbox's one IMAP session, as many as have piled up in one
MULTIAPPEND, while the SMTP slots go on sending. A filed copy's row is deleted.

What a fault leaves behind:

- IMAP refuses or drops (connection limit, server down, no Sent folder): the rows are
  freed with a back-off (1 min doubling to 1 h) and the last error; any worker's later
  tick takes them again. ``sequencer status`` counts them per mailbox.
- The worker dies after the commit, before or during the APPEND: the rows keep their
  lease until it runs out, then another tick takes them.
- Every copy taken from the database (not queued by this copier) or whose APPEND failed
  is first looked up in Sent by Message-ID: one that reached the server is not filed
  again.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic_time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sequencer.clock import Clock
from sequencer.db import sent_copies
from sequencer.db.sent_copies import Copy
from sequencer.db.session import Database
from sequencer.errors import MailboxError, SecretError
from sequencer.outbound.mailbox_run import MailboxRun

log = logging.getLogger("sequencer.outbound.engine")

# Copies per MULTIAPPEND: one round trip each, bounded so a literal stays a few MB.
BATCH = 100
# After a failed append, copies queued meanwhile wait for the database back-off instead
# of trying a server that just refused (one failed connection per this many seconds).
FAILED_PAUSE_SECONDS = 30.0

DbCall = Callable[..., Awaitable[Any]]


class Copier:
    """One mailbox's Sent copies for one worker: queued in memory, filed in batches."""

    def __init__(
        self, run: MailboxRun, db: Database, db_call: DbCall, clock: Clock, *, worker: str, lease: timedelta
    ) -> None:
        self.run, self.db, self._db, self.clock = run, db, db_call, clock
        self.worker, self.lease = worker, lease
        self._queue: list[Copy] = []
        self._task: asyncio.Task[None] | None = None
        self._failed_at: float | None = None
        self._error = ""
        self.filed = 0
        self.batches = 0

    # -- feeding ---------------------------------------------------------------------
    def add(self, copies: list[Copy]) -> None:
        """Copies committed to the queue and leased to this worker: file them soon."""
        if not copies:
            return
        self._queue.extend(copies)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def take_due(self) -> None:
        """Lease the copies left for retry (by a fault, or a worker that died) and file them."""
        self.add(await self._db(self._take))

    async def flush(self) -> None:
        """Wait until everything handed to ``add`` was filed or put back for a retry."""
        while self._task is not None:
            task = self._task
            await task
            if self._task is task:
                self._task = None

    # -- filing ----------------------------------------------------------------------
    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            if self._failed_at is not None:
                if monotonic_time.monotonic() - self._failed_at < FAILED_PAUSE_SECONDS:
                    await self._db(self._failed, batch, self._error)
                    continue
                self._failed_at = None
            await self._file(batch)

    async def _file(self, batch: list[Copy]) -> None:
        lookup = [c.message_id for c in batch if c.check_first]
        try:
            found = await self.run.imap_call(lambda s: s.sent_message_ids(lookup)) if lookup else set()
            todo = [(c.raw, c.sent_at) for c in batch if c.message_id not in found]
            if todo:
                await self.run.imap_call(lambda s: s.append_sent_many(todo))
        except (MailboxError, SecretError) as exc:  # the copy waits; the sending goes on
            self._failed_at, self._error = monotonic_time.monotonic(), str(exc)
            log.warning(
                "mailbox %s: %d Sent cop%s not filed, will retry: %s",
                self.run.mailbox.name,
                len(batch),
                "y" if len(batch) == 1 else "ies",
                exc,
            )
            await self._db(self._failed, batch, str(exc))
            return
        self.filed += len(todo)
        self.batches += 1
        await self._db(self._done, batch)

    # -- database (on the engine's database thread) ------------------------------------
    def _take(self) -> list[Copy]:
        with self.db.session() as s:
            return sent_copies.take(
                s,
                mailbox=self.run.mailbox.name,
                worker=self.worker,
                now=self.clock.now(),
                lease=self.lease,
                limit=BATCH * 10,
            )

    def _done(self, batch: list[Copy]) -> None:
        with self.db.session() as s:
            sent_copies.done(s, [c.id for c in batch])

    def _failed(self, batch: list[Copy], error: str) -> None:
        with self.db.session() as s:
            sent_copies.failed(s, [c.id for c in batch], now=self.clock.now(), error=error)


__all__ = ["BATCH", "Copier"]
