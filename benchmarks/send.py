"""Sending engine: throughput against a bare aiosmtplib loop, and claim cost O(due).

Rows:
- ``engine send rate``: N due touches through the whole engine (claim, render, compose,
  mark sending, SMTP, record; SQLite) into a local aiosmtpd sink that drops every
  message, against the same N messages pre-rendered and sent by a bare aiosmtplib loop
  at the same concurrency over the same sink. Target: engine >= 50% of the bare loop.
- ``engine with Sent copies``: the same, with the mailbox's IMAP on a local Dovecot so
  every touch's copy is filed in Sent (queued, then MULTIAPPENDed in the background;
  the tick returns once they are filed, and the benchmark checks that Sent holds N),
  against the engine without copies. Target: >= 50% of the rate without copies.
- ``claim 1,000 due``: one selection + claim transaction with ``--stored`` enrollments
  in the database (default 1,000,000), against the same with 10,000 stored. Target:
  within 2x (ratio = small / large time >= 0.5), i.e. O(due), not O(stored).

Run alone: ``python benchmarks/send.py [--quick] [--n 5000] [--stored 1000000] [--concurrency 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import Row  # noqa: E402
from sequencer.db.session import Database  # noqa: E402

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

SEQUENCE = """\
name: Benchmark
mailbox: bench
list_unsubscribe: true
send_window: {days: all, start: "00:00", end: "24:00"}
steps:
  - wait: 0
    template: first
    subject: "Your quote for {{ company }}"
  - wait: 2 business days
    template: second
"""
TEMPLATE = (
    "Hi {{ first_name }},\n\nhere is the quote for {{ company }}, as promised.\n\n{{ signature }}\n"
)


def _serve_sink(port: int, ready: Any) -> None:
    import time as _time

    from aiosmtpd.controller import Controller

    class Drop:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 2.0.0 dropped"

    controller = Controller(Drop(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        _time.sleep(3600)


class Sink:
    """aiosmtpd on 127.0.0.1 that accepts and drops every message, in its own process.

    A real server never runs inside the sender's process; a thread here would also
    compete with the code under test for the GIL.
    """

    def __init__(self) -> None:
        import multiprocessing

        from tests.servers import free_port

        self.port = free_port()
        ctx = multiprocessing.get_context("spawn")
        self._ready = ctx.Event()
        self._proc = ctx.Process(target=_serve_sink, args=(self.port, self._ready), daemon=True)

    def __enter__(self) -> Sink:
        self._proc.start()
        if not self._ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")
        from tests.servers import wait_port

        wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(10)


class Imap:
    """A local Dovecot (the tests' configuration) that the copies are filed into."""

    def __enter__(self) -> Imap:
        import os

        from tests.servers import Dovecot, free_port

        self.root = Path(tempfile.mkdtemp(prefix="seq-bench-imap-"))
        self.root.chmod(0o755)  # Dovecot's processes run as nobody
        self.server = Dovecot.start(self.root / "dovecot", free_port())
        os.environ[PASSWORD_ENV] = _password()
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def count_sent(self, user: str) -> int:
        from imapclient import IMAPClient

        with IMAPClient("127.0.0.1", port=self.server.imap_port, ssl=False, timeout=30) as c:
            c.login(user, _password())
            return int(c.select_folder("Sent", readonly=True)[b"EXISTS"])


PASSWORD_ENV = "SEQ_BENCH_IMAP_PASSWORD"


def _password() -> str:
    from tests.servers import PASSWORD

    return PASSWORD


def _world(
    root: Path,
    port: int,
    db_url: str,
    concurrency: int,
    batch: int,
    imap_port: int | None = None,
    address: str = "rep@bench.example",
) -> tuple[Any, Any, Any, Any]:
    import yaml

    from sequencer.core.sequence_files import load_sequences
    from sequencer.core.templates import TemplateStore
    from sequencer.project import load_config

    (root / "sequences").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "sequences" / "bench.yaml").write_text(SEQUENCE)
    (root / "templates" / "first.txt").write_text(TEMPLATE)
    (root / "templates" / "second.txt").write_text("Hi {{ first_name }}, any questions?\n")
    config_path = root / "sequencer.yaml"
    mailbox: dict[str, Any] = {
        "name": "bench",
        "address": address,
        "display_name": "Sam Rivera",
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        "daily_limit": 10_000_000,
        "per_minute": 10_000_000,
        "min_spacing_seconds": 0,
        "max_spacing_seconds": 0,
        "concurrency": concurrency,
    }
    if imap_port is not None:
        mailbox["imap"] = {
            "host": "127.0.0.1",
            "port": imap_port,
            "security": "none",
            "password_env": PASSWORD_ENV,
        }
    config_path.write_text(
        yaml.safe_dump(
            {
                "database": db_url,
                "mailboxes": [mailbox],
                "sending": {"batch_size": batch, "require_poll_before_followup": False},
            }
        )
    )
    config = load_config(config_path)
    store = TemplateStore(config.templates_path)
    sequences = load_sequences(config.sequences_path, store, ["bench"])
    return config, store, sequences, config_path


