"""Command-line entry point: ``sequencer`` and ``python -m sequencer``.

Each ``sequencer/cli/*_cmd.py`` module registers its commands on ``main`` with
``@main.command()``; ``registry.COMMANDS`` names the module of each top-level command,
which is imported only when that command runs. Adding a command is adding it to a
module and one line to the registry (a test says so when it is missing).
"""

from __future__ import annotations

from sequencer.cli.base import main

__all__ = ["main"]
