"""Global options work wherever a rep types them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def _sequencer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A fresh process: logging is set up by the CLI itself, as in cron or systemd."""
    return subprocess.run(
        [sys.executable, "-m", "sequencer", *args], cwd=cwd, capture_output=True, text=True
    )


def test_verbose_shows_our_lines_not_the_libraries(tmp_path: Path) -> None:
    assert _sequencer("init", cwd=tmp_path).returncode == 0
    upgraded = _sequencer("-v", "db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "alembic" not in upgraded.stderr  # nine lines of plugin set-up before
    noisy = _sequencer("-vvv", "db", "current", cwd=tmp_path)
    assert "alembic" in noisy.stderr  # the libraries are still one flag away


def test_log_format_json_is_one_object_per_line(tmp_path: Path) -> None:
    assert _sequencer("init", cwd=tmp_path).returncode == 0
    assert _sequencer("db", "upgrade", cwd=tmp_path).returncode == 0
    ticked = _sequencer("-v", "--log-format", "json", "tick", "--no-poll", cwd=tmp_path)
    lines = [json.loads(line) for line in ticked.stderr.splitlines() if line.strip()]
    assert lines, ticked.stderr
    assert all({"ts", "level", "logger"} <= set(line) for line in lines)
    tick = next(line for line in lines if line.get("event") == "tick")
    assert "message" not in tick  # the engine's event is fields, not JSON inside a string
    assert tick["ts"].endswith("Z")
