"""Prospect commands: enroll, import, pause/resume/stop/unenroll, mark-replied, suppress, list, show.

Each command parses its options, calls one function of ``sequencer.enroll`` or
``sequencer.importer`` and prints a line, a table or ``--json`` (documented in
README, "Prospects and enrollment"; keys are only ever added, never renamed).
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from sequencer import enroll as svc
from sequencer import state_changes, suppression
from sequencer import timeline as timelines
from sequencer.cli.base import App, echo_json, json_option, main, parse_when, pass_app, print_table
from sequencer.importer import ImportSummary, import_csv
from sequencer.lifecycle import STATES


def _actor() -> str:
    """Who is at the keyboard, for the audit trail: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


def _sequences(app: App) -> dict[str, Any]:
    from sequencer.sequences import load_sequences
    from sequencer.templates import TemplateStore

    config = app.config
    return load_sequences(
        config.sequences_path,
        TemplateStore(config.templates_path),
        [m.name for m in config.mailboxes],
    )


def _when(dt: datetime | None, tz: str | None = None) -> str:
    """``Tue 2026-03-03 08:30 CET`` in ``tz`` (UTC when None); empty for None."""
    if dt is None:
        return ""
    local = dt.astimezone(ZoneInfo(tz)) if tz else dt
    return local.strftime("%a %Y-%m-%d %H:%M %Z")


