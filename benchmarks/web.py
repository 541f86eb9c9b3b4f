"""The dashboard's pages over 1,000,000 enrollments and 3,000,000 events (SQLite): home, pipeline,
leads (first page of a search), reps, and a rep-filtered pipeline.

    .venv/bin/python benchmarks/web.py [--enrollments 1000000] [--requests 50] [--cold-requests 10]

Reuses the report benchmark's cached, deterministic database (benchmarks/report.py:
``cached_database``), so both benchmarks measure the same history. Each page is
requested over HTTP through the real ASGI app (routing, session cookie, CSP headers,
Jinja rendering, the SVG charts) with Starlette's test client, sequentially:

- "warm": the app as ``sequencer web`` runs it (figures reused for 10 s and
  refreshed in the background, stale-while-revalidate); p50/p95 over ``--requests``
  requests, the first (which builds the report) included.
- "uncached": ``cache_seconds=0``, every request runs ``build_report``; p50/p95
  over ``--cold-requests`` requests. Target (issue 17): p95 < 300 ms for each page.

The baseline is the same measurement over 10,000 enrollments in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import Row  # noqa: E402
from benchmarks.report import NOW, cached_database  # noqa: E402

TARGET_MS = 300.0
PAGES = {
    "home": "/",
    "pipeline": "/pipeline",
    "leads": "/leads?q=company%2012",  # the first page of a search
    "reps": "/reps",
    "pipeline?rep": "/pipeline?rep=rep1",  # a manager clicking a rep filter
}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def measure(
    path: Path, requests: int, *, cache_seconds: float
) -> dict[str, tuple[float, float, float]]:
    """Page -> (p50 ms, p95 ms, first ms) over ``requests`` sequential GETs."""
    from starlette.testclient import TestClient

    from sequencer.clock import ManualClock
    from sequencer.config import Config
    from sequencer.db.session import Database
    from sequencer.web.app import create_app
    from sequencer.web.auth import WebAuth

    db = Database(f"sqlite:///{path}")
    app = create_app(Config(), db, ManualClock(NOW), auth=WebAuth(), cache_seconds=cache_seconds)
    out: dict[str, tuple[float, float, float]] = {}
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            for name, url in PAGES.items():
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    r = client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                    assert r.status_code == 200, (url, r.status_code)
                out[name] = (statistics.median(times), percentile(times, 95), times[0])
    finally:
        db.dispose()
    return out


def _print(label: str, n: int, figures: dict[str, tuple[float, float, float]]) -> None:
    for page, (p50, p95, first) in figures.items():
        print(
            f"{label:22} {n:>9,} enrollments  {page:13}  p50 {p50:8.1f} ms  p95 {p95:8.1f} ms"
            f"  first {first:8.1f} ms",
            flush=True,
        )


def main(quick: bool = False) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=100_000 if quick else 1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--cold-requests", type=int, default=5 if quick else 10)
    args = parser.parse_args()
    base_path, path = cached_database(args.baseline), cached_database(args.enrollments)
    results: dict[str, Any] = {}
    for mode, cache, count in (
        ("warm", 10.0, args.requests),
        ("uncached", 0.0, args.cold_requests),
    ):
        results[mode, "base"] = measure(base_path, count, cache_seconds=cache)
        _print(f"{mode} (baseline)", args.baseline, results[mode, "base"])
        results[mode, "ours"] = measure(path, count, cache_seconds=cache)
        _print(mode, args.enrollments, results[mode, "ours"])
    rows = []
    for mode, count in (("warm", args.requests), ("uncached", args.cold_requests)):
        for page in PAGES:
            p50, p95, first = results[mode, "ours"][page]
            b50, b95, _ = results[mode, "base"][page]
            rows.append(
                Row(
                    what=f"web {page} page p95, {mode}, {args.enrollments:,} enrollments (SQLite)",
                    ours=round(p95, 1),
                    baseline=round(b95, 1),
                    ratio=round(b95 / p95, 3) if p95 else 0.0,
                    target=f"< {TARGET_MS:.0f} ms",
                    unit="ms",
                    met=(p95 < TARGET_MS) if mode == "uncached" else None,
                    note=(
                        f"p50 {p50:.1f} ms over {count} requests, first {first:.0f} ms; "
                        f"baseline {args.baseline:,} enrollments p50 {b50:.1f} ms"
                    ),
                )
            )
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
