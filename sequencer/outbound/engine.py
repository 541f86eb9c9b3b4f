"""The sending engine: one tick = poll, recover, claim, send, record; the pipeline only.

Ordering per touch, and what a crash at each point leaves behind:

1. claim (commit, ``outbound.claim``): Message row ``queued`` with its Message-ID,
   enrollment leased. Crash -> the row is released after the lease and the touch goes
   later, same Message-ID.
2. ``queued -> sending`` (commit, a group at a time), then SMTP (``outbound.scheduler``);
   right before MAIL FROM the touch must still be ours (``outbound.fence``).
3. Record (commit, ``outbound.record``): sent, enrollment advanced, event written, and
   the Sent copy queued (``db.sent_copies``). One commit records the group that
   finished and marks the next group ``sending`` (steps 3 and 2 together). Crash
   between 2 and 3 (at most ``concurrency x GROUP_PER_SLOT`` touches per worker, the
   ones marked ``sending`` and not yet recorded) -> recovery (``outbound.recovery``)
   looks the Message-ID up in Sent (found when the server files its own copy, or a
   copy from before this version); otherwise the row is ``held`` and shown in
   ``status`` for ``sequencer outbox resolve``, because only the operator can tell
   whether the server took it. Never re-sent silently, never dropped.
4. The Sent copy is filed in the background (``outbound.copies``), off the send path:
   batched MULTIAPPENDs on the mailbox's one IMAP session. A failure or a crash leaves
   it queued; it is filed later, once. With ``server_saves_sent`` there is no step 4.

Pacing (``core.pacing``): a mailbox sends at most ``per_minute`` touches in any minute
and, when ``max_spacing_seconds`` > 0, one touch at a time with a random gap between
``min_spacing_seconds`` and ``max_spacing_seconds``, enforced through
``mailbox_state.next_send_allowed_at`` shared by all workers, however fast the SMTP
server accepts. ``daily_limit`` counts touches since midnight in the mailbox's zone.
What a failed send means is ``core.outcome``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import random
import time as monotonic_time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.outcome import PauseKind
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence
from sequencer.core.templates import TemplateStore
from sequencer.db import mailbox_state, outbox, outbox_sent
from sequencer.db.session import Database
from sequencer.errors import MailboxError, SecretError, TemplateError
from sequencer.outbound import claim, health, record, recovery
from sequencer.outbound.copies import Copier
from sequencer.outbound.fence import Fence
from sequencer.outbound.mailbox_run import MailboxRun
from sequencer.outbound.record import Delivery
from sequencer.outbound.result import TickResult
from sequencer.outbound.scheduler import GroupScheduler
from sequencer.outbound.touch import ComposeFailed, Prepared
from sequencer.project import business_calendar

log = logging.getLogger("sequencer.outbound.engine")
_T = TypeVar("_T")


class Withdrawn(Exception):
    """Raised right before MAIL FROM when this worker may no longer send the touch."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


PollHook = Callable[[], Any]
# At most concurrency x this touches are ``sending`` and not yet recorded at any moment.
# It bounds how many touches a killed worker can leave in doubt (held for the operator
# when the Sent folder cannot confirm them), and sets how many touches one commit
# records: 8 (16 at the default concurrency of 2) keeps the commits under a fifth of the
# engine's time on SQLite (README, "Performance"); 4 cost about 10% of the send rate.
GROUP_PER_SLOT = 8