def _short(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--set")
        out[key.strip()] = value.strip()
    return out


# --- enroll / import ------------------------------------------------------------------


@main.command("enroll")
@click.argument("email")
@click.option(
    "--sequence", "sequence_id", required=True, metavar="ID", help="Sequence to enroll in."
)
@click.option("--name", help="Prospect's full name.")
@click.option("--company", help="Prospect's company.")
@click.option(
    "--owner", metavar="REP", help="Rep who owns the prospect (picks the sending mailbox)."
)
@click.option("--tz", metavar="ZONE", help="Prospect's IANA time zone, e.g. Europe/Berlin.")
@click.option("--value", metavar="AMOUNT", help="Deal value, e.g. 12000.")
@click.option(
    "--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Custom field (repeatable)."
)
@click.option(
    "--start",
    metavar="DATETIME",
    help="Start the sequence's clock at DATETIME (UTC unless an offset is given).",
)
@click.option("--allow-parallel", is_flag=True, help="Enroll even if active in another sequence.")
@click.option(
    "--force",
    is_flag=True,
    help="Enroll again after finishing this sequence (never overrides suppression).",
)
@json_option
@pass_app
def enroll_cmd(
    app: App,
    email: str,
    sequence_id: str,
    name: str | None,
    company: str | None,
    owner: str | None,
    tz: str | None,
    value: str | None,
    pairs: tuple[str, ...],
    start: str | None,
    allow_parallel: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Create or update a prospect and put it into a sequence.

    Prints when the first touch will go out, in the prospect's time zone and UTC.

    \b
    Example:
      sequencer enroll dana@acme.com --sequence quote-followup \\
          --name "Dana Whitfield" --company Acme --tz America/Chicago --set quote_number=Q-1042
    """
    result = svc.enroll(
        app.db,
        app.config,
        _sequences(app),
        email=email,
        sequence_id=sequence_id,
        name=name,
        company=company,
        owner=owner,
        tz=tz,
        value=value,
        fields=_fields(pairs),
        start=parse_when(start, "--start"),
        now=app.clock.now(),
        actor=_actor(),
        allow_parallel=allow_parallel,
        force=force,
        source="cli",
    )
    if as_json:
        echo_json(_enroll_json(result))
        return
    when = f"{_when(result.next_send_at, result.timezone)} ({result.timezone}) = {_when(result.next_send_at)}"
    if result.enrolled:
        click.echo(f"Enrolled {result.email} in {result.sequence_id} (mailbox {result.mailbox}).")
        click.echo(f"First touch: {when}")
        if result.also_active_in:
            click.echo(f"Also active in: {', '.join(result.also_active_in)}")
    else:
        click.echo(f"{result.email}: {result.skipped_reason}; nothing to do.")
        if result.next_send_at:
            click.echo(f"Next touch: {when}")


def _enroll_json(r: svc.EnrollResult) -> dict[str, Any]:
    return {
        "email": r.email,
        "prospect_id": r.prospect_id,
        "prospect_created": r.prospect_created,
        "prospect_updated": r.prospect_updated,
        "sequence": r.sequence_id,
        "enrolled": r.enrolled,
        "enrollment_id": r.enrollment_id,
        "status": r.status,
        "mailbox": r.mailbox,
        "timezone": r.timezone,
        "next_send_at": r.next_send_at,
        "next_send_local": r.next_send_local.isoformat() if r.next_send_local else None,
        "skipped_reason": r.skipped_reason,
        "also_active_in": list(r.also_active_in),
    }


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--sequence",
    "sequence_id",
    required=True,
    metavar="ID",
    help="Sequence to enroll every row in.",
)
@click.option("--owner", metavar="REP", help="Owner for rows without an owner column value.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option(
    "--allow-parallel", is_flag=True, help="Enroll rows even if active in another sequence."
)
@json_option
@pass_app
def import_cmd(
    app: App,
    file: str,
    sequence_id: str,
    owner: str | None,
    dry_run: bool,
    allow_parallel: bool,
    as_json: bool,
) -> None:
    """Enroll every row of a CSV file; bad rows go to FILE's .rejects.csv with reasons.

    Columns are matched by header: email, name (or first_name + last_name), company,
    owner, timezone (tz), deal_value (value); any other column becomes a custom field
    named after its header ("Quote Number" -> quote_number). Re-running an import
    enrolls nobody twice.

    \b
    Example:
      sequencer import leads.csv --sequence inbound-lead --owner sam --dry-run
      sequencer import leads.csv --sequence inbound-lead --owner sam
    """
    config, sequences, now = app.config, _sequences(app), app.clock.now()
    show_bar = sys.stderr.isatty() and not as_json
    if show_bar:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("import", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = import_csv(
                app.db,
                config,
                sequences,
                file,
                sequence_id=sequence_id,
                now=now,
                owner=owner,
                dry_run=dry_run,
                allow_parallel=allow_parallel,
                actor=_actor(),
                progress=progress,
            )
    else:
        summary = import_csv(
            app.db,
            config,
            sequences,
            file,
            sequence_id=sequence_id,
            now=now,
            owner=owner,
            dry_run=dry_run,
            allow_parallel=allow_parallel,
            actor=_actor(),
        )
    if as_json:
        echo_json(_import_json(summary))
        return
    _print_import(summary)


def _import_json(s: ImportSummary) -> dict[str, Any]:
    return {
        "file": s.path,
        "sequence": s.sequence_id,
        "dry_run": s.dry_run,
        "rows": s.rows,
        "enrolled": s.enrolled,
        "created": s.created,
        "updated": s.updated,
        "skipped": s.skipped,
        "rejected": s.rejected,
        "skipped_total": s.skipped_total,
        "rejected_total": s.rejected_total,
        "rejects_file": s.rejects_path,
        "custom_fields": s.custom_fields,
    }


def _print_import(s: ImportSummary) -> None:
    verb = "would enroll" if s.dry_run else "enrolled"
    click.echo(
        f"{s.path}: {s.rows} rows; {verb} {s.enrolled} in {s.sequence_id} "
        f"({s.created} new prospects, {s.updated} updated)."
    )
    for label, counts in (("skipped", s.skipped), ("rejected", s.rejected)):
        for reason, n in sorted(counts.items()):
            click.echo(f"  {label} {n}: {reason.replace('_', ' ')}")
    if s.rejects_path:
        click.echo(f"Rejected rows and reasons: {s.rejects_path}")
    elif s.rejected_total and s.dry_run:
        click.echo("(dry run: no rejects file written)")
    if s.dry_run:
        click.echo("Dry run: nothing was written.")


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
            extra = f" until {_when(c.paused_until)}"
        elif c.to_status == "active" and c.next_send_at:
            extra = f"; next touch {_when(c.next_send_at)}"
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


def _targeted(f: Any) -> Any:
    for decorator in reversed(_target_args):
        f = decorator(f)
    return f


@main.command("pause")
@_targeted
@click.option(
    "--until",
    metavar="DATETIME",
    help="Resume automatically at DATETIME (UTC unless an offset is given).",
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
      sequencer pause --sequence quote-followup --reason "pricing change"
    """
    changes = state_changes.pause(
        app.db,
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        until=parse_when(until, "--until"),
        now=app.clock.now(),
        actor=_actor(),
    )
    _changes_out(changes, "paused", as_json)


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
        _sequences(app),
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        now=app.clock.now(),
        actor=_actor(),
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
        actor=_actor(),
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
      sequencer unenroll dana@acme.com --sequence quote-followup --reason "wrong sequence"
    """
    changes = state_changes.unenroll(
        app.db,
        email=email,
        sequence_id=sequence_id,
        reason=reason,
        now=app.clock.now(),
        actor=_actor(),
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
        app.db, email=email, sequence_id=sequence_id, note=note, now=app.clock.now(), actor=_actor()
    )
    _changes_out(changes, "marked replied", as_json)


# --- suppression ----------------------------------------------------------------------


@main.group("suppress")
def suppress_group() -> None:
    """Addresses and whole domains that are never emailed."""


@suppress_group.command("add")
@click.argument("value")
@click.option(
    "--reason", default="manual", show_default=True, help="Why (unsubscribed, legal, ...)."
)
@json_option
@pass_app
def suppress_add_cmd(app: App, value: str, reason: str, as_json: bool) -> None:
    """Suppress an address, or a domain (@example.com or example.com).

    Every open enrollment of a matching address is stopped.

    \b
    Example:
      sequencer suppress add dana@acme.com --reason "asked by phone"
      sequencer suppress add @competitor.com --reason competitor
    """
    result = suppression.suppress_add(app.db, value, reason=reason, now=app.clock.now(), actor=_actor())
    if as_json:
        echo_json(
            {
                "value": result.value,
                "kind": result.kind,
                "created": result.created,
                "reason": result.reason,
                "stopped": [
                    {"enrollment_id": c.enrollment_id, "email": c.email, "sequence": c.sequence_id}
                    for c in result.stopped
                ],
            }
        )
        return
    state = "suppressed" if result.created else "was already suppressed"
    click.echo(
        f"{result.kind} {result.value} {state}; {len(result.stopped)} open enrollment(s) stopped."
    )
    for c in result.stopped:
        click.echo(f"  stopped {c.email} in {c.sequence_id}")


@suppress_group.command("remove")
@click.argument("value")
@json_option
@pass_app
def suppress_remove_cmd(app: App, value: str, as_json: bool) -> None:
    """Lift a suppression (stopped enrollments stay stopped).

    \b
    Example:
      sequencer suppress remove @acme.com
    """
    removed = suppression.suppress_remove(app.db, value, now=app.clock.now(), actor=_actor())
    key, kind = suppression.parse_suppression(value)
    if as_json:
        echo_json({"value": key, "kind": kind, "removed": removed})
        return
    click.echo(f"{kind} {key} {'no longer suppressed' if removed else 'was not suppressed'}.")


@suppress_group.command("list")
@click.option("--contains", metavar="TEXT", help="Only values containing TEXT.")
@json_option
@pass_app
def suppress_list_cmd(app: App, contains: str | None, as_json: bool) -> None:
    """List suppressed addresses and domains.

    \b
    Example:
      sequencer suppress list --contains acme
    """
    rows = suppression.suppress_list(app.db, contains=contains)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    print_table(
        ((r.value, r.kind, r.reason, r.source, _short(r.created_at)) for r in rows),
        ("value", "kind", "reason", "source", "since (UTC)"),
    )


# --- list / show ----------------------------------------------------------------------


def _row_json(r: timelines.EnrollmentRow) -> dict[str, Any]:
    d = asdict(r)
    d["sequence"] = d.pop("sequence_id")
    return d


@main.command("list")
@click.option("--sequence", "sequence_id", metavar="ID", help="Only this sequence.")
@click.option("--owner", metavar="REP", help="Only this rep's (owner or mailbox name).")
@click.option("--status", type=click.Choice(STATES), help="Only enrollments in this state.")
@click.option(
    "--due-before", metavar="DATETIME", help="Only those with a next touch before DATETIME."
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@json_option
@pass_app
def list_cmd(
    app: App,
    sequence_id: str | None,
    owner: str | None,
    status: str | None,
    due_before: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Where every lead stands: step, status, last and next touch, days in the current state.

    \b
    Example:
      sequencer list --sequence quote-followup --status active
      sequencer list --due-before 2026-03-03 --json
    """
    rows = timelines.list_enrollments(
        app.db,
        now=app.clock.now(),
        sequence_id=sequence_id,
        owner=owner,
        status=status,
        due_before=parse_when(due_before, "--due-before"),
        limit=limit,
    )
    if as_json:
        echo_json([_row_json(r) for r in rows])
        return
    print_table(
        (
            (
                r.email,
                r.sequence_id,
                r.step,
                r.status,
                _short(r.last_touch_at),
                _short(r.next_send_at),
                r.wait_reason or (r.status_reason if r.status != "active" else ""),
                f"{r.days_in_state:g}",
            )
            for r in rows
        ),
        (
            "prospect",
            "sequence",
            "step",
            "status",
            "last touch (UTC)",
            "next touch (UTC)",
            "why",
            "days",
        ),
    )


@main.command("show")
@click.argument("email")
@json_option
@pass_app
def show_cmd(app: App, email: str, as_json: bool) -> None:
    """A prospect's timeline: enrollments, touches, replies and every state change.

    \b
    Example:
      sequencer show dana@acme.com
    """
    t = timelines.timeline(app.db, email, now=app.clock.now())
    if as_json:
        echo_json(
            {
                "email": t.email,
                "display_email": t.display_email,
                "name": t.name,
                "company": t.company,
                "owner": t.owner,
                "timezone": t.timezone,
                "deal_value": t.deal_value,
                "fields": t.fields,
                "suppressed_by": t.suppressed_by,
                "enrollments": [_row_json(r) for r in t.enrollments],
                "timeline": [
                    {
                        **{k: v for k, v in asdict(e).items() if k != "sequence_id"},
                        "sequence": e.sequence_id,
                    }
                    for e in t.entries
                ],
            }
        )
        return
    who = " ".join(
        x for x in (t.name, f"<{t.display_email}>", f"({t.company})" if t.company else None) if x
    )
    click.echo(who)
    facts = [
        f"owner {t.owner}" if t.owner else None,
        f"tz {t.timezone}" if t.timezone else None,
        f"value {t.deal_value}" if t.deal_value is not None else None,
    ]
    if any(facts):
        click.echo("  " + ", ".join(f for f in facts if f))
    if t.suppressed_by:
        click.echo(f"  SUPPRESSED by {t.suppressed_by}")
    print_table(
        (
            (r.sequence_id, r.step, r.status, r.status_reason, _short(r.next_send_at))
            for r in t.enrollments
        ),
        ("sequence", "step", "status", "reason", "next touch (UTC)"),
        title="Enrollments",
    )
    print_table(
        (
            (_short(e.at), e.sequence_id, e.step, f"{e.source}:{e.kind}", e.actor, _describe(e))
            for e in t.entries
        ),
        ("when (UTC)", "sequence", "step", "what", "who", "detail"),
        title="Timeline",
    )


def _describe(e: timelines.TimelineEntry) -> str:
    if e.source == "touch":
        return f"{e.subject} {e.message_id}"
    if e.source == "inbound":
        snippet = (e.detail.get("snippet") or "")[:60]
        return " ".join(x for x in (f"from {e.detail.get('from')}", e.subject, snippet) if x)
    return e.reason or ""
