"""The sending engine: one tick = poll, recover, claim, render, send, record.

Ordering per touch, and what a crash at each point leaves behind:

1. claim (commit): Message row ``queued`` with its Message-ID, enrollment leased.
   Crash -> the row is released after the lease and the touch goes later, same Message-ID.
2. ``queued -> sending`` (commit, a group at a time), then SMTP.
3. Right after the server's 250, the copy is appended to the Sent folder.
4. Record (commit): sent, enrollment advanced, event written. One commit records the
   group that finished and marks the next group ``sending`` (steps 4 and 2 together).
   Crash between 3 and 4 -> recovery finds the Message-ID in Sent and marks it sent.
   Crash between 2 and 3 (at most ``concurrency x GROUP_PER_SLOT`` touches per worker,
   the ones marked ``sending`` and not yet recorded) -> not in Sent:
   the row is ``held`` and shown in ``status`` for ``sequencer outbox resolve``,
   because only the operator can tell whether the server took it. Never re-sent
   silently, never dropped. With ``server_saves_sent`` the server's own Sent copy
   plays the part of step 3.

Pacing: a mailbox sends at most ``per_minute`` touches in any minute and, when
``max_spacing_seconds`` > 0, one touch at a time with a random gap between
``min_spacing_seconds`` and ``max_spacing_seconds`` -- enforced here, through
``mailbox_state.next_send_allowed_at`` shared by all workers, however fast the SMTP
server accepts. ``daily_limit`` counts touches since midnight in the mailbox's zone.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import json
import logging
import random
import signal
import time as monotonic_time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core import lifecycle
from sequencer.core.compose import new_message_id
from sequencer.core.schedule import BusinessCalendar, in_window, next_window_open, zone
from sequencer.core.sequences import Sequence
from sequencer.core.templates import TemplateStore
from sequencer.db import mailbox_state, outbox, outbox_record
from sequencer.db.models import Enrollment, Prospect
from sequencer.errors import MailboxError, SecretError, TemplateError
from sequencer.mail.smtp import HardBounce, PermanentFailure, TemporaryFailure
from sequencer.outbound.mailbox_run import MailboxRun
from sequencer.outbound.operations import confirm_sent
from sequencer.outbound.touch import ComposeFailed, Prepared, advance_after, render_touch
from sequencer.people import tasks
from sequencer.project import business_calendar, mailbox_window, prospect_zone

log = logging.getLogger("sequencer.outbound.engine")
_T = TypeVar("_T")

PollHook = Callable[[], Any]
# At most concurrency x this touches are ``sending`` and not yet recorded at any moment.
# It bounds how many touches a killed worker can leave in doubt (held for the operator
# when the Sent folder cannot confirm them), and sets how many touches one commit
# records: 8 (16 at the default concurrency of 2) keeps the commits under a fifth of the
# engine's time on SQLite (README, "Performance"); 4 cost about 10% of the send rate.
GROUP_PER_SLOT = 8


@dataclass
class TickResult:
    """What one tick did, per outcome; ``planned`` lists would-be sends of a dry run."""

    sent: int = 0
    retrying: int = 0
    bounced: int = 0
    failed: int = 0
    held: int = 0
    released: int = 0
    reconciled: int = 0
    deferred: dict[str, int] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)
    planned: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class _Outcome:
    claim: outbox.Claim
    sent_at: datetime | None = None
    error: Exception | None = None
    note: str | None = None


class Engine:
    """The long-lived sender: ticks share SMTP connections and IMAP sessions per mailbox."""

    def __init__(
        self,
        db: Any,
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

    async def aclose(self) -> None:
        runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            await run.close()
        if self._db_thread is not None:
            self._db_thread.shutdown(wait=True)
            self._db_thread = None

    async def _db(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run database work on the engine's one database thread, in submission order.

        On PostgreSQL the event loop, and every SMTP conversation on it, then never waits
        for a claim or a commit: the next claim and each group's record overlap the sends.
        One thread keeps the engine's own transactions in order. On SQLite the work runs
        inline (see ``_offload``).
        """
        if not self._offload:
            return fn(*args)
        if self._db_thread is None:
            self._db_thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="sequencer-db"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, functools.partial(fn, *args))

    # -- the tick --------------------------------------------------------------------
    async def tick(self, *, dry_run: bool = False) -> TickResult:
        result = TickResult()
        if self.poll_hook is not None and not dry_run:
            try:
                self.poll_hook()
            except Exception as exc:  # noqa: BLE001 - a failed poll must not stop sending step 1s
                log.warning("poll failed: %s", exc)
                result.errors.append(f"poll: {exc}")
        await asyncio.gather(
            *(self._mailbox_tick(mb, result, dry_run) for mb in self.config.mailboxes)
        )
        return result

    async def _mailbox_tick(
        self, mailbox: MailboxConfig, result: TickResult, dry_run: bool
    ) -> None:
        with self.db.session() as s:
            state = mailbox_state.get_mailbox_state(s, mailbox.name)
            if state is not None and state.paused_reason:
                result.paused[mailbox.name] = state.paused_reason
                return
        run = self._run_for(mailbox)
        if not dry_run:
            try:
                await self._reconcile(run, result)
            except MailboxError as exc:
                log.warning("mailbox %s: recovery could not check Sent: %s", mailbox.name, exc)
                result.errors.append(str(exc))
        if self._stopping:
            return
        leased_at = monotonic_time.monotonic()
        claims, more = await self._db(self._claim, mailbox, result, dry_run)
        while claims and not dry_run:
            # Claim the next batch while this one is being sent (it is leased, and counted
            # against the limits, from now); give it back if this batch has to stop.
            ahead: asyncio.Future[tuple[list[outbox.Claim], bool]] | None = None
            ahead_at = monotonic_time.monotonic()
            if more and not self._stopping:
                ahead = asyncio.ensure_future(self._db(self._claim, mailbox, result, False))
            carry_on = await self._send_batch(run, claims, result, leased_at)
            if ahead is None:
                return
            claims, more = await ahead
            leased_at = ahead_at
            if claims and (not carry_on or self._stopping):
                reason = "worker stopping" if self._stopping else "the mailbox stopped sending"
                await self._db(self._release, claims, result, reason)
                return

    # -- claiming --------------------------------------------------------------------
    def _mailbox_zone(self, mailbox: MailboxConfig) -> ZoneInfo:
        return zone(mailbox.timezone or self.config.timezone)

    def _claim(
        self, mailbox: MailboxConfig, result: TickResult, dry_run: bool
    ) -> tuple[list[outbox.Claim], bool]:
        """One claim transaction for one mailbox; returns (claims, whether more may be claimable now)."""
        now = self.clock.now()
        sending = self.config.sending
        with self.db.session() as s:
            state = mailbox_state.lock_mailbox_state(s, mailbox.name)
            if state.paused_reason:
                result.paused[mailbox.name] = state.paused_reason
                return [], False
            mzone = self._mailbox_zone(mailbox)
            local_now = now.astimezone(mzone)
            midnight = datetime.combine(local_now.date(), datetime.min.time(), mzone).astimezone(
                UTC
            )
            remaining = mailbox.daily_limit - mailbox_state.sent_since(s, mailbox.name, midnight)
            paced = state.next_send_allowed_at is not None and state.next_send_allowed_at > now
            if remaining > 0 and paced and not dry_run:
                return [], False
            # per_minute is a sliding window: touches sent or in flight in the last 60 seconds.
            per_minute = max(1, int(mailbox.per_minute))
            rate_left = per_minute - mailbox_state.sent_since(
                s, mailbox.name, now - timedelta(seconds=60)
            )
            spaced = mailbox.max_spacing_seconds > 0
            allowance = 1 if spaced else rate_left
            allowance = max(0, min(allowance, rate_left, remaining, sending.batch_size))
            if allowance == 0 and remaining > 0:
                return [], False  # this minute's rate is used up; nothing to move
            tomorrow = datetime.combine(
                local_now.date() + timedelta(days=1), datetime.min.time(), mzone
            )
            require_poll = sending.require_poll_before_followup
            if require_poll and not dry_run:
                outbox.flag_awaiting_poll(
                    s, mailbox=mailbox.name, now=now, polled_until=state.last_poll_at
                )
            taken = 0

            def decide(e: Enrollment, p: Prospect, message_id: str) -> outbox.Decision:
                nonlocal taken
                sequence = self.sequences.get(e.sequence_id)
                if sequence is None:
                    return outbox.Finish(
                        lifecycle.FAILED,
                        f"sequence {e.sequence_id!r} is not loaded (file removed?)",
                    )
                number = e.steps_done + 1
                if number > len(sequence.steps):
                    return outbox.Finish(lifecycle.COMPLETED, "every step sent, no reply")
                step = sequence.step(number)
                if step.is_task:  # sends nothing: the owner's task holds the enrollment (tasks.py)
                    return tasks.task_step_due(
                        s, self.config, self.sequences, sequence, step, e, now, self.calendar
                    )
                tz_name = prospect_zone(self.config, sequence, mailbox, p.timezone)
                tz = zone(tz_name)
                window = sequence.window_for(step, mailbox_window(mailbox))
                if not in_window(now, tz, window, self.calendar):
                    return outbox.Defer(
                        next_window_open(now, tz, window, self.calendar), outbox.WAIT_WINDOW
                    )
                if taken >= allowance:
                    if remaining <= 0:
                        return outbox.Defer(
                            next_window_open(tomorrow, tz, window, self.calendar), outbox.WAIT_LIMIT
                        )
                    return outbox.LEAVE
                try:
                    prepared = render_touch(
                        self.config,
                        self.templates,
                        self.calendar,
                        mailbox,
                        sequence,
                        number,
                        e,
                        p,
                        message_id,
                        now,
                        tz_name,
                    )
                except (TemplateError, ValueError) as exc:
                    return outbox.Finish(
                        lifecycle.FAILED, f"step {number} cannot be composed: {exc}"
                    )
                taken += 1
                return outbox.SendTouch(
                    to_addr=p.email, subject=prepared.subject, variant=None, payload=prepared
                )

            claimed = outbox.claim_due(
                s,
                now=now,
                worker=self.worker_id,
                limit=allowance + 50 if allowance else sending.batch_size,
                lease_seconds=sending.lease_seconds,
                mailbox=mailbox.name,
                decide=decide,
                new_message_id=lambda e: new_message_id(
                    mailbox.address.rsplit("@", 1)[1], uuid.uuid4().hex
                ),
                require_poll=require_poll,
                polled_until=state.last_poll_at,
            )
            for reason, n in claimed.deferred.items():
                result.count(result.deferred, reason, n)
            for state_name, n in claimed.finished.items():
                result.count(result.finished, state_name, n)
            if dry_run:
                result.planned.extend(
                    {
                        "mailbox": mailbox.name,
                        "to": c.to_addr,
                        "step": c.step,
                        "subject": c.subject,
                        "message_id": c.message_id,
                        "enrollment": c.enrollment_id,
                    }
                    for c in claimed.claims
                )
                s.rollback()
                return claimed.claims, False
            n = len(claimed.claims)
            if n and spaced:
                lo = min(mailbox.min_spacing_seconds, mailbox.max_spacing_seconds)
                gap = max(
                    60.0 / mailbox.per_minute, self.random.uniform(lo, mailbox.max_spacing_seconds)
                )
                mailbox_state.set_next_send_allowed(s, mailbox.name, now + timedelta(seconds=gap))
        # Claim again at once unless pacing forbids it; an exhausted daily limit gets one more
        # pass, which moves the remaining due touches to the next morning (wait_reason "limit").
        more = n > 0 and n >= allowance and not spaced
        return claimed.claims, more

    # -- sending ---------------------------------------------------------------------
    async def _send_batch(
        self, run: MailboxRun, claims: list[outbox.Claim], result: TickResult, leased_at: float
    ) -> bool:
        """Send claimed touches, every SMTP slot kept busy; False when the mailbox must stop now.

        At most ``concurrency x GROUP_PER_SLOT`` touches are ``sending`` and unrecorded at
        any moment: that bounds what a killed worker can leave in doubt. Each commit both
        records the touches that finished and marks the next ones ``sending``, and it runs
        in a thread while the slots go on with the touches already marked, so the database
        round trips overlap the SMTP ones instead of stalling them.
        """
        mailbox = run.mailbox
        deadline = leased_at + self.config.sending.lease_seconds / 2
        window = mailbox.concurrency * GROUP_PER_SLOT
        waiting = collections.deque(claims)  # claimed (queued), not yet marked sending
        ready: collections.deque[outbox.Claim] = collections.deque()  # marked, not started
        finished: list[_Outcome] = []  # SMTP done, not yet recorded
        unsettled = 0  # marked sending and not yet recorded
        active = 0  # slots running
        stop: str | None = None
        wake = asyncio.Event()
        # When to commit the next group: offloaded, while the slots still have a touch each
        # to send during the commit; inline (the commit blocks the loop), once the marked
        # ones run out, so that each commit records as many as the window allows.
        low = mailbox.concurrency if self._offload else 0

        async def slot() -> None:
            nonlocal active
            try:
                while ready and stop is None and not self._stopping:
                    outcome = await self._deliver(run, ready.popleft())
                    finished.append(outcome)  # after the await: ``finished`` may be a new list
                    wake.set()
            finally:
                active -= 1
                wake.set()

        running: set[asyncio.Task[None]] = set()
        while True:
            halt = stop is not None or self._stopping or monotonic_time.monotonic() > deadline
            room = window - unsettled + len(finished)
            feed = bool(waiting) and not halt and len(ready) <= low and room > 0
            idle = active == 0 and (not ready or halt)
            if feed or (finished and idle):
                start = [waiting.popleft() for _ in range(min(room, len(waiting)))] if feed else []
                done, finished = finished, []
                stop = await self._db(self._record, mailbox, done, start, result)
                if stop is not None:
                    waiting.extendleft(reversed(start))  # recorded, but not marked: give back
                    start = []
                unsettled += len(start) - len(done)
                ready.extend(start)
                while ready and active < mailbox.concurrency and stop is None:
                    active += 1
                    task = asyncio.create_task(slot())
                    running.add(task)
                    task.add_done_callback(running.discard)
                continue
            if idle:
                break
            wake.clear()
            await wake.wait()
        leftover = [*ready, *waiting]
        if leftover:
            reason = stop or (
                "worker stopping" if self._stopping else "batch ran past half its lease"
            )
            await self._db(self._release, leftover, result, reason)
        return stop is None and not leftover

    async def _deliver(self, run: MailboxRun, claim: outbox.Claim) -> _Outcome:
        prepared: Prepared = claim.payload

        def build() -> bytes:
            try:
                return prepared.raw
            except (TemplateError, ValueError) as exc:
                raise ComposeFailed(f"step {prepared.step} cannot be composed: {exc}") from None

        try:
            await run.pool.send(run.mailbox.address, claim.to_addr, build)
        except (MailboxError, SecretError, ComposeFailed) as exc:
            return _Outcome(claim, error=exc)
        sent_at = self.clock.now()
        note = None
        if run.saves_sent:
            try:
                await run.append_sent(prepared.raw, sent_at)
            except MailboxError as exc:
                note = f"sent, but the Sent copy failed: {exc}"
                log.warning("mailbox %s: %s", run.mailbox.name, note)
        return _Outcome(claim, sent_at=sent_at, note=note)

    def _record(
        self,
        mailbox: MailboxConfig,
        outcomes: list[_Outcome],
        start: list[outbox.Claim],
        result: TickResult,
    ) -> str | None:
        """Commit what SMTP said and mark ``start`` sending; returns why the mailbox must stop.

        ``start`` is marked only when nothing here says stop, in the same commit.
        """
        now = self.clock.now()
        sending = self.config.sending
        stop: str | None = None
        pause: str | None = None
        with self.db.session() as s:
            accepted = [
                outbox_record.SentTouch(
                    message_pk=o.claim.id,
                    enrollment_id=o.claim.enrollment_id,
                    prospect_id=o.claim.prospect_id,
                    message_id=o.claim.message_id,
                    sent_at=o.sent_at,
                    advance=advance_after(
                        self.calendar, mailbox, o.claim.payload, o.claim.message_id, o.sent_at
                    ),
                    note=o.note,
                )
                for o in outcomes
                if o.error is None and o.sent_at is not None
            ]
            result.sent += outbox_record.mark_sent_many(
                s, accepted, now=now, mailbox=mailbox.name, actor=self.worker_id
            )
            for o in outcomes:
                c, err = o.claim, o.error
                if err is None:
                    continue
                if isinstance(err, TemporaryFailure) and err.maybe_delivered:
                    outbox_record.hold(
                        s,
                        c.id,
                        now=now,
                        actor=self.worker_id,
                        reason=f"connection lost after the message data was sent; the server may have accepted it ({err})",
                    )
                    result.held += 1
                elif isinstance(err, TemporaryFailure):
                    outbox_record.mark_failed_temporary(
                        s,
                        c.id,
                        now=now,
                        error=str(err),
                        base_seconds=sending.retry_base_seconds,
                        max_retries=sending.max_retries,
                        actor=self.worker_id,
                    )
                    result.retrying += 1
                    if err.recipient is None:
                        stop = f"SMTP unavailable: {err}"
                elif isinstance(err, HardBounce):
                    outbox_record.mark_bounced(
                        s,
                        c.id,
                        now=now,
                        error=f"{err.code} {err.reply}",
                        recipient=c.to_addr,
                        actor=self.worker_id,
                    )
                    result.bounced += 1
                elif isinstance(err, ComposeFailed):
                    outbox_record.mark_failed(
                        s, c.id, now=now, error=str(err), actor=self.worker_id
                    )
                    result.failed += 1
                elif isinstance(err, PermanentFailure):
                    outbox_record.mark_failed(
                        s,
                        c.id,
                        now=now,
                        error=f"rejected by the server: {err.code} {err.reply}",
                        actor=self.worker_id,
                    )
                    result.failed += 1
                else:  # auth refused, sender refused, no password: the mailbox, not the touch
                    outbox_record.release(s, [c.id], reason=str(err))
                    result.released += 1
                    pause = str(err)
            if pause is not None:
                mailbox_state.pause_mailbox(s, mailbox.name, reason=pause, now=now)
                result.paused[mailbox.name] = pause
                log.error("mailbox %s paused: %s", mailbox.name, pause)
            elif stop is None and start:
                outbox_record.mark_attempting(s, [c.id for c in start], worker=self.worker_id)
        return pause or stop

    def _release(self, claims: list[outbox.Claim], result: TickResult, reason: str) -> None:
        if not claims:
            return
        with self.db.session() as s:
            result.released += outbox_record.release(s, [c.id for c in claims], reason=reason)

    # -- crash recovery ----------------------------------------------------------------
    async def _reconcile(self, run: MailboxRun, result: TickResult) -> None:
        """Rows a dead worker left behind: queued ones go back, sending ones are looked up in Sent."""
        now = self.clock.now()
        mailbox = run.mailbox
        with self.db.session() as s:
            stale = outbox_record.stale_sending(
                s, now, lease_seconds=self.config.sending.lease_seconds, mailbox=mailbox.name
            )
            queued = [m.id for m in stale if m.status == outbox.QUEUED]
            if queued:
                result.released += outbox_record.release(
                    s, queued, reason="released after a worker stopped before sending"
                )
            in_doubt = [(m.id, m.message_id) for m in stale if m.status == outbox.SENDING]
        if not in_doubt:
            return
        log.warning(
            "mailbox %s: %d touch(es) were mid-send when a worker died; checking Sent",
            mailbox.name,
            len(in_doubt),
        )
        if mailbox.imap is None:
            found: set[str] = set()
            reason = "a worker died mid-send and the mailbox has no IMAP to check Sent"
        else:
            found = await run.find_in_sent([mid for _, mid in in_doubt])
            reason = "a worker died mid-send and the Message-ID is not in the Sent folder; it may or may not have been delivered"
        with self.db.session() as s:
            for pk, mid in in_doubt:
                if mid in found:
                    if confirm_sent(
                        s,
                        self.config,
                        self.sequences,
                        mailbox,
                        pk,
                        now,
                        note="confirmed in the Sent folder after a crash",
                        actor=self.worker_id,
                        calendar=self.calendar,
                    ):
                        result.reconciled += 1
                elif outbox_record.hold(s, pk, now=now, reason=reason, actor=self.worker_id):
                    result.held += 1

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


