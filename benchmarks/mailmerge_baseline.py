"""Our engine vs the ``mailmerge`` tool (PyPI) sending the same messages to the same sink.

    .venv/bin/python -m benchmarks.mailmerge_baseline [--quick]

mailmerge is what a rep might pick for a one-off merge: it renders a Jinja
template per CSV row and opens a new SMTP connection for every message. Both
runs send the same N (2,000; 300 with --quick) personalised messages to the
same local discard sink, an aiosmtpd server in its own process that counts what
it accepts, so neither sender shares a CPU-bound interpreter with it:

* baseline: ``mailmerge --no-dry-run --no-limit`` over the CSV, wall
  time minus its interpreter start-up (measured separately, same run);
* ours: the prospects are imported first (not timed), then ``send.tick`` with
  spacing 0 and high limits sends every due touch (claim, render, SMTP over
  reused connections, record in SQLite), timed from the first claim to the
  last commit.

Target (issue 8): our rate >= 2.5x mailmerge's.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import Row

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, inside the send window
TARGET = 2.5
FULL, QUICK = 2000, 300
# Its console script: `python -m mailmerge` runs main() before the module is fully defined.
MAILMERGE = str(Path(sys.executable).with_name("mailmerge"))

TEMPLATE_BODY = (
    "Thanks again for your time. Your quote {q} for {c} is ready.\n\n"
    "If anything looks off, just reply and I'll send a revised version the same day.\n\n"
    "Best,\nSam Rivera\n"
)


# -- the sink: its own process ------------------------------------------------------------


def run_sink() -> None:
    """Accept and discard mail on a free port; print the port, then answer 'stats' on stdin."""
    import asyncio

    from aiosmtpd.smtp import SMTP

    counts = {"messages": 0, "connections": 0}

    class Counting(SMTP):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            counts["connections"] += 1
            super().connection_made(transport)  # type: ignore[arg-type]

    class Discard:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
            counts["messages"] += 1
            return "250 2.0.0 OK discarded"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Counting(Discard(), hostname="sink.bench", loop=loop), "127.0.0.1", 0
        )
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        done = asyncio.Event()

        def read_commands() -> None:
            for line in sys.stdin:
                if line.strip() == "stats":
                    snapshot = dict(counts)
                    print(f"STATS {snapshot['messages']} {snapshot['connections']}", flush=True)
                elif line.strip() == "reset":
                    counts.update(messages=0, connections=0)
                    print("OK", flush=True)
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=read_commands, daemon=True).start()
        await done.wait()
        server.close()

    asyncio.run(serve())


class Sink:
    """The sink process, driven over its stdin/stdout."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.mailmerge_baseline", "--sink"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the sink did not start: {line!r}")
        self.port = int(line.split()[1])

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stats(self) -> tuple[int, int]:
        _, messages, connections = self._ask("stats").split()
        return int(messages), int(connections)

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(10)


# -- the shared input -----------------------------------------------------------------------


