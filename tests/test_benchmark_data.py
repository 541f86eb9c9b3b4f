"""The benchmark data generators produce databases the real code accepts.

A generator that drifts from the schema makes the benchmark fail only when
someone runs it (minutes later); at a small size it is checked with the tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sequencer.config import Config
from sequencer.db.session import Database
from sequencer.reporting.report import build_report


def test_report_benchmark_database_is_valid_and_reportable(tmp_path: Path) -> None:
    from benchmarks.report import generate

    path = tmp_path / "bench.db"
    generate(path, 2_000)
    db = Database(f"sqlite:///{path}")
    report = build_report(db, Config(), now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    figures = report.to_dict()["totals"]
    assert figures["enrolled"] > 1_900  # unenrolled ones are left out of the figures
    assert figures["replied"] > 0 and figures["completed"] > 0 and figures["active"] > 0
