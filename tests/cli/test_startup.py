"""A cron tick with nothing to do pays only for what it uses (issue 19, "Start-up").

How fast it starts is measured by ``benchmarks/startup.py``; these tests keep the lazy
imports lazy: a tick that sends nothing loads no mail adapter, no Alembic, no holiday
tables and no reporting stack, and the schema check that skips Alembic agrees with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sequencer.cli import main
from sequencer.db.revision import shipped_head
from sequencer.db.session import head_revision

# what a tick that sends nothing must not import (each was imported before issue 19)
NOT_FOR_AN_IDLE_TICK = (
    "alembic",  # the schema check reads alembic_version itself when it is at head
    "mako",
    "aiosmtplib",  # the SMTP pool is made on the first send
    "imapclient",  # the IMAP session is opened on the first Sent copy or recovery
    "email_validator",  # addresses are validated when one is stored
    "holidays.countries",  # the holiday table loads on the first business-day question
    "sequencer.reporting.digest",  # no managers, no digest
)


def _probe(*args: str) -> str:
    return (
        "import sys\nfrom sequencer.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('EXIT', code)\n"
        f"print('LOADED', sorted(m for m in sys.modules if m.startswith({NOT_FOR_AN_IDLE_TICK!r})))"
    )


def test_a_tick_with_nothing_due_loads_no_mail_adapter_alembic_or_holiday_table(
    tmp_path: Path,
) -> None:
    project = tmp_path / "team"
    assert CliRunner().invoke(main, ["init", str(project)]).exit_code == 0
    config = str(project / "sequencer.yaml")
    upgraded = CliRunner().invoke(main, ["--config", config, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output

    out = subprocess.run(
        [sys.executable, "-c", _probe("--config", config, "tick", "--no-poll")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "sent 0" in out.stdout and "EXIT 0" in out.stdout, out.stdout + out.stderr
    assert "LOADED []" in out.stdout


def test_the_schema_check_without_alembic_names_alembics_head() -> None:
    assert shipped_head() is not None
    assert shipped_head() == head_revision()


def test_a_database_behind_the_head_is_still_upgraded(tmp_path: Path) -> None:
    """The quick check only ever says "up to date"; anything else goes through Alembic."""
    from sqlalchemy import text

    from sequencer.db.session import Database, current_revision, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url, migrate=False)
    upgrade(old.engine, "0018_sent_copies")
    old.dispose()

    reopened = Database(url)  # what every command does first
    try:
        assert current_revision(reopened.engine) == head_revision()
        with reopened.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        reopened.dispose()


def test_the_poller_loads_the_classifier_only_for_new_mail() -> None:
    """A polling tick that finds no new mail classifies nothing: the rule chain (~0.1 s of
    imports) waits for the first message."""
    probe = (
        "import sys, sequencer.worker, sequencer.inbound.poll\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('sequencer.classify')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
