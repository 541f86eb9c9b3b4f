"""`init`, `check` and `db`: getting a config and a database into shape."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sequencer.cli.base import App, echo_json, json_option, main, pass_app
from sequencer.errors import UserError

if TYPE_CHECKING:
    from sequencer.setup.database import SchemaState


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Write a starter config, the example sequences (follow-up, reengage, referral) and their templates.

    \b
    Example:
      sequencer init my-pipeline
      cd my-pipeline && $EDITOR sequencer.yaml && sequencer check
    """
    starter = resources.files("sequencer") / "starter"
    written, kept = [], []
    with resources.as_file(starter) as src:
        for path in sorted(Path(src).rglob("*")):
            if path.is_dir():
                continue
            rel = path.relative_to(src)
            target = directory / rel
            if target.exists() and not force:
                kept.append(rel)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(rel)
    for rel in written:
        click.echo(f"wrote {directory / rel}")
    for rel in kept:
        click.echo(f"kept  {directory / rel} (exists; --force to overwrite)")
    click.echo(
        f"\nNext: edit {directory / 'sequencer.yaml'} (your mailbox), export the password "
        "variable it names, then run `sequencer check --connect`."
    )


@main.command()
@click.option("--connect", is_flag=True, help="Also log in to every mailbox's SMTP and IMAP server.")
@json_option
@pass_app
def check(app: App, connect: bool, as_json: bool) -> None:
    """Validate the config, every sequence and template; optionally test the servers.

    Reports every problem with file and line and exits 2 if there is any, or 1
    when a server cannot be reached with --connect. Secrets are never printed.

    \b
    Example:
      sequencer check
      sequencer --config team.yaml check --connect
    """
    from sequencer.setup.checks import check_project

    report = check_project(app.config_path, app.clock.now().date(), connect=connect)
    if as_json:
        echo_json(
            {
                "config": str(report.config_path),
                "ok": report.ok,
                "problems": [
                    {"file": p.path, "line": p.line, "message": p.message} for p in report.problems
                ],
                "servers": [p.__dict__ for p in report.servers],
            }
        )
    else:
        for problem in report.problems:
            click.echo(str(problem), err=True)
        for warning in report.warnings:
            click.echo(f"{warning.path}:{warning.line}: warning: {warning.message}", err=True)
        for probe in report.servers:
            mark = "ok  " if probe.ok else "FAIL"
            click.echo(f"{mark} {probe.mailbox} {probe.protocol}: {probe.detail}")
        if not report.problems and report.config is not None:
            n = len(report.config.mailboxes)
            click.echo(f"{report.config_path}: ok ({n} mailbox{'es' if n != 1 else ''})")
    if report.problems:
        raise SystemExit(2)
    if not report.servers_ok:
        raise SystemExit(1)


@main.group()
def db() -> None:
    """Database schema: upgrade and inspect."""


def _state_json(state: SchemaState) -> dict[str, object]:
    return {"current": state.current, "head": state.head, "up_to_date": state.up_to_date}


@db.command("upgrade")
@json_option
@pass_app
def db_upgrade(app: App, as_json: bool) -> None:
    """Apply the shipped migrations (also done automatically on first use).

    \b
    Example:
      sequencer db upgrade
      sequencer db upgrade --json
    """
    from sequencer.setup.database import upgrade_schema

    before, after = upgrade_schema(app.config)
    if as_json:
        echo_json({"before": before.current, **_state_json(after), "upgraded": before != after})
    elif before == after:
        click.echo(f"database is up to date (revision {after.current})")
    else:
        click.echo(
            f"upgraded database from {before.current or 'empty'} to {after.current} "
            f"(head {after.head})"
        )


@db.command("current")
@json_option
@pass_app
def db_current(app: App, as_json: bool) -> None:
    """Print the database's schema revision and the newest one shipped.

    Exits 2 when the schema is behind the installed version (an empty database is
    migrated on first use, so it is not an error).

    \b
    Example:
      sequencer db current
      sequencer db current --json
    """
    from sequencer.setup.database import schema_state

    state = schema_state(app.config)
    if as_json:
        echo_json(_state_json(state))
    else:
        verdict = "up to date" if state.up_to_date else "behind: run `sequencer db upgrade`"
        click.echo(f"revision {state.current or 'none'} (shipped head {state.head}): {verdict}")
    if not state.up_to_date and state.current is not None:
        raise UserError("database schema is behind the installed sequencer")
