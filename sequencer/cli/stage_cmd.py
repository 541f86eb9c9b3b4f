"""``sequencer stage EMAIL STAGE``: move a deal by hand (README, "Deal stages")."""

from __future__ import annotations

import click

from sequencer.cli.base import App, cli_actor, echo_json, json_option, main, pass_app
from sequencer.people import stages


@main.command("stage")
@click.argument("email")
@click.argument("stage", type=click.Choice(stages.STAGES, case_sensitive=False))
@click.option("--note", metavar="TEXT", help="Why (kept on the lead's timeline).")
@json_option
@pass_app
def stage_cmd(app: App, email: str, stage: str, note: str | None, as_json: bool) -> None:
    """Move a prospect's deal to STAGE (any stage; every move is an event with its actor).

    \b
    Example:
      sequencer stage dana@acme.com won --note "signed the order form"
    """
    now_stage, before = stages.move_by_email(
        app.db, email, stage, actor=cli_actor(), now=app.clock.now(), note=note
    )
    if as_json:
        echo_json({"email": email.strip().lower(), "stage": now_stage, "from": before, "moved": before is not None})
        return
    if before is None:
        click.echo(f"{email}: already {now_stage}")
    else:
        click.echo(f"{email}: {before} -> {now_stage}")
