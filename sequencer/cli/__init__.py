"""Command-line entry point: ``sequencer`` and ``python -m sequencer``.

Every ``sequencer/cli/*_cmd.py`` module is imported here, and registers its
commands on ``main`` with ``@main.command()``; adding a command group is adding
a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from sequencer.cli.base import main

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _mod.name.endswith("_cmd"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["main"]