def write_inputs(root: Path, n: int, port: int) -> None:
    """One CSV for both tools, mailmerge's files, and our config, sequence and template."""
    with (root / "leads.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "name", "company", "quote_number"])
        for i in range(n):
            w.writerow(
                [
                    f"lead{i}@company{i % 97}.example",
                    f"Lead{i} Person",
                    f"Company {i % 97}",
                    f"Q-{i}",
                ]
            )
    body = TEMPLATE_BODY.format(q="{{quote_number}}", c="{{company}}")
    (root / "mailmerge_template.txt").write_text(
        "TO: {{email}}\nSUBJECT: Your quote {{quote_number}} for {{company}}\n"
        "FROM: Sam Rivera <sam@bench.example>\n\nHi {{name.split()[0]}},\n\n" + body
    )
    (root / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nratelimit = 0\n"
    )
    (root / "sequences").mkdir()
    (root / "templates" / "bench").mkdir(parents=True)
    (root / "templates" / "bench" / "quote.txt").write_text(
        "Hi {{ first_name }},\n\n" + TEMPLATE_BODY.format(q="{{ quote_number }}", c="{{ company }}")
    )
    (root / "sequences" / "bench.yaml").write_text(
        "name: Bench\nlist_unsubscribe: false\nsend_window: {days: [mon, tue, wed, thu, fri, sat, sun], start: '00:00', end: '23:59'}\n"
        "steps:\n  - wait: 0\n    template: bench/quote\n"
        '    subject: "Your quote {{ quote_number }} for {{ company }}"\n'
    )
    (root / "sequencer.yaml").write_text(
        "database: sqlite:///bench.db\ntimezone: UTC\n"
        "mailboxes:\n  - name: sam\n    address: sam@bench.example\n    display_name: Sam Rivera\n"
        f"    smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n"
        "    daily_limit: 1000000\n    per_minute: 1000000\n"
        "    min_spacing_seconds: 0\n    max_spacing_seconds: 0\n"
        "    send_window: {days: [mon, tue, wed, thu, fri, sat, sun], start: '00:00', end: '23:59'}\n"
        "    concurrency: 10\n"
        "sending: {batch_size: 500}\n"
    )


# -- the two senders ------------------------------------------------------------------------


def mailmerge_seconds(root: Path) -> tuple[float, float]:
    """(wall time of the merge, the interpreter + mailmerge import start-up in it)."""
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([MAILMERGE, "--version"], check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    startup = sorted(samples)[1]  # the median: start-up is noisy on a busy machine
    cmd = [
        MAILMERGE, "--no-dry-run", "--no-limit",
        "--template", "mailmerge_template.txt", "--database", "leads.csv",
        "--config", "mailmerge_server.conf", "--output-format", "raw",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=root, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if done.returncode != 0:
        raise RuntimeError(f"mailmerge failed: {done.stdout.decode()[-2000:]}")
    return time.perf_counter() - started, startup


def engine_seconds(root: Path) -> tuple[float, int]:
    """Import (untimed), then tick until nothing is due; (seconds, touches sent)."""
    from sequencer.clock import ManualClock
    from sequencer.db.session import Database
    from sequencer.outbound import runner as send
    from sequencer.people.importing import import_csv
    from sequencer.project import load_config, load_project

    config = load_config(root / "sequencer.yaml")
    project = load_project(config)
    db = Database(config.database_url)
    try:
        import_csv(db, config, project.sequences, root / "leads.csv", sequence_id="bench", now=NOW)
        clock = ManualClock(NOW)
        sent = 0
        started = time.perf_counter()
        for _ in range(100):
            result = send.tick(
                db, config, project.sequences, project.templates, clock, worker_id="bench"
            )
            sent += result.sent
            if result.sent == 0:
                break
        return time.perf_counter() - started, sent
    finally:
        db.dispose()


def main(quick: bool = False) -> list[Row]:
    n = QUICK if quick else FULL
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="seq-bench-mm-") as tmp:
            root = Path(tmp)
            write_inputs(root, n, sink.port)

            wall, startup = mailmerge_seconds(root)
            mm_messages, mm_connections = sink.stats()
            sink.reset()
            ours, sent = engine_seconds(root)
            our_messages, our_connections = sink.stats()
    finally:
        sink.close()
    if mm_messages != n or our_messages != n or sent != n:
        raise RuntimeError(
            f"the sink got {mm_messages} from mailmerge and {our_messages} from us "
            f"(engine reported {sent}); expected {n} each"
        )
    mm_rate = n / max(wall - startup, 1e-9)
    our_rate = n / ours
    ratio = our_rate / mm_rate
    print(f"{n:,} messages to a discard sink (own process)")
    print(
        f"mailmerge: {mm_rate:8,.0f} msg/s  {wall:6.2f} s wall, {startup:.2f} s of it start-up, "
        f"{mm_connections:,} SMTP connections"
    )
    print(f"sequencer: {our_rate:8,.0f} msg/s  {ours:6.2f} s, {our_connections:,} SMTP connections")
    print(f"ratio: {ratio:.2f}x (target >= {TARGET}x)")
    return [
        Row(
            what=f"send {n:,} personalised messages vs mailmerge (PyPI)",
            ours=our_rate,
            baseline=mm_rate,
            ratio=ratio,
            target=f">= {TARGET}x",
            unit="msg/s",
            met=ratio >= TARGET,
            note=f"SMTP connections: ours {our_connections}, mailmerge {mm_connections}",
        )
    ]


if __name__ == "__main__":
    if "--sink" in sys.argv:
        run_sink()
    else:
        for row in main(quick="--quick" in sys.argv):
            print(row)
