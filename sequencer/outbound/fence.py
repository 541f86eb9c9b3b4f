"""The last check before MAIL FROM, made for a group of touches at once.

A touch may go to SMTP only while its row is still this worker's ``sending`` row and its
enrollment is still active under this worker's lease (a reply applied by the poller,
a stop, or a lease taken over by another worker withdraws it). The hand-off commit
(``db.outbox_sent.mark_attempting``) checks exactly that; ``Fence`` keeps the answer
valid up to MAIL FROM without one database read per touch, which cost a third of the
send rate:

- a verdict (the hand-off's, or a batch check's) is trusted for ``FRESH_SECONDS``;
- after a connection had to be opened (greeting, TLS, AUTH: unbounded on a slow or
  sick server) nothing older than the moment the touch reached MAIL FROM is trusted;
- a check reads every touch handed over and not yet started in one statement, so the
  touches after it find their verdict ready.

So a reply recorded more than ``FRESH_SECONDS`` before a touch's MAIL FROM, or at any
time before MAIL FROM while the connection was being opened, stops that touch.
"""

from __future__ import annotations

import asyncio
import time as monotonic_time
from collections.abc import Awaitable, Callable, Iterable

from sequencer.db.outbox import Claim

# How old a "still ours" answer may be at MAIL FROM. The per-touch read it replaces
# left a window of one database round trip plus the SMTP conversation itself.
FRESH_SECONDS = 0.25

Check = Callable[[list[Claim]], Awaitable[dict[int, str]]]


class Fence:
    """Verdicts per message id for one claimed batch, checked a group at a time."""

    def __init__(self, check: Check, pending: Callable[[], Iterable[Claim]]) -> None:
        self._check = check
        self._pending = pending
        self._verdicts: dict[int, tuple[float, str | None]] = {}
        self._running: asyncio.Future[None] | None = None
        self._running_at = 0.0
        self.checks = 0  # statements run (benchmarks and tests read it)

    def vouch(self, ids: Iterable[int], at: float) -> None:
        """The hand-off that started at ``at`` moved ``ids`` to ``sending``: they were ours then."""
        for pk in ids:
            self._verdicts[pk] = (at, None)

    async def clear(self, claim: Claim, *, new_connection: bool) -> str | None:
        """None when ``claim`` may go now, else why not (``replied``, ``lease lost`` ...)."""
        now = monotonic_time.monotonic()
        oldest = now if new_connection else now - FRESH_SECONDS
        while True:
            verdict = self._verdicts.get(claim.id)
            if verdict is not None and verdict[0] >= oldest:
                del self._verdicts[claim.id]
                return verdict[1]
            running = self._running
            if running is not None and not running.done():
                await asyncio.shield(running)
                if self._running_at >= oldest:
                    continue
                if self._running is not running:
                    continue  # another slot started a newer check meanwhile
            await self._run(claim)

    async def _run(self, claim: Claim) -> None:
        batch = {claim.id: claim}
        for c in self._pending():
            batch.setdefault(c.id, c)
        started = monotonic_time.monotonic()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running, self._running_at = future, started
        self.checks += 1
        try:
            reasons = await self._check(list(batch.values()))
            for pk in batch:
                self._verdicts[pk] = (started, reasons.get(pk))
        finally:
            future.set_result(None)


__all__ = ["FRESH_SECONDS", "Fence"]
