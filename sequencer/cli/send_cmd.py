"""`tick`, `run`, `status` and `outbox`: driving the sending engine and watching it."""

from __future__ import annotations

import os
import socket
import sys
from datetime import datetime
from typing import Any

import click

from sequencer.cli.base import App, echo_json, json_option, main, parse_when, pass_app, print_table
from sequencer.clock import ManualClock
from sequencer.errors import SequencerError

# `tick`'s exit status for cron (README, "Sending"): 0 every mailbox healthy, 3 a mailbox
# is paused or unreachable (its due touches were not attempted), 1 an internal error.
EXIT_MAILBOX_PAUSED = 3
EXIT_INTERNAL = 1


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _poll_hook(app: App, sequences: dict[str, Any], no_poll: bool, dry_run: bool = False) -> Any:
    """Before every tick: poll the inboxes (a reply stops the next touch), resume ended
    pauses, send the digest and rep reminders when due (sequencer.worker.housekeeping)."""
    if dry_run:
        return None
    from sequencer import worker

    db, config, clock = app.db, app.config, app.clock
    worker_id = _worker_id()
    return lambda: worker.housekeeping(
        db, config, sequences, clock, worker_id=worker_id, poll=not no_poll
    )


def _short(dt: datetime | None, tz: str | None = None) -> str:
    if dt is None:
        return "-"
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo(tz) if tz else None).strftime("%Y-%m-%d %H:%M")