def _fill(db: Database, *, due: int, stored: int, chunk: int = 50_000) -> None:
    """``due`` enrollments due now; ``stored - due`` others (half scheduled later, half finished)."""
    from sqlalchemy import insert

    from sequencer.db.models import Enrollment, Prospect

    with db.engine.begin() as conn:
        done = 0
        while done < stored:
            n = min(chunk, stored - done)
            conn.execute(
                insert(Prospect),
                [
                    {
                        "id": done + i + 1,
                        "email": f"p{done + i}@prospect.example",
                        "display_email": f"p{done + i}@prospect.example",
                        "name": f"Dana {done + i}",
                        "company": f"Co {done + i}",
                        "owner": "bench",
                        "timezone": "UTC",
                        "fields": {},
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in range(n)
                ],
            )
            rows = []
            for i in range(n):
                k = done + i
                is_due = k < due
                finished = not is_due and k % 2 == 0
                rows.append(
                    {
                        "id": k + 1,
                        "prospect_id": k + 1,
                        "sequence_id": "bench",
                        "mailbox": "bench",
                        "owner": "bench",
                        "status": "completed" if finished else "active",
                        "status_reason": "x",
                        "status_changed_at": NOW,
                        "steps_done": 0,
                        "total_steps": 2,
                        "next_send_at": None
                        if finished
                        else (NOW if is_due else NOW + timedelta(days=1 + k % 30)),
                        "token": secrets.token_urlsafe(12),
                        "thread_refs": [],
                        "enrolled_at": NOW,
                        "source": "bench",
                        "retry_count": 0,
                    }
                )
            conn.execute(insert(Enrollment), rows)
            done += n


def engine_rate(
    n: int, concurrency: int, port: int, imap: Imap | None = None
) -> tuple[float, list[bytes]]:
    """Touches/s through the engine; with ``imap``, each copy filed in that server's Sent."""
    from sequencer.clock import ManualClock
    from sequencer.db.session import Database
    from sequencer.outbound.engine import Engine

    address = f"rep-{secrets.token_hex(5)}@bench.example"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, store, sequences, _ = _world(
            root,
            port,
            f"sqlite:///{root / 'bench.db'}",
            concurrency,
            500,
            imap_port=imap.server.imap_port if imap else None,
            address=address,
        )
        db = Database(config.database_url)
        _fill(db, due=n, stored=n)
        clock = ManualClock(NOW)
        captured: list[bytes] = []

        async def go() -> float:
            engine = Engine(db, config, sequences, store, clock, worker_id="bench")
            sent = 0
            started = time.perf_counter()
            try:
                while sent < n:
                    result = await engine.tick()
                    if not result.sent:
                        raise RuntimeError(f"engine stalled at {sent}/{n}: {result}")
                    sent += result.sent
            finally:
                await engine.aclose()
            return time.perf_counter() - started

        seconds = asyncio.run(go())
        if imap is not None and (filed := imap.count_sent(address)) != n:
            raise RuntimeError(f"{filed} copies in Sent for {n} touches")
        # The bare loop sends the very messages the engine built (rendered again, untimed).
        from sqlalchemy import select

        from sequencer.db.models import Enrollment, Prospect

        with db.session() as s:
            for e, p in s.execute(select(Enrollment, Prospect).join(Prospect).limit(n)):
                captured.append(
                    _render_like_engine(
                        engine_config=config, store=store, sequences=sequences, e=e, p=p
                    )
                )
        db.dispose()
    return n / seconds, captured


def _render_like_engine(*, engine_config: Any, store: Any, sequences: Any, e: Any, p: Any) -> bytes:
    from sequencer.outbound.touch import render_touch
    from sequencer.project import business_calendar

    e.steps_done = 0
    prepared = render_touch(
        engine_config,
        store,
        business_calendar(engine_config),
        engine_config.mailboxes[0],
        sequences["bench"],
        1,
        e,
        p,
        f"<sq.{secrets.token_hex(8)}@bench.example>",
        NOW,
        "UTC",
    )
    return prepared.raw


def bare_rate(messages: list[bytes], concurrency: int, port: int) -> float:
    import aiosmtplib

    async def go() -> float:
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        for i, raw in enumerate(messages):
            queue.put_nowait((i, raw))

        async def worker() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            try:
                while True:
                    try:
                        i, raw = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    await client.sendmail("rep@bench.example", [f"p{i}@prospect.example"], raw)
            finally:
                await client.quit()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started

    return len(messages) / asyncio.run(go())


def claim_seconds(stored: int, due: int = 1000, repeat: int = 3) -> float:
    """Best of ``repeat`` fresh claims of ``due`` touches with ``stored`` enrollments stored."""
    from sequencer.db import outbox
    from sequencer.db.session import Database

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Database(f"sqlite:///{root / 'claim.db'}")
        _fill(db, due=due, stored=stored)
        best = float("inf")
        for attempt in range(repeat):
            worker = f"w{attempt}"
            started = time.perf_counter()
            with db.session() as s:
                claimed = outbox.claim_due(
                    s,
                    now=NOW,
                    worker=worker,
                    limit=due,
                    lease_seconds=300,
                    mailbox="bench",
                    decide=lambda e, p, mid: outbox.SendTouch(
                        to_addr=p.email, subject="Your quote"
                    ),
                    new_message_id=lambda e: f"<sq.{secrets.token_hex(8)}@bench.example>",
                )
                assert len(claimed.claims) == due, len(claimed.claims)
                s.rollback()  # measure the same claim again on the same data
            best = min(best, time.perf_counter() - started)
        db.dispose()
    return best


def main(quick: bool = False) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--n", type=int, default=None, help="touches to send (default 5000; quick 1000)"
    )
    parser.add_argument(
        "--stored",
        type=int,
        default=None,
        help="enrollments stored (default 1,000,000; quick 100,000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=2, help="SMTP connections (the mailbox default is 2)"
    )
    args = parser.parse_args()
    quick = quick or args.quick
    n = args.n or (1000 if quick else 5000)
    stored = args.stored or (100_000 if quick else 1_000_000)
    rows: list[Row] = []

    with Sink() as sink, Imap() as imap:
        ours, messages = engine_rate(n, args.concurrency, sink.port)
        bare = bare_rate(messages, args.concurrency, sink.port)
        copied, _ = engine_rate(n, args.concurrency, sink.port, imap)
    print(
        f"engine: {ours:,.0f} touches/s without Sent copies, {copied:,.0f} with; bare aiosmtplib"
        f" loop: {bare:,.0f} messages/s (N={n}, concurrency {args.concurrency})"
    )
    print(
        f"ratios: with copies / without {copied / ours:.2f}x; without / bare {ours / bare:.2f}x;"
        f" with copies / bare {copied / bare:.2f}x"
    )
    ratio = ours / bare
    rows.append(
        Row(
            f"engine send rate, N={n:,}",
            round(ours, 1),
            round(bare, 1),
            round(ratio, 2),
            ">= 0.5x",
            "msg/s",
            ratio >= 0.5,
        )
    )
    ratio = copied / ours
    rows.append(
        Row(
            f"engine with Sent copies (Dovecot) vs without, N={n:,}",
            round(copied, 1),
            round(ours, 1),
            round(ratio, 2),
            ">= 0.5x",
            "msg/s",
            ratio >= 0.5,
            note=f"with copies / bare aiosmtplib {copied / bare:.2f}x",
        )
    )

    small = claim_seconds(10_000)
    large = claim_seconds(stored)
    print(
        f"claim 1,000 due: {large * 1000:.1f} ms with {stored:,} stored, {small * 1000:.1f} ms with 10,000 stored"
    )
    ratio = small / large
    rows.append(
        Row(
            f"claim 1,000 due, {stored:,} vs 10,000 stored",
            round(large * 1000, 1),
            round(small * 1000, 1),
            round(ratio, 2),
            ">= 0.5x (within 2x)",
            "ms",
            ratio >= 0.5,
        )
    )
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
