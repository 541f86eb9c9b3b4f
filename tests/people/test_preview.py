"""`preview --prospect` shows what the send path will send, filed threads included."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.db.attribution import update_enrollment
from sequencer.db.session import Database
from sequencer.people.enroll import enroll
from sequencer.project import load_config, load_project

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 09:00 in Chicago
FILED = "<filed-1042@rep.example>"


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEQ_TEST_PASSWORD", "x")
    shutil.copytree(ROOT / "sequences", tmp_path / "sequences")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    config = {
        "database": f"sqlite:///{tmp_path / 'sequencer.db'}",
        "timezone": "America/Chicago",
        "mailboxes": [{
            "name": name, "address": f"{name}@rep.example", "owner": name, "password_env": "SEQ_TEST_PASSWORD",
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
        } for name in ("sam", "lee")],
    }
    (tmp_path / "sequencer.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return tmp_path


def enroll_dana(project_dir: Path, source: str, **changes: object) -> int:
    config = load_config(project_dir / "sequencer.yaml")
    db = Database(config.database_url)
    try:
        result = enroll(db, config, load_project(config).sequences, email="dana@acme.example",
                        sequence_id="quote-follow-up", name="Dana Whitfield", company="Acme",
                        fields={"quote_number": "Q-7"}, owner="sam", now=T0, source=source)
        assert result.enrollment_id is not None
        if source == "filing":  # what the poller's filing records (inbound/filing.py)
            with db.session() as s:
                update_enrollment(s, result.enrollment_id, thread_root_id=FILED, last_message_id=FILED,
                                  thread_refs=[FILED], thread_subject="Quote 1042 for Acme")
                s.commit()
        if changes:
            with db.session() as s:
                update_enrollment(s, result.enrollment_id, **changes)
                s.commit()
        return result.enrollment_id
    finally:
        db.dispose()


def run_preview(project_dir: Path, *extra: str) -> str:
    result = CliRunner().invoke(main, [
        "--config", str(project_dir / "sequencer.yaml"), "preview", "quote-follow-up",
        "--prospect", "dana@acme.example", "--start", "2026-03-02T15:00", *extra,
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def preview(project_dir: Path) -> list[dict[str, object]]:
    return yaml.safe_load(run_preview(project_dir, "--json"))["touches"]


def test_preview_of_a_filed_enrollment_replies_to_the_filed_email_from_step_one(project_dir: Path) -> None:
    enroll_dana(project_dir, "filing")
    touches = preview(project_dir)
    assert touches[0]["subject"] == "Re: Quote 1042 for Acme"
    assert touches[0]["new_thread"] is False
    assert touches[1]["subject"] == "Re: Quote 1042 for Acme"


def test_preview_of_a_fresh_enrollment_starts_its_own_thread(project_dir: Path) -> None:
    enroll_dana(project_dir, "cli")
    touches = preview(project_dir)
    assert touches[0]["subject"] == "Your quote Q-7 for Acme"
    assert touches[0]["new_thread"] is True
    assert touches[1]["subject"] == "Re: Your quote Q-7 for Acme"


def test_preview_sends_from_the_enrollments_own_mailbox(project_dir: Path) -> None:
    enroll_dana(project_dir, "cli", mailbox="lee")  # e.g. reassigned to lee after enrolling
    assert "<lee@rep.example>" in run_preview(project_dir).splitlines()[1]
