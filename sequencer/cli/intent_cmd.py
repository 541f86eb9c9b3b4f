"""``sequencer intent EMAIL INTENT``: correct what a reply meant (README, "Reply intent")."""

from __future__ import annotations

from datetime import date

import click

from sequencer.cli.base import App, app_sequences, cli_actor, echo_json, json_option, main, pass_app
from sequencer.errors import UserError
from sequencer.people.intent_correct import CHOICES, correct_intent


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--on {value!r}: use a date like 2027-03-01") from None


@main.command("intent")
@click.argument("email")
@click.argument("intent", type=click.Choice(CHOICES, case_sensitive=False))
@click.option("--on", "on", metavar="DATE", help="The day to come back (not_now): YYYY-MM-DD, the prospect's day.")
@json_option
@pass_app
def intent_cmd(app: App, email: str, intent: str, on: str | None, as_json: bool) -> None:
    """Correct the intent of a prospect's last reply; its effects are planned again.

    Cancels what the old intent planned (a re-engagement, referral enrollments, intent
    tasks), carries out the new one's policy, and keeps the correction on the timeline.
    `none` clears the intent.

    \b
    Example:
      sequencer intent dana@acme.com not_now --on 2027-03-01
      sequencer intent dana@acme.com meeting --json
    """
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
