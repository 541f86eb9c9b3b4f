"""`suppress add|remove|list`: addresses and domains that are never emailed.

Each calls one suppression service function and prints a line, a table or
``--json`` (documented in README, "Prospects and enrollment").
"""

from __future__ import annotations

from dataclasses import asdict

import click

from sequencer.cli.base import (
    App,
    cli_actor,
    echo_json,
    format_short,
    json_option,
    main,
    pass_app,
    print_table,
)
from sequencer.people import suppression

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
    result = suppression.suppress_add(
        app.db, value, reason=reason, now=app.clock.now(), actor=cli_actor()
    )
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
    removed = suppression.suppress_remove(app.db, value, now=app.clock.now(), actor=cli_actor())
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
        ((r.value, r.kind, r.reason, r.source, format_short(r.created_at)) for r in rows),
        ("value", "kind", "reason", "source", "since (UTC)"),
    )
