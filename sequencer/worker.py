"""What a worker does around sending: the housekeeping before each tick, and IDLE watchers.

`sequencer tick` (cron) and `sequencer run` (long-running) both call
``housekeeping`` before they send: poll every inbox (a reply must stop the next
touch), resume pauses whose until-date has passed, send the daily digest and
run the rep-task jobs when they are due. Each job is guarded on its own: a
failing digest never stops the sending, and every job is safe to run on
several workers at once (the digest and reminders claim their day in the
database first).

``IdleWatchers`` keep one IMAP IDLE connection per mailbox in background
threads and wake the run loop the moment new mail lands, so a reply stops the
sequence within seconds instead of at the next interval. Each watcher logs
"IDLE ... watching" once its connection is in IDLE: from then on no new mail
goes unnoticed (``sequencer -v run`` shows it; the tests wait for it).

Every job here opens and commits its own transactions; none takes a session
from its caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.sequences import Sequence
from sequencer.db.session import Database

log = logging.getLogger(__name__)


@dataclass
class HousekeepingResult:
    polled: int = 0
    resumed: int = 0
    digest_sent: bool = False
    errors: list[str] = field(default_factory=list)


def _run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion even when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def resume_expired_pauses(
    db: Database, config: Config, sequences: Mapping[str, Sequence], now: datetime
) -> int:
    """Paused enrollments whose until-date has come go back to active (actor: scheduler).

    Each resume commits on its own, so one bad row never undoes the others."""
    from sequencer.db.store import expired_pauses
    from sequencer.people import state_changes

    resumed = 0
    with db.session() as s:
        due = expired_pauses(s, now)
    for email, sequence_id in due:
        try:
            resumed += len(
                state_changes.resume(
                    db, config, sequences, email=email, sequence_id=sequence_id,
                    reason="pause ended", now=now, actor="scheduler",
                )
            )
        except Exception as exc:  # noqa: BLE001 - one bad row must not block the others
            log.warning("could not resume %s in %s: %s", email, sequence_id, exc)
    return resumed


def housekeeping(
    db: Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    clock: Clock,
    *,
    worker_id: str,
    poll: bool = True,
) -> HousekeepingResult:
    """Everything that must happen before a tick sends; see the module docstring."""
    result = HousekeepingResult()
    now = clock.now()
    if poll:
        from sequencer.inbound import poll as poller

        for outcome in poller.poll_all(db, config, sequences, clock):
            if outcome.ok:
                result.polled += 1
            else:
                result.errors.append(f"poll {outcome.mailbox}: {outcome.error}")
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("resume", lambda: resume_expired_pauses(db, config, sequences, now)),
        ("digest", lambda: _digest(db, config, clock, worker_id)),
    ]
    tasks_job = _tasks_job(db, config, sequences, clock)
    if tasks_job is not None:
        jobs.append(("tasks", tasks_job))
    for name, job in jobs:
        try:
            value = job()
        except Exception as exc:  # noqa: BLE001 - housekeeping never stops the sending
            log.warning("%s job failed: %s", name, exc)
            result.errors.append(f"{name}: {exc}")
            continue
        if name == "resume":
            result.resumed = int(value)
        elif name == "digest":
            result.digest_sent = bool(value)
    return result


def _digest(db: Database, config: Config, clock: Clock, worker_id: str) -> bool:
    if not config.reporting.managers:
        return False  # no one to send it to: a tick need not import the reporting stack
    from sequencer.reporting import digest

    return bool(_run_coroutine(digest.maybe_send_daily_digest(db, config, clock, worker=worker_id)))


def _tasks_job(
    db: Database, config: Config, sequences: Mapping[str, Sequence], clock: Clock
) -> Callable[[], Any] | None:
    """Rep-task reminders and escalations, once that module exists in this installation."""
    try:
        from sequencer.people import task_jobs
    except ImportError:
        return None
    run_due_jobs = getattr(task_jobs, "run_due_jobs", None)
    if run_due_jobs is None:
        return None
    return lambda: run_due_jobs(db, config, clock)


class IdleWatchers:
    """One IMAP IDLE thread per mailbox; each calls ``wake()`` when new mail arrives.

    ``ready`` is set once every watcher's connection is in IDLE.
    """

    def __init__(
        self, mailboxes: list[MailboxConfig], wake: Callable[[], None], *, timeout: float = 300.0
    ) -> None:
        self.mailboxes = [m for m in mailboxes if m.imap is not None]
        self.wake = wake
        self.timeout = timeout
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._idling: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        if not self.mailboxes:
            self.ready.set()
        for mailbox in self.mailboxes:
            t = threading.Thread(
                target=self._watch, args=(mailbox,), name=f"idle-{mailbox.name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()

    def _idling_now(self, mailbox: MailboxConfig) -> None:
        """Called once a connection's first IDLE is accepted: say so, once per connection."""
        with self._lock:
            if mailbox.name in self._idling:
                return
            self._idling.add(mailbox.name)
            everyone = len(self._idling) == len(self.mailboxes)
        assert mailbox.imap is not None
        log.info("IDLE on mailbox %s: watching %s", mailbox.name, mailbox.imap.folders.inbox)
        if everyone:
            self.ready.set()

    def _watch(self, mailbox: MailboxConfig) -> None:
        from sequencer.mail.imap import ImapConnection

        while not self._stop.is_set():
            try:
                with ImapConnection(mailbox) as connection:
                    while not self._stop.is_set():
                        # short IDLE rounds so a stop request is seen within seconds
                        arrived = connection.wait_for_mail(
                            min(self.timeout, 20.0), on_idle=lambda: self._idling_now(mailbox)
                        )
                        if arrived:
                            log.info("new mail in %s: waking the worker", mailbox.name)
                            self.wake()
            except Exception as exc:  # noqa: BLE001 - keep watching; the poll still runs each tick
                log.warning("IDLE on %s failed (%s); retrying in 30 s", mailbox.name, exc)
            with self._lock:
                self._idling.discard(mailbox.name)
            self._stop.wait(30.0)