# --- entry points -------------------------------------------------------------------------


def tick(
    db: Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    templates: TemplateStore,
    clock: Clock,
    *,
    worker_id: str,
    dry_run: bool = False,
    poll_hook: PollHook | None = None,
) -> TickResult:
    """One pass for cron: poll, recover, send what is due now, close connections."""

    async def once() -> TickResult:
        engine = Engine(
            db, config, sequences, templates, clock, worker_id=worker_id, poll_hook=poll_hook
        )
        loop = asyncio.get_running_loop()
        installed = _install_stop_signals(loop, engine)
        try:
            return await engine.tick(dry_run=dry_run)
        finally:
            await engine.aclose()
            for sig in installed:
                loop.remove_signal_handler(sig)

    result = asyncio.run(once())
    log.info(
        "%s", json.dumps({"event": "tick", "worker": worker_id, **result.as_dict()}, default=str)
    )
    return result


def run(
    db: Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    templates: TemplateStore,
    clock: Clock,
    *,
    worker_id: str,
    interval: float = 30.0,
    poll_hook: PollHook | None = None,
    once: bool = False,
    on_tick: Callable[[TickResult], None] | None = None,
    wake_source: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
) -> None:
    """The long-running worker: tick, sleep until the next slot or ``interval``, repeat.

    ``wake_source`` is given a thread-safe ``wake()`` (e.g. for IMAP IDLE watchers that
    see a reply arrive) and returns a function that stops the source on shutdown.

    SIGTERM/SIGINT: the SMTP transactions in flight finish and are recorded, claimed
    touches not yet started are given back, connections close, and ``run`` returns.
    """

    async def loop_forever() -> None:
        engine = Engine(
            db, config, sequences, templates, clock, worker_id=worker_id, poll_hook=poll_hook
        )
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        installed = _install_stop_signals(loop, engine, wake)
        stop_source = (
            wake_source(lambda: loop.call_soon_threadsafe(wake.set)) if wake_source else None
        )
        log.info(
            "%s", json.dumps({"event": "worker_started", "worker": worker_id, "interval": interval})
        )
        try:
            while not engine.stopping:
                started = monotonic_time.monotonic()
                try:
                    result = await engine.tick()
                except Exception as exc:  # noqa: BLE001 - a database blip must not kill the worker
                    log.exception("tick failed: %s", exc)
                    result = TickResult(errors=[str(exc)])
                log.info(
                    "%s",
                    json.dumps(
                        {
                            "event": "tick",
                            "worker": worker_id,
                            "seconds": round(monotonic_time.monotonic() - started, 3),
                            **result.as_dict(),
                        },
                        default=str,
                    ),
                )
                if on_tick is not None:
                    on_tick(result)
                if once or engine.stopping:
                    break
                delay = interval
                wakeup = engine.next_wakeup()
                if wakeup is not None:
                    delay = min(delay, max(0.5, (wakeup - clock.now()).total_seconds()))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=delay)
                if not engine.stopping:
                    wake.clear()
        finally:
            if stop_source is not None:
                stop_source()
            await engine.aclose()
            for sig in installed:
                loop.remove_signal_handler(sig)
            log.info("%s", json.dumps({"event": "worker_stopped", "worker": worker_id}))

    asyncio.run(loop_forever())


def _install_stop_signals(
    loop: asyncio.AbstractEventLoop, engine: Engine, wake: asyncio.Event | None = None
) -> list[int]:
    def stop() -> None:
        log.info("%s", json.dumps({"event": "stopping", "worker": engine.worker_id}))
        engine.request_stop()
        if wake is not None:
            wake.set()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    return installed


__all__ = [
    "GROUP_PER_SLOT",
    "Engine",
    "TickResult",
    "run",
    "tick",
]
