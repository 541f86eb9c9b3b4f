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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sequencer import lifecycle, tasks
from sequencer.clock import Clock
from sequencer.compose import compose_touch_bytes, new_message_id, reply_subject
from sequencer.config import Config, MailboxConfig
from sequencer.db import outbox
from sequencer.db.models import Enrollment, Prospect
from sequencer.enroll import business_calendar, mailbox_window, prospect_mapping, prospect_zone
from sequencer.errors import (
    MailboxError,
    NotFound,
    SecretError,
    TemplateError,
    UserError,
)
from sequencer.mail.imap import ImapSession
from sequencer.mail.smtp import (
    HardBounce,
    PermanentFailure,
    SmtpPool,
    TemporaryFailure,
)
from sequencer.schedule import BusinessCalendar, due_at, in_window, next_window_open, zone
from sequencer.sequences import Sequence, Step, choose_variant, render_step
from sequencer.templates import TemplateStore, build_context

log = logging.getLogger("sequencer.send")
_T = TypeVar("_T")

PollHook = Callable[[], Any]
# At most concurrency x this touches are ``sending`` and not yet recorded at any moment.
# It bounds how many touches a killed worker can leave in doubt (held for the operator
# when the Sent folder cannot confirm them), and sets how many touches one commit
# records: 8 (16 at the default concurrency of 2) keeps the commits under a fifth of the
# engine's time on SQLite (README, "Performance"); 4 cost about 10% of the send rate.
GROUP_PER_SLOT = 8
MAX_REFERENCES = 20


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
class Prepared:
    """A composed touch and what recording it needs (kept in memory between claim and send).

    Templates are rendered in the claim (a template error fails the enrollment there); the
    MIME message is built only when an SMTP slot is free, so that CPU work overlaps the
    round trips of the other slots.
    """

    compose: Callable[[], bytes] | None
    sequence: Sequence
    step: int
    subject: str
    tz_name: str
    thread_subject: str | None
    thread_root_id: str | None
    thread_refs: list[str]
    _raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        """The message bytes, composed on first use (raises TemplateError/ValueError if it cannot be)."""
        if self._raw is None:
            assert self.compose is not None
            self._raw = self.compose()
        return self._raw


class ComposeFailed(UserError):
    """A touch's headers could not be built (e.g. a control character in a field)."""


@dataclass
class _Outcome:
    claim: outbox.Claim
    sent_at: datetime | None = None
    error: Exception | None = None
    note: str | None = None


