"""How the engine is driven: one tick for cron (``sequencer tick``), the long-running
worker (``sequencer run``), and the stop signals both honour.

Each logs one JSON line per tick (``{"event": "tick", ...}``) for the operator's logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time as monotonic_time
from collections.abc import Callable, Mapping

from sequencer.clock import Clock
from sequencer.config import Config
from sequencer.core.sequences import Sequence
from sequencer.core.templates import TemplateStore
from sequencer.db.session import Database
from sequencer.outbound.engine import Engine, PollHook
from sequencer.outbound.result import TickResult

# The send path logs under one name, so `sequencer run -v` raises one logger.
log = logging.getLogger("sequencer.outbound.engine")


def tick(
    db: Database,
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


def mailbox_events(result: TickResult, worker_id: str) -> list[dict[str, object]]:
    """``run``'s structured log of what ``tick`` prints and exits 3 for: one event per
    paused or unreachable mailbox, with why and how many due touches were not attempted."""
    events: list[dict[str, object]] = []
    for state, stopped in (("paused", result.paused), ("unreachable", result.unreachable)):
        for name, reason in sorted(stopped.items()):
            events.append(
                {
                    "event": f"mailbox_{state}",
                    "worker": worker_id,
                    "mailbox": name,
                    "state": state,
                    "reason": reason,
                    "not_attempted": result.not_attempted.get(name, 0),
                }
            )
    return events


def run(
    db: Database,
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
                for event in mailbox_events(result, worker_id):
                    log.warning("%s", json.dumps(event))
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


__all__ = ["TickResult", "mailbox_events", "run", "tick"]
