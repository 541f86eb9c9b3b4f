"""Foundation behaviour a user meets first: init, check, config errors, db upgrade."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.errors import ConfigError
from sequencer.project import load_config

THREE_MISTAKES = """\
database: sqlite:///x.db
timezone: Europe/Berlin
colour: blue
mailboxes:
  - name: alice
    address: alice@example.com
    password_env: ALICE_PASSWORD_NOT_SET
    smtp:
      host: smtp.example.com
        port: 587
"""


def run(*args: str, env: dict[str, str] | None = None) -> CliRunner:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_check_reports_all_three_mistakes_with_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(THREE_MISTAKES)
    result = run("--config", str(cfg), "check")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert f"{cfg}:3: (top level): unknown key 'colour'" in lines
    assert any(line.startswith(f"{cfg}:7: ") and "ALICE_PASSWORD_NOT_SET is not set" in line for line in lines)
    assert any(line.startswith(f"{cfg}:10: invalid YAML") for line in lines)
    assert "Traceback" not in result.output


def test_config_errors_name_the_nested_key_and_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "mailboxes:\n"
        "  - name: a\n"
        "    address: a@example.com\n"
        "    password_cmd: echo x\n"
        "    smtp: {host: h, security: ssl}\n"
        "    daily_limit: 0\n"
        "    send_window: {start: '18:00', end: '09:00'}\n"
        "timezone: Mars/Olympus\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert f"{cfg}:5: mailbox 1.smtp.security" in text
    assert f"{cfg}:6: mailbox 1.daily_limit" in text
    assert f"{cfg}:7: mailbox 1.send_window: end must be after start" in text
    assert f"{cfg}:8: timezone: unknown time zone 'Mars/Olympus'" in text


def test_duplicate_keys_are_reported_not_silently_merged(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("timezone: UTC\ntimezone: Europe/Paris\n")
    with pytest.raises(ConfigError, match=r"c.yaml:2: duplicate key 'timezone'"):
        load_config(cfg)


def test_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "s.yaml"
    cfg.write_text("database: sqlite:///data/s.db\n")
    assert load_config(cfg).database_url == f"sqlite:///{tmp_path / 'sub' / 'data' / 's.db'}"


def test_password_cmd_supplies_the_secret_and_failures_do_not_leak_it(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "mailboxes:\n  - name: a\n    address: a@example.com\n"
        f"    password_cmd: cat {tmp_path / 'pw'}\n    smtp: {{host: h}}\n"
    )
    config = load_config(cfg)
    assert config.mailboxes[0].secret("smtp").password("x") == "hunter2"
    assert "hunter2" not in repr(config) + config.model_dump_json()


def test_missing_config_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "nope.yaml"), "db", "upgrade")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "config file not found" in result.stderr


def test_init_writes_a_starter_that_checks_clean(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    cfg = tmp_path / "p" / "sequencer.yaml"
    assert (tmp_path / "p" / "sequences" / "follow-up.yaml").exists()
    checked = run("--config", str(cfg), "check", env={"SEQUENCER_MAIL_PASSWORD": "x"})
    assert checked.exit_code == 0, checked.output + checked.stderr
    again = run("init", str(tmp_path / "p"))
    assert "kept" in again.output  # never overwrites a rep's edits without --force


def test_python_dash_m_entry_point_runs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sequencer", "--config", str(tmp_path / "missing.yaml"), "check", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 2
    data = json.loads(out.stdout)
    assert data["ok"] is False and "config file not found" in data["problems"][0]["message"]


HEAD = "0020_report_counters"  # the newest migration shipped; a new one changes this line


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any schema (``db_url``'s PostgreSQL ones are cloned migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    pg = request.getfixturevalue("postgres")
    name = f"empty_{uuid.uuid4().hex[:12]}"
    pg.execute(f"CREATE DATABASE {name}")
    return pg.url(name)


def test_db_upgrade_creates_schema_and_is_idempotent(empty_db_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"database": empty_db_url}))
    empty = run("--config", str(cfg), "db", "current")
    assert empty.exit_code == 0  # nothing to be behind yet: the first use migrates
    assert empty.output == f"revision none (shipped head {HEAD}): behind: run `sequencer db upgrade`\n"
    first = run("--config", str(cfg), "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.output == f"upgraded database from empty to {HEAD} (head {HEAD})\n"
    second = run("--config", str(cfg), "db", "upgrade")
    assert second.output == f"database is up to date (revision {HEAD})\n"
    current = run("--config", str(cfg), "db", "current")
    assert (current.exit_code, current.output) == (0, f"revision {HEAD} (shipped head {HEAD}): up to date\n")


def test_db_current_fails_on_a_schema_behind_and_upgrade_brings_it_to_head(
    empty_db_url: str, tmp_path: Path
) -> None:
    from sequencer.db.session import make_engine, upgrade

    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0004")
    finally:
        engine.dispose()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"database": empty_db_url}))
    behind = run("--config", str(cfg), "db", "current")
    assert behind.exit_code == 2
    assert behind.stdout == f"revision 0004 (shipped head {HEAD}): behind: run `sequencer db upgrade`\n"
    assert behind.stderr == "error: database schema is behind the installed sequencer\n"
    upgraded = run("--config", str(cfg), "db", "upgrade")
    assert upgraded.output == f"upgraded database from 0004 to {HEAD} (head {HEAD})\n"


def _mail_config(tmp_path: Path, mail, address: str) -> Path:
    cfg = tmp_path / "sequencer.yaml"
    (tmp_path / "sequences").mkdir()
    cfg.write_text(yaml.safe_dump({"mailboxes": [mail.mailbox_config(address, name="rep")]}))
    return cfg


def test_check_connect_logs_in_to_smtp_and_imap(tmp_path: Path, mail) -> None:
    cfg = _mail_config(tmp_path, mail, mail.new_address("rep"))
    result = run("--config", str(cfg), "check", "--connect")
    assert result.exit_code == 0, result.output + result.stderr
    assert "ok   rep smtp: SMTP 127.0.0.1" in result.output and "logged in" in result.output
    assert "ok   rep imap: IMAP 127.0.0.1" in result.output and "Sent folder: Sent" in result.output


def test_check_connect_reports_refused_login_without_printing_the_secret(
    tmp_path: Path, mail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQ_TEST_PASSWORD", "wrong-password-xyz")
    cfg = _mail_config(tmp_path, mail, mail.new_address("rep"))
    result = run("--config", str(cfg), "check", "--connect")
    assert result.exit_code == 1
    assert "FAIL rep smtp" in result.output and "login refused" in result.output
    assert "FAIL rep imap" in result.output
    assert "wrong-password-xyz" not in result.output + result.stderr
    assert "[AUTHENTICATIONFAILED]" in result.output  # the server's words ...
    assert "b'" not in result.output  # ... not a Python bytes literal


def _field_names(model: type, seen: set[type] | None = None) -> set[str]:
    """Every key a user can write in the config, at any depth."""
    from typing import get_args

    from pydantic import BaseModel

    seen = seen or set()
    names: set[str] = set()
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        names.add(name)
        for arg in (info.annotation, *get_args(info.annotation)):
            for inner in (arg, *get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
                    seen.add(inner)
                    names |= _field_names(inner, seen)
    return names


def test_config_example_loads_and_documents_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from sequencer.config import Config

    monkeypatch.setenv("DANA_MAIL_PASSWORD", "x")
    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "config.example.yaml")
    assert config.mailboxes[0].name == "dana"
    example = (root / "config.example.yaml").read_text()
    readme = (root / "README.md").read_text()
    undocumented = {
        name for name in _field_names(Config)
        if f"{name}:" not in example and f"# {name}" not in example
    }
    assert undocumented == set(), f"keys missing from config.example.yaml: {sorted(undocumented)}"
    missing_in_readme = {name for name in _field_names(Config) if f"`{name}" not in readme and f".{name}`" not in readme}
    assert missing_in_readme == set(), f"keys missing from the README: {sorted(missing_in_readme)}"


def test_a_mailbox_window_accepts_days_all_as_a_sequence_window_does(tmp_path: Path) -> None:
    from datetime import date

    from sequencer.core.schedule import BusinessCalendar
    from sequencer.project import mailbox_window

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "mailboxes:\n  - name: m\n    address: m@example.com\n    password_env: X\n"
        "    smtp: {host: h}\n    send_window: {days: all, start: '09:00', end: '17:00'}\n"
    )
    window = mailbox_window(load_config(cfg).mailboxes[0])
    saturday = date(2026, 3, 7)
    assert window.allows_day(saturday, BusinessCalendar()), "days: all includes weekends"


def test_db_commands_speak_json_for_scripts(empty_db_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"database": empty_db_url}))
    empty = json.loads(run("--config", str(cfg), "db", "current", "--json").stdout)
    assert empty == {"current": None, "head": HEAD, "up_to_date": False}
    upgraded = json.loads(run("--config", str(cfg), "db", "upgrade", "--json").stdout)
    assert upgraded == {"before": None, "current": HEAD, "head": HEAD, "up_to_date": True,
                        "upgraded": True}
    again = json.loads(run("--config", str(cfg), "db", "upgrade", "--json").stdout)
    assert again["upgraded"] is False and again["up_to_date"] is True
