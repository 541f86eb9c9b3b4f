"""``sequencer doctor`` against the real test Dovecot/SMTP and a real database revision."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.setup.doctor import diagnose
from tests.servers import MailEnv


def _project(tmp_path: Path, mail: MailEnv, address: str) -> Path:
    cfg = tmp_path / "sequencer.yaml"
    (tmp_path / "sequences").mkdir()
    cfg.write_text(
        yaml.safe_dump(
            {
                "database": "sqlite:///doctor.db",
                "mailboxes": [mail.mailbox_config(address, name="rep")],
            }
        )
    )
    return cfg


def _lines(output: str) -> dict[str, tuple[str, str]]:
    """check -> (status mark, detail) from the doctor's aligned lines."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(ok|warn|FAIL)\s+(.+?)\s{2,}(.*)$", line)
        assert match, f"not a doctor line: {line!r}"
        found[match.group(2)] = (match.group(1), match.group(3))
    return found


def _doctor(cfg: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--config", str(cfg), "doctor", *args])


def test_a_healthy_installation_is_all_ok_and_the_clock_probe_leaves_sent_as_it_was(
    tmp_path: Path, mail: MailEnv
) -> None:
    address = mail.new_address("rep")
    cfg = _project(tmp_path, mail, address)
    assert CliRunner().invoke(main, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    result = _doctor(cfg)
    assert result.exit_code == 0, result.output
    said = _lines(result.output)
    assert list(said) == [
        "config",
        "sequences",
        "database",
        "mailbox rep smtp",
        "mailbox rep imap",
        "mailbox rep sent",
        "mailbox rep clock",
        "disk",
    ]
    assert all(mark == "ok" for mark, _ in said.values()), said
    assert "Sent folder: Sent" in result.output
    assert "(current)" in result.output
    assert mail.fetch_all(address, "Sent") == []  # the probe message was removed by UID


def test_failures_are_each_one_line_exit_1_and_never_print_the_secret(
    tmp_path: Path, mail: MailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sequencer.db.session import make_engine, upgrade

    cfg = _project(tmp_path, mail, mail.new_address("rep"))
    engine = make_engine(f"sqlite:///{tmp_path / 'doctor.db'}")
    try:
        upgrade(engine, "0004")
    finally:
        engine.dispose()
    monkeypatch.setenv("SEQ_TEST_PASSWORD", "wrong-password-xyz")
    result = _doctor(cfg)
    assert result.exit_code == 1
    said = _lines(result.output)
    assert said["database"][0] == "FAIL" and "sequencer db upgrade" in said["database"][1]
    assert said["mailbox rep smtp"][0] == "FAIL" and "refused" in said["mailbox rep smtp"][1]
    assert said["mailbox rep imap"][0] == "FAIL"
    assert said["disk"][0] == "ok"  # later checks still ran
    assert "wrong-password-xyz" not in result.output


def test_a_skewed_clock_is_measured_against_the_real_imap_server(
    tmp_path: Path, mail: MailEnv
) -> None:
    cfg = _project(tmp_path, mail, mail.new_address("rep"))
    now = datetime.now(UTC)
    clock = {f.check: f for f in diagnose(cfg, now + timedelta(minutes=10))}["mailbox rep clock"]
    assert clock.status == "fail" and "behind this machine" in clock.detail
    close = {f.check: f for f in diagnose(cfg, now)}["mailbox rep clock"]
    assert close.status == "ok"


def test_a_config_that_does_not_load_is_one_failed_line(tmp_path: Path) -> None:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text("mailboxes: [{name: x}]\n")
    result = _doctor(cfg)
    assert result.exit_code == 1
    assert result.output.startswith("FAIL  config")
    assert "sequencer.yaml" in result.output
