"""Keep every SMTP slot of a mailbox busy while bounding what a crash can leave in doubt.

At most ``window`` (concurrency x ``GROUP_PER_SLOT``) touches are ``sending`` and not yet
recorded at any moment: that bounds what a killed worker can leave held. Each record
commit both settles the touches that finished and hands the next ones to SMTP, and on
PostgreSQL it runs on the database thread while the slots go on with the touches
already handed over, so database round trips overlap the SMTP ones.
"""

from __future__ import annotations

import asyncio
import collections
import time as monotonic_time
from collections.abc import Awaitable, Callable

from sequencer.db import outbox
from sequencer.outbound.record import Delivery, Recorded
from sequencer.outbound.result import TickResult

Deliver = Callable[[outbox.Claim], Awaitable[Delivery]]
Record = Callable[[list[Delivery], list[outbox.Claim]], Awaitable[Recorded]]
Release = Callable[[list[outbox.Claim], str], Awaitable[TickResult]]


class GroupScheduler:
    """Send one claimed batch through ``concurrency`` slots, recording a group at a time.

    ``low``: how few handed-over touches are left when the next record commit starts
    (offloaded commits start while each slot still has one to send; inline commits,
    which block the loop, wait until the handed-over ones run out so each records as
    many as the window allows).
    """

    def __init__(
        self,
        claims: list[outbox.Claim],
        *,
        concurrency: int,
        window: int,
        low: int,
        deadline: float,
        deliver: Deliver,
        record: Record,
        release: Release,
        stopping: Callable[[], bool],
    ) -> None:
        self.concurrency, self.window, self.low, self.deadline = concurrency, window, low, deadline
        self.deliver, self.record, self.release, self.stopping = deliver, record, release, stopping
        self.waiting = collections.deque(claims)  # claimed (queued), not yet handed to SMTP
        self.ready: collections.deque[outbox.Claim] = collections.deque()  # handed, not started
        self.finished: list[Delivery] = []  # SMTP done, not yet recorded
        self.unsettled = 0  # handed to SMTP and not yet recorded
        self.active = 0  # slots running
        self.stop: str | None = None  # why the mailbox must stop, once a record said so
        self.result = TickResult()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    def _halted(self) -> bool:
        return self.stop is not None or self.stopping()

    async def _slot(self) -> None:
        try:
            while self.ready and not self._halted():
                delivery = await self.deliver(self.ready.popleft())
                self.finished.append(delivery)  # after the await: ``finished`` may be new
                self._wake.set()
        finally:
            self.active -= 1
            self._wake.set()

    async def _commit(self, feed: bool) -> None:
        """Record what finished and, when ``feed``, hand the next group to SMTP."""
        room = self.window - self.unsettled + len(self.finished)
        start = (
            [self.waiting.popleft() for _ in range(min(room, len(self.waiting)))] if feed else []
        )
        done, self.finished = self.finished, []
        recorded = await self.record(done, start)
        self.result.add(recorded.result)
        self.stop = self.stop or recorded.stop  # once told to stop, a later commit cannot undo it
        if self.stop is not None:
            self.waiting.extendleft(reversed(start))  # recorded, but not handed over: give back
            start = []
        else:  # only rows this commit moved to ``sending`` are still this worker's to send
            start = [c for c in start if c.id in recorded.started]
        self.unsettled += len(start) - len(done)
        self.ready.extend(start)
        while self.ready and self.active < self.concurrency and self.stop is None:
            self.active += 1
            task = asyncio.create_task(self._slot())
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def run(self) -> bool:
        """Send the batch; False when the mailbox must stop now (the rest was given back)."""
        while True:
            halt = self._halted() or monotonic_time.monotonic() > self.deadline
            room = self.window - self.unsettled + len(self.finished)
            feed = bool(self.waiting) and not halt and len(self.ready) <= self.low and room > 0
            idle = self.active == 0 and (not self.ready or halt)
            if feed or (self.finished and idle):
                await self._commit(feed)
                continue
            if idle:
                break
            self._wake.clear()
            await self._wake.wait()
        leftover = [*self.ready, *self.waiting]
        if leftover:
            reason = self.stop or (
                "worker stopping" if self.stopping() else "batch ran past half its lease"
            )
            self.result.add(await self.release(leftover, reason))
        return self.stop is None and not leftover


__all__ = ["GroupScheduler"]
