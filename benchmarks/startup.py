"""Start-up cost of the CLI: what every cron tick and every ``--help`` pays.

Measures, as the best of N fresh interpreters (the fairest figure on a shared machine):
``python -c "import click"`` (the floor any click CLI pays), ``sequencer --help`` and
the import of everything ``tick`` loads before it does any work (``sequencer.cli`` plus
the ``tick`` command's modules), and ``import sqlalchemy.orm``, the floor any tick that
reads the database pays (the required ORM alone). Targets (issue 19): ``--help`` within 3x of the click
floor, ``tick`` start-up under 0.3 s.

    PYTHONPATH=. python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CASES = {
    "python -c 'import click'": [sys.executable, "-c", "import click"],
    "python -c 'import sqlalchemy.orm'": [sys.executable, "-c", "import sqlalchemy.orm"],
    "sequencer --help": [sys.executable, "-m", "sequencer", "--help"],
    "tick start-up (imports)": [
        sys.executable,
        "-c",
        "import sequencer.cli, sequencer.worker, sequencer.outbound.engine, sequencer.setup.database",
    ],
}


def best_of(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {name: best_of(cmd, args.runs) for name, cmd in CASES.items()}
    floor = results["python -c 'import click'"]
    print(f"| what | best of {args.runs} | vs import click | target |")
    print("| --- | --- | --- | --- |")
    targets = {"sequencer --help": "<= 3x", "tick start-up (imports)": "< 0.3 s"}
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.3f} s | {seconds / floor:.1f}x | {targets.get(name, '')} |")


if __name__ == "__main__":
    main()
