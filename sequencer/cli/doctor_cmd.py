"""`doctor`: one line per check of the installation, for the operator."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sequencer.cli.base import App, echo_json, json_option, main, pass_app

MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@main.command("doctor")
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check the config, database revision, each mailbox's servers, clock skew and disk.

    One line per check: ok, warn or FAIL with what was found. Exits 1 when any check
    fails, 0 otherwise (warnings included). Logs in to every mailbox (the password
    variables must be set) and compares the IMAP server's clock with this machine's
    real clock (--at does not apply).

    \b
    Example:
      sequencer doctor
      sequencer doctor --json | jq '.[] | select(.status != "ok")'
    """
    from sequencer.setup.doctor import diagnose

    findings = diagnose(app.config_path, datetime.now(UTC))
    if as_json:
        echo_json([{"check": f.check, "status": f.status, "detail": f.detail} for f in findings])
    else:
        width = max(len(f.check) for f in findings)
        for f in findings:
            click.echo(f"{MARK[f.status]}  {f.check:<{width}}  {f.detail}")
    if any(f.status == "fail" for f in findings):
        raise SystemExit(1)
