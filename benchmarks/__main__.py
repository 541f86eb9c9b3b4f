"""Run every benchmark and print one table: ``python -m benchmarks [--quick]``.

Each ``benchmarks/*.py`` with a top-level ``main()`` runs in its own child
process (so one benchmark's memory, event loops and threads never skew
another's), with its own output shown as it goes; the rows it returns are
collected into one table: what was measured, our figure, the baseline
measured in the same run, the ratio and the target.

Examples:
    python -m benchmarks                 # everything, full sizes (~minutes)
    python -m benchmarks --quick         # smaller sizes, a smoke run
    python -m benchmarks --only mailmerge_baseline --markdown
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import Row

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Outcome:
    """What one benchmark module gave back."""

    name: str
    seconds: float
    rows: list[Row] = field(default_factory=list)
    error: str | None = None


def discover(only: list[str] | None = None) -> list[str]:
    """Modules in benchmarks/ that define ``main`` at top level, found without importing them."""
    names = []
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main"
            for node in tree.body
        ):
            names.append(path.stem)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"no benchmark named {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in only]
    return names


def run_one_here(name: str, quick: bool, out: Path) -> None:
    """The child side: import the module, call ``main``, write its rows as JSON."""
    sys.argv = [str(HERE / f"{name}.py")]
    module = importlib.import_module(f"benchmarks.{name}")
    params = inspect.signature(module.main).parameters
    result = module.main(quick=quick) if "quick" in params else module.main()
    rows = [] if result is None else [Row.coerce(r).to_dict() for r in result]
    notes = [] if "quick" in params or not quick else ["ran at full size (main() takes no quick)"]
    out.write_text(json.dumps({"rows": rows, "notes": notes}))


def run_child(name: str, quick: bool, timeout: float) -> Outcome:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seq-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--out", str(out)]
        if quick:
            cmd.append("--quick")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return Outcome(
                name, time.monotonic() - started, error=f"timed out after {timeout:.0f} s"
            )
        seconds = time.monotonic() - started
        if proc.returncode != 0 or not out.exists():
            return Outcome(name, seconds, error=f"exited with status {proc.returncode}")
        data = json.loads(out.read_text())
    rows = [Row.coerce(r) for r in data["rows"]]
    if not rows:
        return Outcome(name, seconds, error="main() returned no rows (see its output above)")
    if data["notes"]:
        rows = [
            Row(**{**r.to_dict(), "note": "; ".join([r.note, *data["notes"]]).strip("; ")})
            for r in rows
        ]
    return Outcome(name, seconds, rows)


def _num(value: float, unit: str) -> str:
    if value != value:  # NaN: not measured
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def _met(row: Row) -> str:
    return "" if row.met is None else ("yes" if row.met else "NO")


def table_rows(outcomes: list[Outcome]) -> list[list[str]]:
    lines = []
    for o in outcomes:
        if o.error:
            lines.append([o.name, "-", "-", "-", "-", "", f"failed: {o.error}"])
            continue
        for r in o.rows:
            lines.append(
                [
                    r.what,
                    _num(r.ours, r.unit),
                    _num(r.baseline, r.unit),
                    f"{r.ratio:.2f}x",
                    r.target,
                    _met(r),
                    r.note,
                ]
            )
    return lines


COLUMNS = ["what", "ours", "baseline", "ratio", "target", "met", "note"]


def print_table(outcomes: list[Outcome], total: float, quick: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"sequencer benchmarks ({'quick' if quick else 'full'} run, {total:.0f} s)"
    table = Table(title=title, header_style="bold")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col in ("ours", "baseline", "ratio") else "left")
    for line in table_rows(outcomes):
        style = "red" if line[5] == "NO" or line[-1].startswith("failed") else None
        table.add_row(*line, style=style)
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def markdown(outcomes: list[Outcome]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out.extend("| " + " | ".join(line) + " |" for line in table_rows(outcomes))
    return "\n".join(out)


def main_cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds per benchmark (default 900)"
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_one_here(args.child, args.quick, Path(args.out))
        return 0
    names = discover(args.only)
    started = time.monotonic()
    outcomes = []
    for name in names:
        print(f"\n=== {name} {'(quick)' if args.quick else ''}", flush=True)
        outcome = run_child(name, args.quick, args.timeout)
        print(f"=== {name}: {outcome.error or 'done'} in {outcome.seconds:.1f} s", flush=True)
        outcomes.append(outcome)
    print()
    print_table(outcomes, time.monotonic() - started, args.quick)
    if args.markdown:
        print()
        print(markdown(outcomes))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {"module": o.name, "error": o.error, "rows": [r.to_dict() for r in o.rows]}
                    for o in outcomes
                ],
                indent=2,
            )
        )
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main_cli())