class Engine:
    """The long-lived sender: ticks share SMTP connections and IMAP sessions per mailbox."""

    def __init__(
        self,
        db: Database,
        config: Config,
        sequences: Mapping[str, Sequence],
        templates: TemplateStore,
        clock: Clock,
        *,
        worker_id: str,
        poll_hook: PollHook | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.sequences = sequences
        self.templates = templates
        self.clock = clock
        self.worker_id = worker_id
        self.poll_hook = poll_hook
        self.calendar: BusinessCalendar = business_calendar(config)
        self._runs: dict[str, MailboxRun] = {}
        self._copiers: dict[str, Copier] = {}
        self._stopping = False
        self.random = random.Random()
        self._db_thread: concurrent.futures.ThreadPoolExecutor | None = None
        # SQLite work is CPU in this process (a thread only adds GIL hand-offs), PostgreSQL
        # work is mostly waiting on the server: only the latter moves off the event loop.
        self._offload = getattr(db, "dialect", "sqlite") != "sqlite"

    # -- lifecycle -------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the SMTP transactions in flight, give back the rest, then return."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _run_for(self, mailbox: MailboxConfig) -> MailboxRun:
        run = self._runs.get(mailbox.name)
        if run is None:
            run = self._runs[mailbox.name] = MailboxRun(mailbox)
        return run

    def _copier_for(self, run: MailboxRun) -> Copier:
        copier = self._copiers.get(run.mailbox.name)
        if copier is None:
            copier = self._copiers[run.mailbox.name] = Copier(
                run,
                self.db,
                self._db,
                self.clock,
                worker=self.worker_id,
                lease=timedelta(seconds=self.config.sending.lease_seconds),
            )
        return copier

    async def aclose(self) -> None:
        copiers, self._copiers = list(self._copiers.values()), {}
        try:
            for copier in copiers:
                await copier.flush()
        finally:
            await self._close_runs()

    async def _close_runs(self) -> None:
        runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            await run.close()
        if self._db_thread is not None:
            self._db_thread.shutdown(wait=True)
            self._db_thread = None

    async def _db(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run database work on the engine's one database thread, in submission order.

        On PostgreSQL the event loop, and every SMTP conversation on it, then never waits
        for a claim or a commit: the next claim and each group's record overlap the sends.
        One thread keeps the engine's own transactions in order. On SQLite the work runs
        inline (see ``_offload``).
        """
        if not self._offload:
            return fn(*args, **kwargs)
        if self._db_thread is None:
            self._db_thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="sequencer-db"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, functools.partial(fn, *args, **kwargs))

    # -- the tick --------------------------------------------------------------------
    async def tick(self, *, dry_run: bool = False) -> TickResult:
        result = TickResult()
        if self.poll_hook is not None and not dry_run:
            try:
                self.poll_hook()
            except Exception as exc:  # noqa: BLE001 - a failed poll must not stop sending step 1s
                log.warning("poll failed: %s", exc)
                result.errors.append(f"poll: {exc}")
        if not dry_run:  # the deliverability guard pauses a mailbox before it claims
            await self._db(health.guard, self.db, self.config, self.clock.now())
        for part in await asyncio.gather(
            *(self._mailbox_tick(mb, dry_run) for mb in self.config.mailboxes)
        ):
            result.add(part)
        for name in {**result.paused, **result.unreachable}.keys() - result.not_attempted.keys():
            await self._db(self._count_not_attempted, self.config.mailbox(name), result)
        if not dry_run and (result.paused or result.unreachable):
            try:  # after the sends: one notice per pause to the owner and the managers
                health.notify_pauses(self.db, self.config, self.clock, worker=self.worker_id)
            except Exception as exc:  # noqa: BLE001 - a notice must never stop the sending
                log.warning("pause notices failed: %s", exc)
                result.errors.append(f"pause notice: {exc}")
        return result

    async def _mailbox_tick(self, mailbox: MailboxConfig, dry_run: bool) -> TickResult:
        """Send what is due, then wait for this tick's Sent copies (filed meanwhile)."""
        run = self._run_for(mailbox)
        copier = self._copier_for(run) if run.saves_sent and not dry_run else None
        if copier is not None:
            await copier.take_due()
        result = await self._mailbox_send(mailbox, dry_run)
        if copier is not None:
            await copier.flush()
        return result

    async def _mailbox_send(self, mailbox: MailboxConfig, dry_run: bool) -> TickResult:
        result = TickResult()
        if await self._db(self._paused, mailbox, result):
            return result
        run = self._run_for(mailbox)
        if not dry_run:
            try:
                result.add(await self._recover(run))
            except MailboxError as exc:
                log.warning("mailbox %s: recovery could not check Sent: %s", mailbox.name, exc)
                result.errors.append(str(exc))
        if self._stopping:
            return result
        leased_at = monotonic_time.monotonic()
        claimed = await self._db(self._claim, mailbox, dry_run)
        result.add(claimed.result)
        self._stamp(claimed.claims, leased_at)
        while claimed.claims and not dry_run:
            # Claim the next batch while this one is being sent (it is leased, and counted
            # against the limits, from now); give it back if this batch has to stop.
            ahead: asyncio.Future[claim.Claimed] | None = None
            ahead_at = monotonic_time.monotonic()
            if claimed.more and not self._stopping:
                ahead = asyncio.ensure_future(self._db(self._claim, mailbox, False))
            scheduler = self._scheduler(run, claimed.claims, leased_at)
            carry_on = await scheduler.run()
            result.add(scheduler.result)
            if ahead is None:
                return result
            claimed = await ahead
            result.add(claimed.result)
            leased_at = ahead_at
            self._stamp(claimed.claims, leased_at)
            if claimed.claims and (not carry_on or self._stopping):
                reason = "worker stopping" if self._stopping else "the mailbox stopped sending"
                result.add(await self._release(claimed.claims, reason))
                return result
        if result.paused or result.unreachable:
            await self._db(self._count_not_attempted, mailbox, result)
        return result

    def _paused(self, mailbox: MailboxConfig, result: TickResult) -> bool:
        """True (and why, in ``result``) while the mailbox's pause is in force; a pause whose
        back-off or quota window ran out is lifted here so this tick tries the mailbox."""
        now = self.clock.now()
        with self.db.session() as s:
            state = mailbox_state.get_mailbox_state(s, mailbox.name)
            if state is None or not state.paused_reason:
                return False
            changed = health.config_changed(state, mailbox)
            if changed or not mailbox_state.pause_in_force(state, now):
                mailbox_state.try_again(s, mailbox.name, now=now, force=changed)
                return False
            if state.pause_kind == PauseKind.UNREACHABLE:
                result.unreachable[mailbox.name] = state.paused_reason
            else:
                result.paused[mailbox.name] = state.paused_reason
        self._count_not_attempted(mailbox, result)
        return True

    def _count_not_attempted(self, mailbox: MailboxConfig, result: TickResult) -> None:
        with self.db.read_session() as s:
            due = mailbox_state.due_now(s, mailbox.name, self.clock.now())
        if due:
            result.not_attempted[mailbox.name] = due

    @staticmethod
    def _stamp(claims: list[outbox.Claim], leased_at: float) -> None:
        for c in claims:
            c.leased_mono = leased_at

    # -- the stages ------------------------------------------------------------------
    def _claim(self, mailbox: MailboxConfig, dry_run: bool) -> claim.Claimed:
        return claim.claim(
            self.db,
            self.config,
            self.sequences,
            self.templates,
            self.calendar,
            mailbox,
            now=self.clock.now(),
            worker=self.worker_id,
            rng=self.random,
            dry_run=dry_run,
        )

    def _scheduler(
        self, run: MailboxRun, claims: list[outbox.Claim], leased_at: float
    ) -> GroupScheduler:
        mailbox = run.mailbox
        scheduler: GroupScheduler | None = None

        def pending() -> list[outbox.Claim]:
            return list(scheduler.ready) if scheduler is not None else []

        fence = Fence(functools.partial(self._db, self._still_ours), pending)

        copier = self._copier_for(run) if run.saves_sent else None
        copy_lease = timedelta(seconds=self.config.sending.lease_seconds) if copier else None

        async def record_group(done: list[Delivery], start: list[outbox.Claim]) -> record.Recorded:
            handed_at = monotonic_time.monotonic()
            recorded = await self._db(
                record.record,
                self.db,
                self.config,
                self.calendar,
                mailbox,
                done,
                start,
                now=self.clock.now(),
                worker=self.worker_id,
                copy_lease=copy_lease,
            )
            fence.vouch(recorded.started, handed_at)
            if copier is not None:
                copier.add(recorded.copies)  # filed in the background, off the send path
            return recorded

        scheduler = GroupScheduler(
            claims,
            concurrency=mailbox.concurrency,
            window=mailbox.concurrency * GROUP_PER_SLOT,
            low=mailbox.concurrency if self._offload else 0,
            deadline=leased_at + self.config.sending.lease_seconds / 2,
            deliver=functools.partial(self._deliver, run, fence),
            record=record_group,
            release=self._release,
            stopping=lambda: self._stopping,
        )
        return scheduler

    async def _deliver(self, run: MailboxRun, fence: Fence, claim_: outbox.Claim) -> Delivery:
        """One SMTP conversation; failures come back as values (the Sent copy comes later)."""
        prepared: Prepared = claim_.payload

        def build() -> bytes:
            try:
                return prepared.raw
            except (TemplateError, ValueError) as exc:
                raise ComposeFailed(f"step {prepared.step} cannot be composed: {exc}") from None

        opened = run.pool.connections_opened

        async def ready() -> None:
            # The last check before MAIL FROM: still this worker's, enrollment still active
            # (``outbound.fence``: one read per group, fresh after a connection was opened).
            if monotonic_time.monotonic() > claim_.leased_mono + self.config.sending.lease_seconds:
                raise Withdrawn(outbox_sent.LEASE_LOST)
            new_connection = run.pool.connections_opened != opened
            reason = await fence.clear(claim_, new_connection=new_connection)
            if reason is not None:
                raise Withdrawn(reason)

        try:
            await run.pool.send(run.mailbox.address, claim_.to_addr, build, ready=ready)
        except Withdrawn as exc:
            return Delivery(claim_, withdrawn=exc.reason)
        except (MailboxError, SecretError, ComposeFailed) as exc:
            return Delivery(claim_, error=exc)
        return Delivery(claim_, sent_at=self.clock.now())

    def _still_ours(self, claims: list[outbox.Claim]) -> dict[int, str]:
        with self.db.read_session() as s:
            return outbox_sent.still_ours(s, claims, worker=self.worker_id)

    async def _release(self, claims: list[outbox.Claim], reason: str) -> TickResult:
        return await self._db(record.release, self.db, claims, reason, self.worker_id)

    async def _recover(self, run: MailboxRun) -> TickResult:
        return await recovery.recover(
            self.db,
            self.config,
            self.sequences,
            self.calendar,
            run,
            now=self.clock.now(),
            worker=self.worker_id,
        )

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a mailbox's pacing lets it send again (for ``run``'s sleep)."""
        with self.db.session() as s:
            states = mailbox_state.mailbox_states(s)
        times = [
            st.next_send_allowed_at
            for st in states.values()
            if st.next_send_allowed_at is not None and not st.paused_reason
        ]
        return min(times) if times else None


__all__ = ["GROUP_PER_SLOT", "Engine", "PollHook", "TickResult"]
