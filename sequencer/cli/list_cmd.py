"""`list` and `show`: where every lead stands, and one prospect's timeline.

Both read the enrollment listing and timeline service and print a table or ``--json``
(documented in README, "Prospects and enrollment"; keys are only ever added, never
renamed).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from sequencer.cli.base import (
    App,
    echo_json,
    format_both,
    format_local,
    json_option,
    main,
    parse_when,
    pass_app,
    print_table,
)
from sequencer.core.lifecycle import STATES
from sequencer.people import timeline as timelines

DEFAULT_LIMIT = 50

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
    "--since", metavar="DATETIME", help="Only those whose next touch is at or after DATETIME."
)
@click.option(
    "--until",
    "--due-before",
    "until",
    metavar="DATETIME",
    help="Only those whose next touch is at or before DATETIME (--due-before: the old name).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help=f"At most this many rows (default {DEFAULT_LIMIT} in the table, all with --json).",
)
@click.option("--all", "show_all", is_flag=True, help="Every row, however many.")
@json_option
@pass_app
def list_cmd(
    app: App,
    sequence_id: str | None,
    owner: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Where every lead stands: step, status, last and next touch, days in the current state.

    Times are the rep's (the mailbox's time zone); --json gives UTC. The table shows
    the first 50 rows unless --limit or --all says otherwise.

    \b
    Example:
      sequencer list --sequence quote-follow-up --status active
      sequencer list --until 2026-03-03 --json
    """
    table_limit = None
    if not as_json and not show_all and limit is None:
        table_limit = DEFAULT_LIMIT
        limit = DEFAULT_LIMIT + 1  # one more says whether there are more
    if show_all:
        limit = None
    rows = timelines.list_enrollments(
        app.db,
        now=app.clock.now(),
        sequence_id=sequence_id,
        owner=owner,
        status=status,
        due_after=parse_when(since, "--since"),
        due_before=parse_when(until, "--until"),
        limit=limit,
    )
    if as_json:
        echo_json([_row_json(r) for r in rows])
        return
    more = table_limit is not None and len(rows) > table_limit
    rows = rows[:table_limit] if more else rows
    zones = {m.name: m.timezone or app.config.timezone for m in app.config.mailboxes}
    print_table(
        (
            (
                r.email,
                r.name,
                r.company,
                r.sequence_id,
                r.step,
                r.status,
                format_local(r.last_touch_at, zones.get(r.mailbox)),
                "" if r.status == "paused" else format_local(r.next_send_at, zones.get(r.mailbox)),
                r.wait_reason or (r.status_reason if r.status != "active" else ""),
                f"{r.days_in_state:g}",
            )
            for r in rows
        ),
        (
            "prospect",
            "name",
            "company",
            "sequence",
            "step",
            "status",
            "last touch",
            "next touch",
            "why",
            "days",
        ),
        no_wrap=("prospect",),
        optional=(
            "sequence",
            "next touch",
            "status",
            "company",
            "name",
            "last touch",
            "why",
            "days",
        ),
    )
    if more:
        click.echo(f"(first {table_limit} shown; --limit N or --all for more)")


@main.command("show")
@click.argument("email")
@json_option
@pass_app
def show_cmd(app: App, email: str, as_json: bool) -> None:
    """A prospect's timeline: enrollments, touches, replies and every state change.

    Times are the rep's (the mailbox's zone), with the prospect's after the next
    touch when their clock differs; --json gives UTC.

    \b
    Example:
      sequencer show dana@acme.com
    """
    from sequencer.people.waiting import next_touch_waits

    t = timelines.timeline(app.db, email, now=app.clock.now())
    waits = next_touch_waits(app.db, t.enrollments, now=app.clock.now())
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
                "stage": t.stage,
                "stage_since": t.stage_since,
                "referred_by": t.referred_by,
                "enrollments": [
                    {**_row_json(r), "waits_for": waits[r.enrollment_id]} for r in t.enrollments
                ],
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
    if t.referred_by:
        click.echo(f"  referred by {t.referred_by}")
    for r in t.enrollments:
        if r.intent:
            back = f", back on {r.reengage_on.isoformat()}" if r.reengage_on else ""
            click.echo(f"  intent ({r.sequence_id}): {r.intent}{back} - {r.intent_evidence or ''}")
    zones = {m.name: m.timezone or app.config.timezone for m in app.config.mailboxes}
    rep_zone = next((zones.get(r.mailbox) for r in t.enrollments if zones.get(r.mailbox)), app.config.timezone)
    print_table(
        (
            (r.sequence_id, r.step, r.status, r.status_reason,
             "" if r.status == "paused" else format_both(r.next_send_at, zones.get(r.mailbox) or rep_zone, t.timezone),
             waits[r.enrollment_id])
            for r in t.enrollments
        ),
        ("sequence", "step", "status", "reason", "next touch", "waits for"),
        title="Enrollments",
    )  # fmt: skip
    print_table(
        (
            (
                format_local(e.at, rep_zone),
                e.sequence_id,
                e.step,
                f"{e.source}:{e.kind}",
                e.actor,
                _describe(e),
            )
            for e in t.entries
        ),
        ("when", "sequence", "step", "what", "who", "detail"),
        title="Timeline",
    )


def _describe(e: timelines.TimelineEntry) -> str:
    if e.source == "touch":
        return f"{e.subject} {e.message_id}"
    if e.source == "inbound":
        snippet = (e.detail.get("snippet") or "")[:60]
        return " ".join(x for x in (f"from {e.detail.get('from')}", e.subject, snippet) if x)
    return e.reason or ""
