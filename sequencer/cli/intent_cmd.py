"""``sequencer intent EMAIL INTENT``: correct what a reply meant; ``sequencer intent export``:
the corrections as labelled samples (README, "Reply intent")."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click

from sequencer.cli.base import (
    App,
    app_sequences,
    cli_actor,
    echo_json,
    json_option,
    main,
    parse_when,
    pass_app,
)
from sequencer.errors import UserError
from sequencer.people.intent_correct import CHOICES, correct_intent
from sequencer.people.intent_samples import export_samples


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--on {value!r}: use a date like 2027-03-01") from None


class IntentGroup(click.Group):
    """``intent export ...`` runs the subcommand; anything else (``intent EMAIL INTENT``,
    the stable form) is the correction, so existing scripts keep working."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                                list[str]]:
        if args and args[0] in self.commands and args[0] != "correct":
            return super().resolve_command(ctx, args)
        return "correct", self.commands["correct"], args

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "EMAIL INTENT [--on DATE] [--json] | export [OPTIONS]")


@main.group("intent", cls=IntentGroup, invoke_without_command=False,
            context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
def intent_cmd() -> None:
    """Correct the intent of a prospect's last reply (its effects are planned again), or export the corrections.

    `sequencer intent EMAIL INTENT [--on DATE]` cancels what the old intent planned (a
    re-engagement, referral enrollments, intent tasks), carries out the new one's policy,
    and keeps the correction on the timeline. `none` clears the intent. INTENT is one of
    interested, meeting, not_now, referral, not_interested, wrong_person, unsubscribe, none.

    `sequencer intent export` prints every corrected reply as a labelled sample.

    \b
    Example:
      sequencer intent dana@acme.com not_now --on 2027-03-01
      sequencer intent dana@acme.com meeting --json
      sequencer intent export --since 2027-01-01 --json
    """


@intent_cmd.command("correct", hidden=True)
@click.argument("email")
@click.argument("intent", type=click.Choice(CHOICES, case_sensitive=False))
@click.option("--on", "on", metavar="DATE", help="The day to come back (not_now): YYYY-MM-DD, the prospect's day.")
@json_option
@pass_app
def correct_cmd(app: App, email: str, intent: str, on: str | None, as_json: bool) -> None:
    """Correct the intent of a prospect's last reply (``sequencer intent EMAIL INTENT``)."""
    result = correct_intent(app.db, app.config, app_sequences(app), email, intent, on=_day(on),
                            actor=cli_actor(), now=app.clock.now())
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"{result.email}: intent {result.previous or 'none'} -> {result.intent or 'none'}")
    for enrollment_id in result.cancelled:
        click.echo(f"  cancelled planned enrollment {enrollment_id}")
    for line in result.plan:
        click.echo(f"  {line}")


@intent_cmd.command("export")
@click.option("--since", metavar="DATE", help="Only replies last corrected on or after DATE (ISO, UTC).")
@click.option("--until", metavar="DATE", help="Only corrections before DATE (ISO, UTC).")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON object per line (for training sets).")
@json_option
@pass_app
def export_cmd(app: App, since: str | None, until: str | None, as_jsonl: bool, as_json: bool) -> None:
    """Every corrected reply as a labelled sample: its text, the rules' intent, the person's.

    One sample per reply (a reply corrected twice carries its last label). The text is
    the reply's new text as the classifier read it: quotes and signature stripped,
    whitespace collapsed, at most 300 characters.

    \b
    Example:
      sequencer intent export
      sequencer intent export --since 2027-01-01 --until 2027-04-01 --json
      sequencer intent export --jsonl > intent-samples.jsonl
    """
    samples = [x.as_dict() for x in export_samples(app.db, since=parse_when(since, "--since"),
                                                    until=parse_when(until, "--until"))]
    if as_json:
        echo_json(samples)
        return
    if as_jsonl:
        for sample in samples:
            click.echo(json.dumps(sample, ensure_ascii=False))
        return
    if not samples:
        click.echo("No corrected replies.")
        return
    for x in samples:
        _print(x)


def _print(x: dict[str, Any]) -> None:
    click.echo(f"{x['corrected_at']}  {x['email']}  {x['classified'] or 'none'} -> {x['corrected']}"
               f"  (by {x['corrected_by']}{', ' + str(x['corrections']) + ' corrections' if x['corrections'] > 1 else ''})")
    click.echo(f"  {x['text']}")
