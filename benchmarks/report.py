"""The manager report over 1,000,000 enrollments and 3,000,000 events on SQLite.

    .venv/bin/python benchmarks/report.py [--enrollments 1000000] [--repeat 3]

Generates a database once (INSERT ... SELECT over a recursive CTE, so
generation takes about a minute, not an hour) and caches it under the temp dir,
keyed by the generator version, the size and the schema head, so reruns start
measuring at once. The history is deterministic (no random(): values are
derived from the row number) and shaped like a year of a sales team: 8
sequences of 3-6 touches, 25 reps, 15% active, 5% paused, 10% replied, 50%
completed, every other state, A/B variants on the first touch of 2 sequences, ~3.7 touches
(messages) and 3 events per enrollment.

Measures ``build_report`` end to end (every section, every query), best of
``--repeat`` warm runs, against the same report over 10,000 enrollments as the
baseline, so the ratio shows how it scales. Target (issue 7): < 3 s at 1M.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import Row  # noqa: E402

GENERATOR_VERSION = 4
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW_SQL = "2026-03-02 09:00:00"
SEQUENCES = 8
REPS = 25
TARGET_SECONDS = 3.0


def _ts(expr: str) -> str:
    """SQL for NOW minus ``expr`` seconds, in the stored text format."""
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', '{NOW_SQL}', '-' || ({expr}) || ' seconds')"


def _ts_plus(expr: str) -> str:
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', '{NOW_SQL}', '+' || ({expr}) || ' seconds')"


def generate(path: Path, n: int) -> None:
    """Fill a migrated, empty database with ``n`` enrollments and their history."""
    from sequencer.db import counters
    from sequencer.db.session import Database

    database = Database(f"sqlite:///{path}")  # schema via the migrations
    with database.engine.begin() as conn:
        # Bulk load without the per-row counter triggers, then fill the counters in one
        # pass (what the migration does for an existing database) and put them back.
        counters.drop_triggers(conn)
    database.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")  # a generated file: no rollback journal, no 1 GB WAL
    con.execute("PRAGMA synchronous=OFF")
    prospects = max(1, n * 9 // 10)
    cte = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})"
    with con:
        con.executemany(
            "INSERT INTO sequences (id, name, total_steps, definition, digest, loaded_at) VALUES (?, ?, ?, '{}', 'x', ?)",
            [(f"seq{k}", f"Sequence {k}", 3 + k % 4, NOW_SQL) for k in range(SEQUENCES)],
        )
        con.execute(
            cte.format(count=prospects)
            + f""" INSERT INTO prospects (id, email, display_email, name, company, owner, deal_value, fields,
                   created_at, updated_at)
            SELECT i, 'p' || i || '@bench.example', 'p' || i || '@bench.example', 'Prospect ' || i,
                   'Company ' || (i % 5000), 'rep' || (i % {REPS}),
                   CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 50) * 1000 + 500 END, '{{}}',
                   {_ts("(i % 400) * 86400")}, {_ts("(i % 400) * 86400")}
            FROM n"""
        )
        # r: the enrollment's fate (per mille); steps: its sequence's length; age: seconds since enrolled
        con.execute(
            cte.format(count=n)
            + f""", e AS (
                SELECT i, (i * 7919) % 1000 AS r, 3 + seq % 4 AS steps,
                       (i % 360) * 86400 + (i % 86400) AS age, seq
                FROM (
                    -- a prospect's second enrollment (i > prospects) is in the next sequence:
                    -- at most one open enrollment per prospect and sequence, as the schema demands
                    SELECT i, CASE WHEN i <= {prospects} THEN i % {SEQUENCES}
                                   ELSE ((i - {prospects}) % {SEQUENCES} + 1) % {SEQUENCES} END AS seq
                    FROM n))
            INSERT INTO enrollments (id, prospect_id, sequence_id, mailbox, owner, status, status_reason,
                status_changed_at, steps_done, total_steps, next_send_at, wait_reason, retry_count, token,
                thread_refs, enrolled_at, last_touch_at, finished_at, replied_at, replied_step, answered_at)
            SELECT i, ((i - 1) % {prospects}) + 1, 'seq' || seq, 'rep' || (i % {REPS}),
                'rep' || (i % {REPS}), status,
                CASE WHEN status = 'active' THEN 'enrolled' ELSE status || ' (bench)' END,
                {_ts("age / 2")}, steps_done, steps,
                CASE WHEN status = 'active' THEN {_ts_plus("(i % 240 - 40) * 3600")} END,
                CASE WHEN status = 'active' AND i % 240 < 40 THEN
                    CASE i % 3 WHEN 0 THEN 'outside send window' WHEN 1 THEN 'mailbox paused' ELSE 'daily limit' END END,
                0, 'tok' || i, '[]', {_ts("age")},
                CASE WHEN steps_done > 0 THEN {_ts("age / 3")} END,
                CASE WHEN status NOT IN ('active', 'paused') THEN {_ts("age / 2")} END,
                CASE WHEN status = 'replied' THEN {_ts("age / 3 - (i % 72) * 3600")} END,
                CASE WHEN status = 'replied' THEN steps_done END,
                CASE WHEN status = 'replied' AND i % 5 <> 0 THEN {_ts("age / 3 - (i % 72) * 3600 - (i % 20) * 3600")} END
            FROM (
                SELECT i, r, steps, age, seq,
                    CASE WHEN r < 150 THEN 'active' WHEN r < 200 THEN 'paused' WHEN r < 300 THEN 'replied'
                         WHEN r < 330 THEN 'bounced' WHEN r < 350 THEN 'unsubscribed' WHEN r < 850 THEN 'completed'
                         WHEN r < 900 THEN 'stopped' WHEN r < 910 THEN 'failed' WHEN r < 920 THEN 'unenrolled'
                         ELSE 'completed' END AS status,
                    CASE WHEN r < 300 OR r >= 850 THEN 1 + i % steps ELSE steps END AS steps_done
                FROM e)"""
        )
        # deal stages as the transitions would leave them: a reply moves the prospect to
        # replied, a touch to contacted; some went on to meeting, proposal, won or lost
        con.execute(
            f"""UPDATE prospects SET
                stage = CASE WHEN id % 50 = 0 THEN 'won' WHEN id % 50 = 1 THEN 'lost'
                             WHEN id % 25 = 2 THEN 'proposal' WHEN id % 20 = 3 THEN 'meeting'
                             WHEN EXISTS (SELECT 1 FROM enrollments e WHERE e.prospect_id = prospects.id
                                          AND e.replied_at IS NOT NULL) THEN 'replied'
                             WHEN id % 10 < 9 THEN 'contacted' ELSE 'new' END,
                stage_since = {_ts("(id % 60) * 86400 + (id % 86400)")}"""
        )
        # one message per touch done; variants A/B on the first touch of half the sequences
        con.execute(
            """WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < 6)
            INSERT INTO messages (enrollment_id, step, message_id, mailbox, to_addr, subject, variant, status,
                claimed_at, sent_at, attempts)
            SELECT e.id, s.k, '<' || e.id || '.' || s.k || '@bench>', e.mailbox, 'p@bench.example', 'Quote',
                CASE WHEN s.k = 1 AND e.id % 8 < 2 THEN CASE WHEN e.id % 16 < 8 THEN 'A' ELSE 'B' END END,
                'sent', e.enrolled_at, e.enrolled_at, 1
            FROM enrollments e JOIN s ON s.k <= e.steps_done"""
        )
        # three events per enrollment: enrolled, a touch sent, and the latest state change
        con.execute(
            """WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 2)
            INSERT INTO events (at, enrollment_id, prospect_id, kind, actor, reason, step, data)
            SELECT CASE k.j WHEN 0 THEN e.enrolled_at WHEN 1 THEN COALESCE(e.last_touch_at, e.enrolled_at)
                            ELSE e.status_changed_at END,
                   e.id, e.prospect_id,
                   CASE k.j WHEN 0 THEN 'enrolled' WHEN 1 THEN 'sent' ELSE e.status END,
                   'bench', NULL, CASE k.j WHEN 1 THEN 1 END, '{}'
            FROM enrollments e CROSS JOIN k"""
        )
    con.close()
    database = Database(f"sqlite:///{path}")
    with database.engine.begin() as conn:
        counters.rebuild(conn)
        counters.create_triggers(conn)
    database.dispose()
    con = sqlite3.connect(path)
    con.execute("ANALYZE")
    con.close()


def schema_digest() -> str:
    """The migrations' and the generator's text: a revision id alone is reused across branches
    (0020 once followed 0015), so a cache built from another chain would be measured."""
    import hashlib
    import inspect

    from sequencer.db.session import MIGRATIONS

    h = hashlib.sha256(inspect.getsource(generate).encode())
    for f in sorted((Path(MIGRATIONS) / "versions").glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:10]


def cached_database(n: int) -> Path:
    from sequencer.db.session import head_revision

    root = Path(tempfile.gettempdir()) / "sequencer-bench"
    root.mkdir(exist_ok=True)
    path = root / f"report-v{GENERATOR_VERSION}-{head_revision()}-{schema_digest()}-{n}.db"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        for stale in root.glob(partial.name + "*"):
            stale.unlink()
        generate(partial, n)
        partial.rename(path)
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def measure(path: Path, repeat: int) -> tuple[float, float, dict[str, int]]:
    """(first run, best of ``repeat`` warm runs) in seconds, and the table sizes."""
    from sequencer.config import Config
    from sequencer.db.session import Database
    from sequencer.reporting.report import build_report

    db = Database(f"sqlite:///{path}")
    config = Config()
    try:
        times = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            report = build_report(db, config, now=NOW)
            times.append(time.perf_counter() - started)
        with sqlite3.connect(path) as con:
            sizes = {
                t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 (fixed names)
                for t in ("enrollments", "events", "messages", "prospects")
            }
        assert report.totals.enrolled + report.totals.unenrolled == sizes["enrollments"]
        return times[0], min(times[1:]), sizes
    finally:
        db.dispose()


def main(quick: bool = False) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=100_000 if quick else 1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base_first, base_best, base_sizes = measure(cached_database(args.baseline), args.repeat)
    first, best, sizes = measure(cached_database(args.enrollments), args.repeat)
    for label, t0, t, s in (("baseline", base_first, base_best, base_sizes), ("report", first, best, sizes)):
        print(f"{label:8}: {s['enrollments']:>9,} enrollments {s['events']:>9,} events {s['messages']:>9,} messages"
              f"  first {t0:6.3f} s  best {t:6.3f} s", flush=True)
    print(f"scaling: {sizes['enrollments'] / base_sizes['enrollments']:.0f}x the rows took {best / base_best:.1f}x the time")
    met = best < TARGET_SECONDS
    return [
        Row(
            what=f"report over {sizes['enrollments']:,} enrollments / {sizes['events']:,} events (SQLite)",
            ours=best, baseline=base_best, ratio=base_best / best, target=f"< {TARGET_SECONDS:.0f} s",
            unit="s", met=met,
            note=f"baseline = {base_sizes['enrollments']:,} enrollments; first (cold) run {first:.2f} s",
        )
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
