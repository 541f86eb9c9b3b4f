"""Enrollment state commands: pause, resume, stop, unenroll, mark-replied.

Each calls one service function (the enrollment state changes) and prints what changed
(or ``--json``; documented in README, "Prospects and enrollment").
"""

from __future__ import annotations

import re
from datetime import date, datetime

import click

from sequencer.cli.base import (
    App,
    F,
    app_sequences,
    cli_actor,
    echo_json,
    format_when,
    json_option,
    main,
    parse_when,
    pass_app,
)
from sequencer.people import state_changes

# --- state changes --------------------------------------------------------------------


def _changes_out(changes: list[state_changes.StateChange], verb: str, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "changed": [
                    {
                        "enrollment_id": c.enrollment_id,
                        "email": c.email,
                        "sequence": c.sequence_id,
                        "from": c.from_status,
                        "to": c.to_status,
                        "reason": c.reason,
                        "next_send_at": c.next_send_at,
                        "paused_until": c.paused_until,
                    }
                    for c in changes
                ]
            }
        )
        return
    for c in changes:
        extra = ""
        if c.to_status == "paused" and c.paused_until:
            extra = f" until {format_when(c.paused_until)}"
        elif c.to_status == "active" and c.next_send_at:
            extra = f"; next touch {format_when(c.next_send_at)}"
        click.echo(f"{verb} {c.email} in {c.sequence_id} ({c.from_status} -> {c.to_status}){extra}")


_target_args = [
    click.argument("email", required=False),
    click.option(
        "--sequence",
        "sequence_id",
        metavar="ID",
        help="Only this sequence (alone: every enrollment in it).",
    ),
    click.option("--reason", metavar="TEXT", help="Why (kept on the timeline)."),
    json_option,
]


def _targeted(f: F) -> F:
    for decorator in reversed(_target_args):
        f = decorator(f)
    return f


@main.command("pause")
@_targeted
@click.option(
    "--until",
    metavar="DATETIME",
    help="Resume automatically then: a date alone (2026-12-20) is the send window's "
    "opening that day in the prospect's zone; a date and time is UTC unless it has an offset.",
)
@pass_app
def pause_cmd(
    app: App,
    email: str | None,
    sequence_id: str | None,
    reason: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Pause a prospect's active enrollments (or a whole sequence with --sequence alone).

    \b
    Example:
      sequencer pause dana@acme.com --reason "on holiday" --until 2026-03-16T08:00
      sequencer pause --sequence quote-follow-up --reason "pricing change"
    """
    changes = state_changes.pause(
        app.db,
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        until=_until(app, email, until),
        now=app.clock.now(),
        actor=cli_actor(),
    )
    _changes_out(changes, "paused", as_json)


def _until(app: App, email: str | None, value: str | None) -> datetime | None:
    """``--until``: a bare date is the prospect's local morning (people.local_dates)."""
    if value is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        from sequencer.people.local_dates import local_morning

        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date", param_hint="--until") from None
        return local_morning(app.db, app.config, email, day)
    return parse_when(value, "--until")


@main.command("resume")
@_targeted
@pass_app
def resume_cmd(
    app: App, email: str | None, sequence_id: str | None, reason: str | None, as_json: bool
) -> None:
    """Resume paused enrollments; an overdue touch goes at the next send-window opening.

    \b
    Example:
      sequencer resume dana@acme.com
    """
    changes = state_changes.resume(
        app.db,
        app.config,
        app_sequences(app),
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        now=app.clock.now(),
        actor=cli_actor(),
    )
    _changes_out(changes, "resumed", as_json)


@main.command("stop")
@_targeted
@pass_app
def stop_cmd(
    app: App, email: str | None, sequence_id: str | None, reason: str | None, as_json: bool
) -> None:
    """Stop open enrollments on purpose (they count as finished).

    \b
    Example:
      sequencer stop dana@acme.com --reason "bought from a competitor"
    """
    changes = state_changes.stop(
        app.db,
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        now=app.clock.now(),
        actor=cli_actor(),
    )
    _changes_out(changes, "stopped", as_json)


@main.command("unenroll")
@_targeted
@pass_app
def unenroll_cmd(
    app: App, email: str | None, sequence_id: str | None, reason: str | None, as_json: bool
) -> None:
    """Take open enrollments out as if never made (not counted as finished).

    \b
    Example:
      sequencer unenroll dana@acme.com --sequence quote-follow-up --reason "wrong sequence"
    """
    changes = state_changes.unenroll(
        app.db,
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        now=app.clock.now(),
        actor=cli_actor(),
    )
    _changes_out(changes, "unenrolled", as_json)


@main.command("mark-replied")
@click.argument("email")
@click.option("--sequence", "sequence_id", metavar="ID", help="Only this sequence.")
@click.option("--note", metavar="TEXT", help="What happened (kept on the timeline).")
@json_option
@pass_app
def mark_replied_cmd(
    app: App, email: str, sequence_id: str | None, note: str | None, as_json: bool
) -> None:
    """Record that the prospect answered outside email (a call); stops their sequences.

    \b
    Example:
      sequencer mark-replied dana@acme.com --note "called back, meeting Thursday"
    """
    changes = state_changes.mark_replied(
        app.db,
        email=email,
        sequence_id=sequence_id,
        note=note,
        now=app.clock.now(),
        actor=cli_actor(),
    )
    _changes_out(changes, "marked replied", as_json)
