"""`sequencer user add|list|disable|enable|passwd|token`: passwords never on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.db.models import User
from sequencer.db.session import Database
from sequencer.people import users
from tests.web.history import NOW, web_config_data


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "sequencer.yaml"
    path.write_text(yaml.safe_dump(web_config_data(f"sqlite:///{tmp_path / 'u.db'}")))
    return path


def run(cfg: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, ["--config", str(cfg), "user", *args], input=input, env=env)


def test_user_add_list_passwd_disable_and_token(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run(cfg, "add", "maria", "--role", "manager", input="maria-secret-1\nmaria-secret-1\n")
    assert r.exit_code == 0, r.output
    assert "maria-secret-1" not in r.output
    r = run(cfg, "add", "alice", "--role", "rep", "--password-stdin", input="alice-secret-1\n")
    assert r.exit_code == 0, r.output
    r = run(cfg, "add", "al", "--role", "rep", "--rep", "alice", "--password-env", "ALPW", env={"ALPW": "al-secret-123"})
    assert r.exit_code == 0, r.output
    r = run(cfg, "add", "alice", "--role", "rep", "--no-password")
    assert r.exit_code == 2 and "already" in r.output
    r = run(cfg, "add", "short", "--role", "rep", "--password-stdin", input="x\n")
    assert r.exit_code == 2 and "at least 10" in r.output
    listed = json.loads(run(cfg, "list", "--json").output)
    assert [(u["name"], u["role"], u["rep"], u["disabled"]) for u in listed] == [
        ("al", "rep", "alice", False),
        ("alice", "rep", "alice", False),
        ("maria", "manager", None, False),
    ]
    assert "maria" in run(cfg, "list").output
    db = Database(yaml.safe_load(cfg.read_text())["database"])
    try:
        with db.session() as s:
            stored = s.query(User).filter_by(name="alice").one().password_hash
        assert stored.startswith("$argon2id$") and "alice-secret-1" not in stored
        assert users.authenticate(db, "alice", "alice-secret-1", now=NOW) is not None
        r = run(cfg, "passwd", "alice", "--password-stdin", input="alice-secret-2\n")
        assert r.exit_code == 0, r.output
        assert users.authenticate(db, "alice", "alice-secret-1", now=NOW) is None
        assert users.authenticate(db, "alice", "alice-secret-2", now=NOW) is not None
        r = run(cfg, "token", "alice", "--label", "crm")
        assert r.exit_code == 0 and r.output.strip().startswith("sqt_")
        assert users.by_token(db, r.output.strip(), now=NOW) is not None
        assert run(cfg, "disable", "alice").exit_code == 0
        assert users.authenticate(db, "alice", "alice-secret-2", now=NOW) is None
        assert users.by_token(db, r.output.strip(), now=NOW) is None
        assert json.loads(run(cfg, "list", "--json").output)[1]["disabled"] is True
        assert run(cfg, "enable", "alice").exit_code == 0
        assert users.authenticate(db, "alice", "alice-secret-2", now=NOW) is not None
        assert run(cfg, "disable", "nobody").exit_code != 0
    finally:
        db.dispose()
    # there is no way to give a password as an argument
    r = run(cfg, "passwd", "alice", "--password", "x")
    assert r.exit_code == 2 and "No such option" in r.output


def test_old_argon2_parameters_are_rehashed_at_login(tmp_path: Path) -> None:
    from argon2 import PasswordHasher

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        users.add_user(db, "maria", role="manager", rep=None, password=None, now=NOW)
        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("maria-secret-1")
        with db.session() as s:
            s.query(User).filter_by(name="maria").one().password_hash = weak
        assert users.authenticate(db, "maria", "maria-secret-1", now=NOW) is not None
        with db.session() as s:
            rehashed = s.query(User).filter_by(name="maria").one().password_hash
        assert rehashed != weak and not PasswordHasher().check_needs_rehash(rehashed)
    finally:
        db.dispose()


def test_web_refuses_a_public_address_with_a_trusted_sso_header(tmp_path: Path) -> None:
    data = web_config_data(f"sqlite:///{tmp_path / 's.db'}")
    data["web"] = {"sso_header": "X-Remote-User", "token_env": "NO_SUCH_TOKEN_VAR"}
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(data))
    r = CliRunner().invoke(main, ["--config", str(cfg), "web", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 2 and "sso_header" in r.output
