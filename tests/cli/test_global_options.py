"""Global options work wherever a rep types them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sequencer.cli import main
from sequencer.cli.base import hoist_global_options
from tests.people.world import World


def test_config_after_the_command(world: World) -> None:
    for args in (
        ["list", "--json", "--config", str(world.config_path)],
        ["list", f"--config={world.config_path}", "--json"],
        ["--config", str(world.config_path), "list", "--json"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == []


def test_hoisting_stops_at_double_dash() -> None:
    assert hoist_global_options(["show", "--config", "c.yaml", "a@b.c"]) == [
        "--config",
        "c.yaml",
        "show",
        "a@b.c",
    ]
    assert hoist_global_options(["x", "--", "--config", "y"]) == ["x", "--", "--config", "y"]
