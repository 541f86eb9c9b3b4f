"""Every example command in the README and in ``--help`` texts runs against a demo database.

A rep copies examples. Each one must parse (no "No such option", no "Usage:") and either
work or fail the way a user error does: one ``error:`` line, never a traceback. Examples
naming a prospect or file the demo does not have (``dana@acme.com``, ``leads.csv``) take
that second path. A few cannot run here, and ``NOT_RUN`` says why for each.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import sequencer.cli
from sequencer.cli.base import main
from sequencer.cli.registry import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-03-02T09:00:00+00:00"

# example prefix -> why it is not run here
NOT_RUN = {
    "sequencer demo": "the fixture below runs the demo itself (it takes 15 s)",
    "sequencer -v run": "runs until SIGTERM",
    "sequencer run": "runs until SIGTERM",
    "sequencer web": "serves until SIGTERM",
    "sequencer init": "tested in tests/test_setup.py and by the Getting started test",
    "sequencer check --connect": "logs in to real servers: the Getting started test does",
    "sequencer --config team.yaml check --connect": "names a team config the demo lacks",
    "sequencer doctor": "logs in to every mailbox: tests/cli/test_doctor.py runs it",
}


def _commands_in(text: str) -> list[str]:
    """``sequencer ...`` lines, continuation lines joined, cut before pipes/redirects."""
    text = text.replace("\\\\\n", " ").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip().removeprefix("$ ")
        if not line.startswith("sequencer "):
            continue
        line = re.split(r"\s(?:\|\||&&|\||>|#)\s?", line, maxsplit=1)[0].strip()
        out.append(line)
    return out


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.S)
    return [c for b in blocks for c in _commands_in(b)]


def help_examples() -> list[str]:
    found: list[str] = []

    def walk(cmd: click.Command) -> None:
        help_text = cmd.help or ""
        if "Example" in help_text:
            found.extend(_commands_in(help_text.split("Example", 1)[1]))
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                walk(sub)

    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        assert command is not None
        walk(command)
    return found


def _skipped(example: str) -> bool:
    return any(example == p or example.startswith(p + " ") for p in NOT_RUN)


EXAMPLES = sorted(set(readme_examples()) | set(help_examples()))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("examples")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sequencer",
            "--at",
            TODAY,
            "demo",
            "--days",
            "21",
            "--keep",
            "demo",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return root


def test_there_are_examples_to_run() -> None:
    runnable = [e for e in EXAMPLES if not _skipped(e)]
    assert len(runnable) >= 30, runnable
    assert sequencer.cli  # the package under test


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not _skipped(e)])
def test_example_runs(example: str, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = shlex.split(example)[1:]
    # README examples name demo/sequencer.yaml; the --help ones run inside the project
    monkeypatch.chdir(demo if "--config" in args else demo / "demo")
    result = CliRunner().invoke(main, args, input="Example-pass-1234\n" * 4)  # prompts
    said = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{example!r} crashed:\n{said}") from result.exception
    assert "Usage:" not in said and "No such option" not in said, said
    if result.exit_code != 0:  # a prospect/file/server the demo lacks: said, not crashed
        assert "error" in said.lower(), said
