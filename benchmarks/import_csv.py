"""CSV import throughput and memory, against a bare-insert baseline measured in the same run.

    .venv/bin/python benchmarks/import_csv.py [--rows 100000] [--bad-percent 1]

Writes a CSV of ``--rows`` prospects (1% bad rows by default: invalid addresses,
in-file duplicates, bad time zones) into a temp dir, then runs, each in its own
child process so peak RSS is that run's alone:

* baseline: ``csv.reader`` over the file + a bare SQLAlchemy Core bulk INSERT of the
  rows into ``prospects`` (no validation, no enrollment, no events), batches of 500;
* import: ``sequencer.people.importing.import_csv`` into a fresh SQLite database (validation,
  suppression and guard lookups, prospects + enrollments + events, rejects file).

Prints rows/s and peak RSS of each and the ratio. Targets (issue 4): import >= 5,000
rows/s and peak RSS < 250 MB for 100,000 rows on SQLite.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import Row  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HEADER = ["Email", "First Name", "Last Name", "Company", "Timezone", "Deal Value", "Quote Number"]


def write_csv(path: Path, rows: int, bad_percent: float, seed: int = 7) -> int:
    """The benchmark file; returns how many rows are bad."""
    rng = random.Random(seed)
    bad_every = int(100 / bad_percent) if bad_percent else 0
    bad = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        for i in range(rows):
            email = f"lead{i}@company{i % 997}.example.com"
            tz = rng.choice(["America/Chicago", "Europe/Berlin", "", "Asia/Tokyo"])
            row = [
                email,
                f"First{i}",
                f"Last{i}",
                f"Company, {i % 997} Inc",
                tz,
                str(1000 + i),
                f"Q-{i}",
            ]
            if bad_every and i % bad_every == bad_every - 1:
                bad += 1
                kind = (i // bad_every) % 3
                if kind == 0:
                    row[0] = f"not-an-address-{i}"
                elif kind == 1:
                    row[0] = f"lead{i - 1}@company{(i - 1) % 997}.example.com"  # duplicate
                else:
                    row[4] = "Mars/Olympus"
            w.writerow(row)
    return bad


def setup(root: Path) -> Path:
    (root / "sequences").mkdir()
    (root / "templates" / "bench").mkdir(parents=True)
    (root / "templates" / "bench" / "one.txt").write_text(
        "---\nsubject: Your quote {{ quote_number }}\n---\nHi {{ first_name }} at {{ company }}\n"
    )
    (root / "templates" / "bench" / "two.txt").write_text("Any news, {{ first_name }}?\n")
    (root / "sequences" / "bench.yaml").write_text(
        "name: Bench\nsteps:\n  - wait: 0\n    template: bench/one\n"
        "  - wait: 2 business days\n    template: bench/two\n"
    )
    (root / "config.yaml").write_text(
        "database: sqlite:///import.db\ntimezone: America/Chicago\nholidays: US\n"
        "mailboxes:\n  - name: sam\n    address: sam@example.com\n"
        "    smtp: {host: 127.0.0.1, port: 25, security: none}\n"
    )
    return root / "config.yaml"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_baseline(csv_path: Path, db_path: Path) -> dict[str, float]:
    from sqlalchemy import insert

    from sequencer.db.models import Prospect
    from sequencer.db.session import Database

    db = Database(f"sqlite:///{db_path}")
    start = time.perf_counter()
    rows = 0
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        batch: list[dict[str, object]] = []
        seen: set[str] = set()
        for cells in reader:
            rows += 1
            email = cells[0].lower()
            if email in seen:
                continue
            seen.add(email)
            batch.append(
                {
                    "email": email,
                    "display_email": cells[0],
                    "name": f"{cells[1]} {cells[2]}",
                    "company": cells[3],
                    "fields": {"quote_number": cells[6]},
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            if len(batch) >= 500:
                with db.session() as s:
                    s.execute(insert(Prospect), batch)
                batch = []
        if batch:
            with db.session() as s:
                s.execute(insert(Prospect), batch)
    elapsed = time.perf_counter() - start
    db.dispose()
    return {"rows": rows, "seconds": elapsed, "peak_rss_mb": peak_rss_mb()}


def child_import(csv_path: Path, config_path: Path) -> dict[str, float]:
    from sequencer.core.sequence_files import load_sequences
    from sequencer.db.session import Database
    from sequencer.people.importing import import_csv
    from sequencer.project import load_config

    config = load_config(config_path)
    sequences = load_sequences(config.sequences_path)
    db = Database(config.database_url)
    start = time.perf_counter()
    summary = import_csv(db, config, sequences, csv_path, sequence_id="bench", now=NOW)
    elapsed = time.perf_counter() - start
    db.dispose()
    return {
        "rows": summary.rows,
        "seconds": elapsed,
        "peak_rss_mb": peak_rss_mb(),
        "enrolled": summary.enrolled,
        "rejected": summary.rejected_total,
    }


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> list[Row] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000 if quick else 100_000)
    parser.add_argument("--bad-percent", type=float, default=1.0)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *paths = args.child
        result = (
            child_baseline(Path(paths[0]), Path(paths[1]))
            if kind == "baseline"
            else child_import(Path(paths[0]), Path(paths[1]))
        )
        print(json.dumps(result))
        return None
    with tempfile.TemporaryDirectory(prefix="seq-bench-") as tmp:
        root = Path(tmp)
        config_path = setup(root)
        csv_path = root / "leads.csv"
        bad = write_csv(csv_path, args.rows, args.bad_percent)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"{args.rows:,} rows ({bad:,} bad), {size_mb:.1f} MB CSV, SQLite")
        base = run_child("baseline", str(csv_path), str(root / "baseline.db"))
        imp = run_child("import", str(csv_path), str(config_path))
        base_rate = base["rows"] / base["seconds"]
        imp_rate = imp["rows"] / imp["seconds"]
        print(
            f"baseline (csv + bare bulk INSERT): {base_rate:10,.0f} rows/s  "
            f"{base['seconds']:6.2f} s  peak RSS {base['peak_rss_mb']:6.1f} MB"
        )
        print(
            f"sequencer import:                  {imp_rate:10,.0f} rows/s  "
            f"{imp['seconds']:6.2f} s  peak RSS {imp['peak_rss_mb']:6.1f} MB  "
            f"(enrolled {imp['enrolled']:,}, rejected {imp['rejected']:,})"
        )
        print(f"import / baseline throughput: {imp_rate / base_rate:.2f}x")
        ok_rate = "ok" if imp_rate >= 5000 else "BELOW TARGET"
        ok_mem = "ok" if imp["peak_rss_mb"] < 250 else "ABOVE TARGET"
        print(f"target >= 5,000 rows/s: {ok_rate}; target peak RSS < 250 MB: {ok_mem}")
        return [
            Row(f"CSV import, {args.rows:,} rows (SQLite)", imp_rate, base_rate, imp_rate / base_rate,
                ">= 5,000 rows/s", "rows/s", imp_rate >= 5000,
                "baseline: csv parsing + bare bulk INSERT"),
            Row("CSV import peak RSS", imp["peak_rss_mb"], base["peak_rss_mb"],
                base["peak_rss_mb"] / imp["peak_rss_mb"], "< 250 MB", "MB", imp["peak_rss_mb"] < 250),
        ]


if __name__ == "__main__":
    main()
