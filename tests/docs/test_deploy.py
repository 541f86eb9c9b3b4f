"""The shipped deployment files (deploy/) name commands and options that exist.

A unit file is read by systemd long after it was written; an option renamed in the
CLI would only show as a worker that does not start. Each ``sequencer`` command line
in them is parsed by the real CLI with ``--help`` appended (which validates every
option and stops before doing anything).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from sequencer.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def command_lines() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            match = re.search(r"/bin/sequencer (.*?)(?:\s*>>|\s*$)", line)
            if match:
                found.append((path.name, match.group(1)))
    return found


def test_the_units_and_crontab_are_all_found() -> None:
    names = {name for name, _ in command_lines()}
    assert {"sequencer-run.service", "sequencer-web.service", "crontab.example"} <= names


@pytest.mark.parametrize(("name", "args"), command_lines())
def test_every_shipped_command_parses(name: str, args: str) -> None:
    result = CliRunner().invoke(main, [*shlex.split(args), "--help"])
    assert result.exit_code == 0, f"{name}: sequencer {args}\n{result.output}"
    assert "Usage:" in result.output
