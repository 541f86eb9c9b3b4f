"""The lazy command registry stays true: every command is listed with its module and help.

``sequencer --help`` prints ``registry.COMMANDS`` instead of importing every command
module; a command added without its line there would be missing from ``--help`` and
from the CLI itself, and a changed docstring would print stale help.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import sequencer.cli
from sequencer.cli.base import main
from sequencer.cli.registry import COMMANDS


def _every_command() -> dict[str, tuple[str, str]]:
    for mod in pkgutil.iter_modules(sequencer.cli.__path__):
        if mod.name.endswith("_cmd"):
            importlib.import_module(f"sequencer.cli.{mod.name}")
    return {
        name: (cmd.callback.__module__.rsplit(".", 1)[1], cmd.get_short_help_str(limit=300))
        for name, cmd in main.commands.items()
        if cmd.callback is not None
    }


def test_registry_lists_every_command_with_its_module_and_help() -> None:
    actual = _every_command()
    missing = sorted(set(actual) - set(COMMANDS))
    assert not missing, f"add these commands to sequencer/cli/registry.py: {missing}"
    stale = sorted(set(COMMANDS) - set(actual))
    assert not stale, f"registry.py names commands that no module defines: {stale}"
    for name, entry in actual.items():
        assert COMMANDS[name] == entry, f"registry.py line for {name!r} differs from the command"


def test_help_imports_no_command_module_nor_the_database_stack() -> None:
    probe = (
        "import sys; from sequencer.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.endswith('_cmd') or m.startswith("
        "('sqlalchemy', 'pydantic', 'jinja2', 'sequencer.db')))\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "tick " in out.stdout and "Poll the inboxes" in out.stdout  # the list is all there
    assert "HEAVY []" in out.stdout


def test_an_unknown_command_still_says_so() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output
