"""`todo`, `done`, `skip`: the rep's task list and closing its tasks (``sequencer.people.tasks``)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import cast

import click

from sequencer.cli.base import (
    App,
    app_sequences,
    echo_json,
    json_option,
    main,
    pass_app,
    print_table,
)


def _when(value: datetime | None, tz: tzinfo | None = None) -> str:
    """The rep's local time with its zone (``2026-03-03 08:30 CST``): a rep reads local time."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if value else ""


@main.command("todo")
@click.option("--owner", metavar="REP", help="Only this rep's tasks (default: everyone's).")
@click.option(
    "--due",
    type=click.Choice(["today", "overdue", "all"]),
    default="today",
    show_default=True,
    help="today: due by the end of the rep's day; overdue: past due now; all: every open task.",
)
@json_option
@pass_app
def todo_cmd(app: App, owner: str | None, due: str, as_json: bool) -> None:
    """The rep's open tasks, oldest first, with the prospect, deal value and thread.

    Task steps of a sequence create these; the sequence waits until each is done
    or skipped. Times are the rep's local time (their mailbox's zone); --json gives UTC.
    Tasks of paused leads are left out until the lead is resumed.

    \b
    Example:
      sequencer todo --owner sam
      sequencer todo --due overdue --json
    """
    from sequencer.people import tasks

    views = tasks.todo(app.db, app.config, app.clock, owner=owner, due=cast(tasks.Due, due))
    if as_json:
        echo_json([v.as_dict() for v in views])
        return
    if not views:
        click.echo("nothing to do" + (f" for {owner}" if owner else ""))
        return
    rows = [
        [
            v.id,
            _when(v.due_at, tasks.owner_zone(app.config, v.owner)),
            f"{v.overdue_hours:g}h" if v.overdue_hours else "",
            v.owner,
            v.kind,
            v.title,
            f"{v.prospect_name or ''} <{v.prospect}>".strip(),
            v.company,
            "" if v.deal_value is None else f"{v.deal_value:,.0f}",
            f"{v.sequence_id} #{v.step}",
            v.touches_sent,
            v.thread_subject,
        ]
        for v in views
    ]
    print_table(
        rows,
        [
            "id",
            "due",
            "overdue",
            "owner",
            "kind",
            "task",
            "prospect",
            "company",
            "deal",
            "step",
            "sent",
            "thread",
        ],
    )


@main.command("done")
@click.argument("task_id", metavar="TASK", type=int)
@click.option("--note", metavar="TEXT", help="What happened (shown on the prospect's timeline).")
@json_option
@pass_app
def done_cmd(app: App, task_id: int, note: str | None, as_json: bool) -> None:
    """Mark a task done; the sequence moves on to its next step.

    \b
    Example:
      sequencer done 12 --note "proposal sent, call booked for Thursday"
    """
    _close(app, task_id, "done", note, as_json)


@main.command("skip")
@click.argument("task_id", metavar="TASK", type=int)
@click.option(
    "--reason", metavar="TEXT", required=True, help="Why it is skipped (shown on the timeline)."
)
@json_option
@pass_app
def skip_cmd(app: App, task_id: int, reason: str, as_json: bool) -> None:
    """Skip a task with a reason; the sequence moves on to its next step.

    \b
    Example:
      sequencer skip 12 --reason "they asked for email only"
    """
    _close(app, task_id, "skipped", reason, as_json)


def _close(app: App, task_id: int, status: str, note: str | None, as_json: bool) -> None:
    from sequencer.people import tasks

    closed = tasks.close_task(
        app.db,
        app.config,
        app_sequences(app),
        app.clock,
        task_id,
        status=status,
        note=note,  # type: ignore[arg-type]
    )
    if as_json:
        echo_json({**closed.task.as_dict(), "outcome": closed.outcome})
        return
    t = closed.task
    click.echo(f"task {t.id} {t.status}: {t.title} ({t.prospect}); {closed.outcome}")