class _MailboxRun:
    """Per mailbox: the SMTP pool and a lazily opened IMAP session (for Sent), reused across ticks."""

    def __init__(self, mailbox: MailboxConfig) -> None:
        self.mailbox = mailbox
        self.pool = SmtpPool(mailbox)
        # One IMAP session per SMTP slot, so Sent copies do not serialise the sends.
        self.imap_free: list[ImapSession] = []
        self.imap_slots = asyncio.Semaphore(mailbox.concurrency)

    @property
    def saves_sent(self) -> bool:
        return self.mailbox.imap is not None and not self.mailbox.server_saves_sent

    async def _imap_call(self, fn: Callable[[ImapSession], Any]) -> Any:
        async with self.imap_slots:
            session = self.imap_free.pop() if self.imap_free else None

            def call() -> Any:
                nonlocal session
                if session is None:
                    session = ImapSession(self.mailbox).connect()
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
        def search(session: ImapSession) -> set[str]:
            folder = session.find_sent_folder()
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
        self._runs: dict[str, _MailboxRun] = {}
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

    def _run_for(self, mailbox: MailboxConfig) -> _MailboxRun:
        run = self._runs.get(mailbox.name)
        if run is None:
            run = self._runs[mailbox.name] = _MailboxRun(mailbox)
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
            state = outbox.get_mailbox_state(s, mailbox.name)
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
            state = outbox.lock_mailbox_state(s, mailbox.name)
            if state.paused_reason:
                result.paused[mailbox.name] = state.paused_reason
                return [], False
            mzone = self._mailbox_zone(mailbox)
            local_now = now.astimezone(mzone)
            midnight = datetime.combine(local_now.date(), datetime.min.time(), mzone).astimezone(
                UTC
            )
            remaining = mailbox.daily_limit - outbox.sent_since(s, mailbox.name, midnight)
            paced = state.next_send_allowed_at is not None and state.next_send_allowed_at > now
            if remaining > 0 and paced and not dry_run:
                return [], False
            # per_minute is a sliding window: touches sent or in flight in the last 60 seconds.
            per_minute = max(1, int(mailbox.per_minute))
            rate_left = per_minute - outbox.sent_since(s, mailbox.name, now - timedelta(seconds=60))
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
                    prepared = self._render(
                        mailbox, sequence, number, e, p, message_id, now, tz_name
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
                outbox.set_next_send_allowed(s, mailbox.name, now + timedelta(seconds=gap))
        # Claim again at once unless pacing forbids it; an exhausted daily limit gets one more
        # pass, which moves the remaining due touches to the next morning (wait_reason "limit").
        more = n > 0 and n >= allowance and not spaced
        return claimed.claims, more

    def _render(
        self,
        mailbox: MailboxConfig,
        sequence: Sequence,
        number: int,
        e: Enrollment,
        p: Prospect,
        message_id: str,
        now: datetime,
        tz_name: str,
    ) -> Prepared:
        step = sequence.step(number)
        token = e.token
        url = (
            self.config.unsubscribe.url.replace("{token}", token)
            if self.config.unsubscribe.url
            else None
        )
        mailbox_map = {
            "name": mailbox.name,
            "address": mailbox.address,
            "display_name": mailbox.display_name or mailbox.name,
            "signature": mailbox.signature,
        }
        today = now.astimezone(zone(tz_name)).date()
        context = build_context(
            prospect_mapping(p), mailbox_map, sequence, step, url, today, self.calendar
        )
        variant = choose_variant(step, token)
        rendered = render_step(self.templates, sequence, step, variant, context)
        if _starts_thread(step, e.thread_root_id):
            subject = rendered.subject or ""
            in_reply_to, references = None, []
        else:
            thread_subject = e.thread_subject
            if not thread_subject:
                start = sequence.thread_start(step)
                thread_subject = (
                    render_step(
                        self.templates, sequence, start, choose_variant(start, token), context
                    ).subject
                    or ""
                )
            subject = reply_subject(thread_subject)
            in_reply_to = e.last_message_id
            references = list(e.thread_refs or ([e.last_message_id] if e.last_message_id else []))
            rendered = replace(rendered, subject=subject)
        mailto = None
        if sequence.list_unsubscribe:
            mailto = unsubscribe_mailto(self.config.unsubscribe.mailto, mailbox.address, token)
        msg = functools.partial(
            compose_touch_bytes,
            rendered=replace(rendered, subject=subject),
            from_name=mailbox.display_name or None,
            from_addr=mailbox.address,
            to_name=p.name,
            to_addr=p.display_email or p.email,
            message_id=message_id,
            date=now.astimezone(self._mailbox_zone(mailbox)),
            in_reply_to=in_reply_to,
            references=references,
            list_unsubscribe_mailto=mailto,
            list_unsubscribe_url=url if sequence.list_unsubscribe else None,
        )
        return Prepared(
            compose=msg,
            sequence=sequence,
            step=number,
            subject=subject,
            tz_name=tz_name,
            thread_subject=e.thread_subject,
            thread_root_id=e.thread_root_id,
            thread_refs=list(e.thread_refs or []),
        )

    # -- sending ---------------------------------------------------------------------
    async def _send_batch(
        self, run: _MailboxRun, claims: list[outbox.Claim], result: TickResult, leased_at: float
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

    async def _deliver(self, run: _MailboxRun, claim: outbox.Claim) -> _Outcome:
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
                outbox.SentTouch(
                    message_pk=o.claim.id,
                    enrollment_id=o.claim.enrollment_id,
                    prospect_id=o.claim.prospect_id,
                    message_id=o.claim.message_id,
                    sent_at=o.sent_at,
                    advance=self._advance(mailbox, o.claim.payload, o.claim.message_id, o.sent_at),
                    note=o.note,
                )
                for o in outcomes
                if o.error is None and o.sent_at is not None
            ]
            result.sent += outbox.mark_sent_many(
                s, accepted, now=now, mailbox=mailbox.name, actor=self.worker_id
            )
            for o in outcomes:
                c, err = o.claim, o.error
                if err is None:
                    continue
                if isinstance(err, TemporaryFailure) and err.maybe_delivered:
                    outbox.hold(
                        s,
                        c.id,
                        now=now,
                        actor=self.worker_id,
                        reason=f"connection lost after the message data was sent; the server may have accepted it ({err})",
                    )
                    result.held += 1
                elif isinstance(err, TemporaryFailure):
                    outbox.mark_failed_temporary(
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
                    outbox.mark_bounced(
                        s,
                        c.id,
                        now=now,
                        error=f"{err.code} {err.reply}",
                        recipient=c.to_addr,
                        actor=self.worker_id,
                    )
                    result.bounced += 1
                elif isinstance(err, ComposeFailed):
                    outbox.mark_failed(s, c.id, now=now, error=str(err), actor=self.worker_id)
                    result.failed += 1
                elif isinstance(err, PermanentFailure):
                    outbox.mark_failed(
                        s,
                        c.id,
                        now=now,
                        error=f"rejected by the server: {err.code} {err.reply}",
                        actor=self.worker_id,
                    )
                    result.failed += 1
                else:  # auth refused, sender refused, no password: the mailbox, not the touch
                    outbox.release(s, [c.id], reason=str(err))
                    result.released += 1
                    pause = str(err)
            if pause is not None:
                outbox.pause_mailbox(s, mailbox.name, reason=pause, now=now)
                result.paused[mailbox.name] = pause
                log.error("mailbox %s paused: %s", mailbox.name, pause)
            elif stop is None and start:
                outbox.mark_attempting(s, [c.id for c in start], worker=self.worker_id)
        return pause or stop

    def _release(self, claims: list[outbox.Claim], result: TickResult, reason: str) -> None:
        if not claims:
            return
        with self.db.session() as s:
            result.released += outbox.release(s, [c.id for c in claims], reason=reason)

    def _advance(
        self, mailbox: MailboxConfig, prepared: Prepared, message_id: str, sent_at: datetime
    ) -> outbox.Advance:
        sequence, number = prepared.sequence, prepared.step
        step = sequence.step(number)
        if _starts_thread(step, prepared.thread_root_id):
            root, refs, thread_subject = message_id, [message_id], prepared.subject
        else:
            root, thread_subject = prepared.thread_root_id, prepared.thread_subject
            refs = [*prepared.thread_refs, message_id]
            if (
                len(refs) > MAX_REFERENCES
            ):  # keep the root and the most recent ones (RFC 5322 advice)
                refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
        next_at = None
        if number < len(sequence.steps):
            nxt = sequence.step(number + 1)
            window = sequence.window_for(nxt, mailbox_window(mailbox))
            next_at = due_at(sent_at, nxt.wait, zone(prepared.tz_name), window, self.calendar)
        return outbox.Advance(
            step=number,
            next_send_at=next_at,
            thread_subject=thread_subject,
            thread_root_id=root,
            last_message_id=message_id,
            thread_refs=refs,
        )

    # -- crash recovery ----------------------------------------------------------------
    async def _reconcile(self, run: _MailboxRun, result: TickResult) -> None:
        """Rows a dead worker left behind: queued ones go back, sending ones are looked up in Sent."""
        now = self.clock.now()
        mailbox = run.mailbox
        with self.db.session() as s:
            stale = outbox.stale_sending(
                s, now, lease_seconds=self.config.sending.lease_seconds, mailbox=mailbox.name
            )
            queued = [m.id for m in stale if m.status == outbox.QUEUED]
            if queued:
                result.released += outbox.release(
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
                    if self._confirm_sent(
                        s, mailbox, pk, now, note="confirmed in the Sent folder after a crash"
                    ):
                        result.reconciled += 1
                elif outbox.hold(s, pk, now=now, reason=reason, actor=self.worker_id):
                    result.held += 1

    def _confirm_sent(
        self, s: Any, mailbox: MailboxConfig, message_pk: int, now: datetime, *, note: str
    ) -> bool:
        """Mark a touch sent from the database alone (recovery and ``outbox resolve ID sent``)."""
        message = outbox.message(s, message_pk)
        if message is None:
            raise NotFound(f"no outbox message {message_pk}")
        e, p = outbox.enrollment_with_prospect(s, message.enrollment_id)
        sequence = self.sequences.get(e.sequence_id)
        if sequence is None or message.step > len(sequence.steps):
            advance = outbox.Advance(
                step=message.step,
                next_send_at=None,
                thread_subject=e.thread_subject,
                thread_root_id=e.thread_root_id,
                last_message_id=message.message_id,
                thread_refs=[*(e.thread_refs or []), message.message_id],
            )
        else:
            prepared = Prepared(
                compose=None,
                sequence=sequence,
                step=message.step,
                subject=message.subject,
                tz_name=prospect_zone(self.config, sequence, mailbox, p.timezone),
                thread_subject=e.thread_subject,
                thread_root_id=e.thread_root_id,
                thread_refs=list(e.thread_refs or []),
            )
            advance = self._advance(mailbox, prepared, message.message_id, now)
        return outbox.mark_sent(
            s, message_pk, now=now, sent_at=now, advance=advance, actor=self.worker_id, note=note
        )

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a mailbox's pacing lets it send again (for ``run``'s sleep)."""
        with self.db.session() as s:
            states = outbox.mailbox_states(s)
        times = [
            st.next_send_allowed_at
            for st in states.values()
            if st.next_send_allowed_at is not None and not st.paused_reason
        ]
        return min(times) if times else None


def _starts_thread(step: Step, thread_root_id: str | None) -> bool:
    """Whether this touch opens a new thread, rather than replying in the enrollment's.

    Step 1 normally does; but an enrollment made by filing already has a thread, the
    rep's own filed email (touch 0), so its step 1 replies to it and keeps that root.
    """
    if step.number == 1 and thread_root_id:
        return False
    return step.starts_thread


def unsubscribe_mailto(configured: str | None, mailbox_address: str, token: str) -> str:
    """``unsubscribe+TOKEN@domain`` for a configured opt-out address, else ``rep+unsubscribe-TOKEN@domain``.

    Both forms are what the inbox classifier recognises as a List-Unsubscribe hit, and
    the second lands in the rep's own inbox, which the poller already watches.
    """
    base = configured or mailbox_address
    if base.lower().startswith("mailto:"):
        base = base[7:]
    local, _, domain = base.partition("@")
    tag = token if configured else f"unsubscribe-{token}"
    return f"mailto:{local}+{tag}@{domain}?subject=unsubscribe"


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


def resolve(
    db: Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    clock: Clock,
    message_pk: int,
    decision: str,
    *,
    actor: str = "cli",
) -> str:
    """``outbox resolve ID sent|resend`` for a held touch; returns what was done."""
    now = clock.now()
    with db.session() as s:
        message = outbox.message(s, message_pk)
        if message is None:
            raise NotFound(f"no outbox message with id {message_pk} (see `sequencer outbox list`)")
        if message.status != outbox.HELD:
            raise UserError(
                f"outbox message {message_pk} is {message.status}, not held; nothing to resolve"
            )
        if decision == "sent":
            mailbox = config.mailbox(message.mailbox)
            engine = Engine(
                db, config, sequences, TemplateStore(config.templates_path), clock, worker_id=actor
            )
            engine._confirm_sent(s, mailbox, message_pk, now, note="confirmed sent by the operator")
            return (
                f"message {message_pk} ({message.message_id}) marked sent; the enrollment moves on"
            )
        if decision == "resend":
            outbox.resend(s, message_pk, now=now, actor=actor)
            return f"message {message_pk} will be sent again at the next tick, with the same Message-ID"
        raise UserError(f"resolve takes 'sent' or 'resend', not {decision!r}")


def unpause(db: Any, clock: Clock, mailbox: str, *, actor: str = "cli") -> bool:
    with db.session() as s:
        return outbox.unpause_mailbox(s, mailbox, now=clock.now(), actor=actor)


# --- status -------------------------------------------------------------------------------


@dataclass
class MailboxStatus:
    name: str
    address: str
    sent_today: int
    daily_limit: int
    next_due: datetime | None
    next_send_allowed_at: datetime | None
    overdue: dict[str, int]
    waiting: dict[str, int]
    held: int
    in_flight: int
    last_poll_at: datetime | None
    last_poll_error: str | None
    paused_reason: str | None


def status(db: Any, config: Config, clock: Clock) -> list[MailboxStatus]:
    """Per mailbox: sent today / limit, next due, overdue backlog and why, held rows, last poll."""
    now = clock.now()
    out = []
    with db.session() as s:
        states = outbox.mailbox_states(s)
        for mb in config.mailboxes:
            mzone = zone(mb.timezone or config.timezone)
            local = now.astimezone(mzone)
            midnight = datetime.combine(local.date(), datetime.min.time(), mzone).astimezone(UTC)
            counts = outbox.count_by_status(s, mb.name, outbox.IN_FLIGHT)
            st = states.get(mb.name)
            out.append(
                MailboxStatus(
                    name=mb.name,
                    address=mb.address,
                    sent_today=outbox.sent_since(s, mb.name, midnight),
                    daily_limit=mb.daily_limit,
                    next_due=outbox.next_due(s, mb.name),
                    next_send_allowed_at=st.next_send_allowed_at if st else None,
                    overdue=outbox.overdue_by_reason(s, mb.name, now),
                    waiting=outbox.waiting_by_reason(s, mb.name),
                    held=counts.get(outbox.HELD, 0),
                    in_flight=counts.get(outbox.QUEUED, 0) + counts.get(outbox.SENDING, 0),
                    last_poll_at=st.last_poll_at if st else None,
                    last_poll_error=st.last_poll_error if st else None,
                    paused_reason=st.paused_reason if st else None,
                )
            )
    return out


@dataclass
class OutboxRow:
    id: int
    status: str
    mailbox: str
    to: str
    step: int
    subject: str
    message_id: str
    claimed_at: datetime
    error: str | None
    enrollment_id: int


def outbox_list(
    db: Any,
    *,
    statuses: tuple[str, ...] = (
        outbox.HELD,
        outbox.QUEUED,
        outbox.SENDING,
        outbox.DEFERRED,
        outbox.FAILED,
    ),
) -> list[OutboxRow]:
    with db.session() as s:
        return [
            OutboxRow(
                m.id,
                m.status,
                m.mailbox,
                m.to_addr,
                m.step,
                m.subject,
                m.message_id,
                m.claimed_at,
                m.error,
                e.id,
            )
            for m, e in outbox.outbox_rows(s, statuses)
        ]


def mark_polled(db: Any, mailbox: str, at: datetime) -> None:
    """For poll hooks: the mailbox's inbox has been read up to ``at``."""
    with db.session() as s:
        outbox.mark_polled(s, mailbox, at)


__all__ = [
    "Engine",
    "MailboxStatus",
    "OutboxRow",
    "TickResult",
    "mark_polled",
    "outbox_list",
    "resolve",
    "run",
    "status",
    "tick",
    "unpause",
    "unsubscribe_mailto",
]