@main.command("tick")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be sent now; send and change nothing."
)
@click.option(
    "--at", "at", metavar="DATETIME", help="Pretend the time is DATETIME (ISO; naive = UTC)."
)
@click.option("--no-poll", is_flag=True, help="Skip polling the inboxes first (not recommended).")
@json_option
@pass_app
def tick_cmd(app: App, dry_run: bool, at: str | None, no_poll: bool, as_json: bool) -> None:
    """Poll the inboxes, then send every touch that is due now. One pass, for cron.

    Exit status: 0 every mailbox healthy; 3 a mailbox is paused or unreachable (one
    line per mailbox on stderr: why, and how many due touches were not attempted);
    1 an internal error; 2 a mistake in the config.

    \b
    Example:
      sequencer tick
      sequencer tick --dry-run
      */5 * * * *  sequencer --config /etc/sequencer.yaml tick   # crontab
    """
    from sequencer.outbound import runner as send

    when = parse_when(at)
    if when is not None:
        app.clock = ManualClock(when)
    sequences, store = app.project.sequences, app.project.templates
    try:
        result = send.tick(
            app.db,
            app.config,
            sequences,
            store,
            app.clock,
            worker_id=_worker_id(),
            dry_run=dry_run,
            poll_hook=_poll_hook(app, sequences, no_poll, dry_run),
        )
    except (SequencerError, click.ClickException):
        raise  # one line on stderr: exit 2 for a mistake in the config, 1 otherwise
    except Exception as exc:  # noqa: BLE001 - cron must see exit 1 and one line, not a trace
        click.echo(f"error: internal error in tick: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    if as_json:
        echo_json(result.as_dict())
    elif dry_run:
        if not result.planned:
            click.echo("nothing would be sent now")
        else:
            print_table(
                [(p["mailbox"], p["to"], p["step"], p["subject"]) for p in result.planned],
                ["mailbox", "to", "step", "subject"],
                title="would send now",
            )
    else:
        _print_tick(result)
    for line in not_attempted_lines(result):
        click.echo(line, err=True)
    if not as_json:
        for error in result.errors:
            click.echo(f"warning: {error}", err=True)
    if not result.healthy:
        sys.exit(EXIT_MAILBOX_PAUSED)


def not_attempted_lines(result: Any) -> list[str]:
    """One line per paused or unreachable mailbox: why, and what it did not attempt."""
    stopped = {**result.unreachable, **result.paused}
    return [
        f"mailbox {name} paused: {reason}; "
        f"{result.not_attempted.get(name, 0)} touches not attempted"
        for name, reason in sorted(stopped.items())
    ]


def _print_tick(result: Any) -> None:
    parts = [f"sent {result.sent}"]
    for label, n in (
        ("retrying", result.retrying),
        ("bounced", result.bounced),
        ("failed", result.failed),
        ("held", result.held),
        ("confirmed after crash", result.reconciled),
    ):
        if n:
            parts.append(f"{label} {n}")
    parts += [f"moved ({reason}) {n}" for reason, n in sorted(result.deferred.items())]
    parts += [f"{state} {n}" for state, n in sorted(result.finished.items())]
    click.echo(", ".join(parts))


@main.command("run")
@click.option(
    "--interval",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Longest sleep between ticks (pacing may wake the worker sooner).",
)
@click.option("--once", is_flag=True, help="One tick, then exit (like `tick`, with run's logging).")
@click.option("--no-poll", is_flag=True, help="Do not poll the inboxes (another process does).")
@click.option(
    "--no-idle", is_flag=True, help="Do not hold IMAP IDLE connections; poll every interval only."
)
@pass_app
def run_cmd(app: App, interval: float, once: bool, no_poll: bool, no_idle: bool) -> None:
    """Keep sending: tick, sleep, repeat, until SIGTERM/SIGINT (in-flight sends finish first).

    Before each tick the inboxes are polled, ended pauses resumed, and the daily
    digest and rep reminders sent when due. Each mailbox's INBOX is watched with
    IMAP IDLE, so a reply wakes the worker at once instead of at the next interval.
    Logs one JSON line per tick on stderr (use -v to see them). Several workers may
    run against one PostgreSQL database, on one machine or several.

    \b
    Example:
      sequencer -v run --interval 20
    """
    import logging

    from sequencer.outbound import runner as send

    if logging.getLogger().level > logging.INFO:
        logging.getLogger("sequencer.outbound.engine").setLevel(logging.INFO)
    sequences, store = app.project.sequences, app.project.templates
    send.run(
        app.db,
        app.config,
        sequences,
        store,
        app.clock,
        worker_id=_worker_id(),
        interval=interval,
        once=once,
        poll_hook=_poll_hook(app, sequences, no_poll),
        wake_source=None if (no_poll or no_idle or once) else _idle_source(app),
    )


def _idle_source(app: App) -> Any:
    from sequencer.worker import IdleWatchers

    def start(wake: Any) -> Any:
        watchers = IdleWatchers(list(app.config.mailboxes), wake)
        watchers.start()
        return watchers.stop

    return start


@main.command("status")
@json_option
@pass_app
def status_cmd(app: App, as_json: bool) -> None:
    """Per mailbox: state, sent today / limit, next due, backlog and why, held, last poll, forecast.

    The forecast, for today and tomorrow: what will send, and one number per reason
    the rest waits (send window, poll, held, pause, daily limit, pace; tasks beside).

    \b
    Example:
      sequencer status
      sequencer status --json
    """
    from sequencer.outbound import operations as outbox_ops

    rows = outbox_ops.status(app.db, app.config, app.clock)
    if as_json:
        echo_json({"mailboxes": [{**r.__dict__, **_state(r)} for r in rows]})
        return
    tz = app.config.timezone
    print_table(
        [
            (
                r.name,
                f"{r.sent_today}/{r.daily_limit}",
                _short(r.next_due, tz),
                ", ".join(f"{k} {v}" for k, v in sorted(r.overdue.items())) or "-",
                ", ".join(f"{k} {v}" for k, v in sorted(r.waiting.items())) or "-",
                r.held or "-",
                _short(r.last_poll_at, tz),
                r.paused_reason or (f"poll: {r.last_poll_error}" if r.last_poll_error else "ok"),
            )
            for r in rows
        ],
        [
            "mailbox",
            "sent today",
            f"next due ({tz})",
            "overdue (why)",
            "waiting",
            "held",
            "last poll",
            "state",
        ],
    )
    forecast_keys = ("due", "will_send", "window", "poll", "held", "pause", "daily_limit", "pace", "task")
    print_table(
        [
            (r.name, day, *(r.forecast[day][k] or "-" for k in forecast_keys))
            for r in rows
            for day in ("today", "tomorrow")
            if r.forecast
        ],
        ["mailbox", "day", "due", "will send", "window", "poll", "held", "paused",
         "daily limit", "pace", "on a task"],
        title="forecast: touches due by the end of the day, and why the rest wait",
    )
    copies = sum(r.sent_copies_missing for r in rows)
    if copies:
        click.echo(f"{copies} Sent-folder copy(ies) not filed yet: the next tick retries them")
    held = sum(r.held for r in rows)
    if held:
        click.echo(
            f"{held} touch(es) held after a crash: see `sequencer outbox list`, then `sequencer outbox resolve ID sent|resend`"
        )


def _state(r: Any) -> dict[str, str | None]:
    """``state``/``reason`` per INTERFACES: a failed poll is not ok, and says why."""
    if r.paused_reason:
        state = "unreachable" if r.pause_kind == "unreachable" else "paused"
        return {"state": state, "reason": r.paused_reason}
    if r.last_poll_error:
        return {"state": "unreachable", "reason": f"poll: {r.last_poll_error}"}
    return {"state": "ok", "reason": None}


@main.group("outbox")
def outbox_group() -> None:
    """Touches claimed but not (yet) sent: held after a crash, retrying, failed."""


@outbox_group.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list deferred (retrying) and failed rows."
)
@json_option
@pass_app
def outbox_list_cmd(app: App, show_all: bool, as_json: bool) -> None:
    """Held and in-flight touches (with --all: deferred and failed too).

    \b
    Example:
      sequencer outbox list
      sequencer outbox list --all --json
    """
    from sequencer.outbound import operations as outbox_ops

    # Without --all: the touches that still need someone (the outbox statuses users see).
    statuses = ("held", "queued", "sending")
    if show_all:
        statuses += ("deferred", "failed")
    rows = outbox_ops.outbox_list(app.db, statuses=statuses)
    if as_json:
        echo_json([r.__dict__ for r in rows])
        return
    if not rows:
        click.echo("outbox is empty")
        return
    print_table(
        [
            (
                r.id,
                r.status,
                r.mailbox,
                r.to,
                r.step,
                r.subject,
                _short(r.claimed_at),
                r.error or "",
            )
            for r in rows
        ],
        ["id", "status", "mailbox", "to", "step", "subject", "claimed", "why"],
    )


