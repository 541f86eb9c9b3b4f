"""A new project from ``sequencer init`` handles "not now" and referrals out of the box.

The starter ships the re-engagement and referral sequences with their templates, and its
config names them (``reengage``/``referrals``), so ``sequencer check`` passes and the
first re-engagement touch previews with the prospect's own words.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

from click.testing import CliRunner, Result

from sequencer.cli import main
from sequencer.project import load_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {"SEQUENCER_MAIL_PASSWORD": "x"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)


def test_init_ships_reengage_and_referral_and_checks_clean(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    project = tmp_path / "p"
    for path in ("sequences/reengage.yaml", "sequences/referral.yaml", "templates/reengage/01-back.txt",
                 "templates/reengage/02-nudge.txt", "templates/referral/01-intro.txt",
                 "templates/referral/02-follow-up.txt"):
        assert (project / path).exists(), path
    cfg = project / "sequencer.yaml"
    config = load_config(cfg)
    assert (config.reengage.sequence, config.reengage.default_delay_days, config.referrals.sequence) == (
        "reengage", 90, "referral")
    checked = run("--config", str(cfg), "check")
    validated = run("--config", str(cfg), "validate")
    assert validated.exit_code == 0, validated.output + validated.stderr
    assert "reengage.yaml: ok" in validated.output and "referral.yaml: ok" in validated.output
    assert checked.exit_code == 0, checked.output + checked.stderr
    shown = run("--config", str(cfg), "preview", "reengage", "--sample")
    assert shown.exit_code == 0, shown.output
    assert "try me again in March" in shown.output
    intro = run("--config", str(cfg), "preview", "referral", "--sample")
    assert intro.exit_code == 0 and "Dana suggested I write to you" in intro.output


def test_the_starters_copies_are_the_shipped_examples() -> None:
    """One text for both: sequences/ and templates/ in the repository are the README's examples."""
    starter = ROOT / "sequencer" / "starter"
    for rel in ("sequences/reengage.yaml", "sequences/referral.yaml"):
        assert filecmp.cmp(ROOT / rel, starter / rel, shallow=False), rel
    for folder in ("templates/reengage", "templates/referral"):
        compared = filecmp.dircmp(ROOT / folder, starter / folder)
        assert not (compared.left_only or compared.right_only or compared.diff_files), folder
