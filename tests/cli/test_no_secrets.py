"""A manager's machine holds no rep's mail password: read-only commands still run.

Secrets are read only when a connection is made; the commands that connect say which
variable is missing when they do.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from sequencer.cli import main
from tests.people.world import World

MONDAY = "2026-03-02T15:00:00Z"


def cli(world: World, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(world.config_path), "--at", MONDAY, *args])


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("check",),
        ("list",),
        ("list", "--json"),
        ("show", "dana@acme.com"),
        ("report",),
        ("todo",),
        ("status",),
        ("suppress", "list"),
    ],
    ids=lambda a: " ".join(a),
)
def test_read_only_commands_run_without_mail_secrets(
    world: World, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    enrolled = cli(
        world,
        "enroll",
        "dana@acme.com",
        "--sequence",
        "quote",
        "--company",
        "Acme",
        "--set",
        "quote_number=Q-1",
    )
    assert enrolled.exit_code == 0, enrolled.output
    monkeypatch.delenv("SEQ_TEST_PASSWORD")
    result = cli(world, *args)
    assert result.exit_code == 0, result.output
    assert "SEQ_TEST_PASSWORD" not in result.stdout
    if args == ("list", "--json"):
        assert [e["email"] for e in json.loads(result.stdout)] == ["dana@acme.com"]
    if args == ("check",):  # said, but not an error without --connect
        assert "warning:" in result.stderr and "SEQ_TEST_PASSWORD is not set" in result.stderr


def test_web_app_starts_without_mail_secrets(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from sequencer.cli.base import App
    from sequencer.web.app import create_app

    monkeypatch.delenv("SEQ_TEST_PASSWORD")
    app = App(str(world.config_path))
    with TestClient(create_app(app.config, app.db, app.clock, auth=None), base_url="http://127.0.0.1") as client:
        assert client.get("/").status_code == 200
    app.close()


def test_a_command_that_connects_names_the_missing_variable(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEQ_TEST_PASSWORD")
    result = cli(world, "check", "--connect")
    assert result.exit_code != 0
    assert "SEQ_TEST_PASSWORD is not set" in result.stderr