@outbox_group.command("resolve")
@click.argument("message_id", type=int, metavar="ID")
@click.argument("decision", type=click.Choice(["sent", "resend"]))
@pass_app
def outbox_resolve_cmd(app: App, message_id: int, decision: str) -> None:
    """Settle a held touch: it did arrive (sent) or it did not (resend, same Message-ID).

    Check the prospect's side or the server's logs first: a wrong `resend` sends twice,
    a wrong `sent` skips a touch.

    \b
    Example:
      sequencer outbox resolve 412 sent
      sequencer outbox resolve 413 resend
    """
    from sequencer.outbound import operations as outbox_ops

    sequences = app.project.sequences
    click.echo(outbox_ops.resolve(app.db, app.config, sequences, app.clock, message_id, decision))


@outbox_group.command("unpause")
@click.argument("mailbox")
@pass_app
def outbox_unpause_cmd(app: App, mailbox: str) -> None:
    """Let a mailbox paused by an error (e.g. refused login) send again.

    \b
    Example:
      sequencer outbox unpause sam
    """
    from sequencer.outbound import operations as outbox_ops

    app.config.mailbox(mailbox)
    if outbox_ops.unpause(app.db, app.clock, mailbox):
        click.echo(f"mailbox {mailbox} sends again from the next tick")
    else:
        click.echo(f"mailbox {mailbox} was not paused")
