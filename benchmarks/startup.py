"""Start-up cost of the CLI: what every cron tick and every ``--help`` pays.

Measures, as the best of N fresh interpreters (the fairest figure on a shared machine):

- ``python -c "import click"``: the floor any click CLI pays;
- ``import sqlalchemy`` and ``import sqlalchemy.orm``: the floor of any command that
  reads the database (every query in ``sequencer/db`` uses the ORM models);
- the libraries a tick cannot do without (SQLAlchemy's ORM, pydantic for the config,
  PyYAML, Jinja for the templates the project loads, asyncio for the engine);
- ``sequencer --help``;
- the imports of the ``tick`` command (``sequencer.cli`` plus its modules);
- a whole ``sequencer tick --no-poll`` with nothing due, on an up-to-date SQLite
  database of a fresh ``sequencer init`` project: config, sequences, templates, schema
  check and the engine's queries.

Targets (issue 19): ``--help`` within 3x of the click floor, ``tick`` start-up under
0.3 s. The second is below the library floor on this machine; the table shows both.

    PYTHONPATH=. python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import Row

PY = sys.executable
TICK_IMPORTS = (
    "import sequencer.cli, sequencer.cli.send_cmd, sequencer.outbound.runner, "
    "sequencer.setup.database, sequencer.project, sequencer.worker"
)
TICK_LIBRARIES = "import click, sqlalchemy.orm, pydantic, yaml, jinja2.sandbox, asyncio"


def best_of(cmd: list[str], runs: int, cwd: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds, each the best of ``runs``: CPU time (user + system of the
    child) moves far less than wall time when other processes share the cores."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=cwd)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def idle_project(directory: Path) -> str:
    """A fresh `sequencer init` project with its schema upgraded: nothing is due."""
    subprocess.run([PY, "-m", "sequencer", "init", str(directory)], check=True, capture_output=True)
    config = str(directory / "sequencer.yaml")
    subprocess.run(
        [PY, "-m", "sequencer", "--config", config, "db", "upgrade"], check=True, capture_output=True
    )
    return config


def compile_bytecode() -> None:
    """Write the package's ``.pyc`` files before timing anything.

    An installed package has them (pip compiles on install), so a cron tick never
    compiles our sources. A checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as this
    machine's shell sets it) otherwise recompiles ~70 modules in every interpreter,
    about 0.13 s that no user pays. Reading ``.pyc`` files is not affected by that
    variable, only writing them.
    """
    package = Path(__file__).resolve().parent.parent / "sequencer"
    subprocess.run([PY, "-m", "compileall", "-q", str(package)], check=True)


def measure(runs: int) -> dict[str, tuple[float, float]]:
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="seq-startup-") as tmp:
        config = idle_project(Path(tmp) / "team")
        cases = {
            "python -c 'import click'": [PY, "-c", "import click"],
            "python -c 'import sqlalchemy'": [PY, "-c", "import sqlalchemy"],
            "python -c 'import sqlalchemy.orm'": [PY, "-c", "import sqlalchemy.orm"],
            "libraries a tick needs": [PY, "-c", TICK_LIBRARIES],
            "sequencer --help": [PY, "-m", "sequencer", "--help"],
            "tick start-up (imports)": [PY, "-c", TICK_IMPORTS],
            "tick --no-poll, nothing due": [
                PY, "-m", "sequencer", "--config", config, "tick", "--no-poll"
            ],
        }
        return {name: best_of(cmd, runs, cwd=tmp) for name, cmd in cases.items()}


TARGETS = {
    "sequencer --help": ("<= 3x", lambda s, floor: s <= 3 * floor),
    "tick start-up (imports)": ("< 0.3 s", lambda s, floor: s < 0.3),
    "tick --no-poll, nothing due": ("< 0.3 s", lambda s, floor: s < 0.3),
}


def main(quick: bool = False) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3 if quick else 7)
    args = parser.parse_args()
    results = measure(args.runs)
    floor = results["python -c 'import click'"][0]
    print(f"| what | wall, best of {args.runs} | CPU, best of {args.runs} | vs import click | target |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for name, (seconds, cpu) in results.items():
        target, met = TARGETS.get(name, ("", None))
        print(f"| {name} | {seconds:.3f} s | {cpu:.3f} s | {seconds / floor:.1f}x | {target} |")
        rows.append(
            Row(
                f"start-up: {name}",
                seconds * 1000,
                floor * 1000,
                floor / seconds,
                target or "(for the record)",
                "ms",
                None if met is None else bool(met(seconds, floor)),
                f"best of {args.runs}; CPU {cpu * 1000:.0f} ms; baseline = import click",
            )
        )
    return rows


if __name__ == "__main__":
    main()
