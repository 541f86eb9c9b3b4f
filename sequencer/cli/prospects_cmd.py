"""Prospect commands: enroll, import.

Each command parses its options, calls ``sequencer.people.enroll`` or ``sequencer.people.importing``
and prints a line, a table or ``--json`` (documented in README, "Prospects and
enrollment"; keys are only ever added, never renamed). Taking prospects out again is in
``states_cmd``, suppression in ``suppress_cmd``, ``list``/``show`` in ``list_cmd``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sequencer.cli.base import (
    App,
    app_sequences,
    cli_actor,
    echo_json,
    format_when,
    json_option,
    main,
    parse_when,
    pass_app,
)
from sequencer.people import enroll as svc
from sequencer.people.importing import ImportSummary, import_csv


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
      sequencer enroll dana@acme.com --sequence quote-follow-up \\
          --name "Dana Whitfield" --company Acme --tz America/Chicago --set quote_number=Q-1042
    """
    result = svc.enroll(
        app.db,
        app.config,
        app_sequences(app),
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
        actor=cli_actor(),
        allow_parallel=allow_parallel,
        force=force,
        source="cli",
    )
    if as_json:
        echo_json(_enroll_json(result))
        return
    when = f"{format_when(result.next_send_at, result.timezone)} ({result.timezone}) = {format_when(result.next_send_at)}"
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
@click.option(
    "--dry-run", is_flag=True, help="Check every row, show the first rows as parsed; write nothing."
)
@click.option(
    "--allow-parallel", is_flag=True, help="Enroll rows even if active in another sequence."
)
@click.option("--encoding", metavar="NAME", help="File encoding (default: detected), e.g. cp1252.")
@click.option(
    "--delimiter", metavar="CHAR", help="Field separator (default: sniffed from , ; tab |)."
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Read COLUMN as FIELD (email, name, company, deal_value, ... or - to ignore); repeatable.",
)
@click.option(
    "--map-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Saved mapping: one COLUMN=FIELD per line.",
)
@click.option(
    "--decimal",
    type=click.Choice([".", ","]),
    help="Decimal separator of deal values (needed when 1.200 could mean 1.2 or 1200).",
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
    encoding: str | None,
    delimiter: str | None,
    maps: tuple[str, ...],
    map_file: str | None,
    decimal: str | None,
    as_json: bool,
) -> None:
    """Enroll every row of a CSV file; bad rows go to FILE's .rejects.csv with reasons.

    Columns are matched by header: email, name (or first_name + last_name), company,
    owner, timezone (tz), deal_value (value), with the headers of Outlook, Google
    Contacts, HubSpot, Salesforce, Pipedrive and LinkedIn exports; any other column
    becomes a custom field named after its header ("Quote Number" -> quote_number).
    Encoding and separator are detected. Re-running an import enrolls nobody twice.

    \b
    Example:
      sequencer import leads.csv --sequence inbound-lead --owner sam --dry-run
      sequencer import leads.csv --sequence inbound-lead --owner sam
      sequencer import export.csv --sequence inbound-lead --map "Work Mail=email"
    """
    from sequencer.people.importing.columns import parse_mapping, read_mapping_file

    mapping = read_mapping_file(Path(map_file)) if map_file else {}
    mapping.update(parse_mapping(list(maps)))
    with _progress_bar(sys.stderr.isatty() and not as_json) as progress:
        summary = import_csv(
            app.db,
            app.config,
            app_sequences(app),
            file,
            sequence_id=sequence_id,
            now=app.clock.now(),
            owner=owner,
            dry_run=dry_run,
            allow_parallel=allow_parallel,
            actor=cli_actor(),
            progress=progress,
            encoding=encoding,
            delimiter=delimiter,
            mapping=mapping,
            decimal=decimal,
        )
    if as_json:
        echo_json(_import_json(summary))
        return
    _print_import(summary)


@contextmanager
def _progress_bar(show: bool) -> Iterator[Callable[[int, int, int], None] | None]:
    """A transient bar on stderr while the import runs (None when piped or --json).

    The bar fills by bytes (the only total known before the end) but the figures a rep
    reads are rows and rows per second.
    """
    if not show:
        yield None
        return
    from time import monotonic

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    started = monotonic()
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.fields[rows]} rows, {task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=None, rows=0, rate=0)

        def progress(rows: int, done: int, total: int) -> None:
            rate = int(rows / max(monotonic() - started, 1e-3))
            bar.update(task, completed=done, total=total, rows=f"{rows:,}", rate=f"{rate:,}")

        yield progress


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
        "encoding": s.encoding,
        "delimiter": s.delimiter,
        "columns": s.columns,
        "preview": s.preview,
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
        _print_preview(s)
        click.echo("Dry run: nothing was written.")


def _print_preview(s: ImportSummary) -> None:
    """What a rep checks before writing: how columns were read and the first rows as parsed."""
    sep = {"\t": "tab"}.get(s.delimiter, s.delimiter)
    click.echo(f"Read as {s.encoding}, separated by {sep!r}. Columns:")
    for header, name in s.columns.items():
        click.echo(f"  {header} -> {name or '(ignored)'}")
    if not s.preview:
        return
    click.echo(f"First {len(s.preview)} rows as parsed:")
    for r in s.preview:
        value = "" if r["deal_value"] is None else f", deal value {r['deal_value']}"
        extra = ", ".join(f"{k}={v}" for k, v in dict(r["fields"] or {}).items())  # type: ignore[call-overload]
        click.echo(
            f"  row {r['row']}: {r['email']}, {r['name'] or '-'} at {r['company'] or '-'}"
            f" (owner {r['owner'] or '-'}, mailbox {r['mailbox']}{value})"
            + (f" [{extra}]" if extra else "")
        )
