"""`classify`: show how the poller would read saved .eml files, and which rule decided.

Needs no config or database, so a rep or an operator can check a puzzling message
("why did this out-of-office stop my sequence?") from a file saved out of their mail client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sequencer.classify import Verdict, classify
from sequencer.cli.base import echo_json, json_option, main
from sequencer.errors import UserError


@main.command("classify")
@click.argument("files", nargs=-1, required=True, metavar="FILE.eml...")
@click.option(
    "--own",
    "own",
    multiple=True,
    metavar="ADDRESS",
    help="One of our own addresses (repeatable): mail from it is our copy, never a reply.",
)
@click.option(
    "--unsubscribe-address",
    "unsubscribe",
    multiple=True,
    metavar="ADDRESS",
    help="An opt-out address (the List-Unsubscribe mailto); +TOKEN variants match too.",
)
@json_option
def classify_command(
    files: tuple[str, ...], own: tuple[str, ...], unsubscribe: tuple[str, ...], as_json: bool
) -> None:
    """Classify saved messages as reply, auto_reply, bounce, complaint, unsubscribe, unrelated or own.

    Prints, per file, the kind, bounce severity and failed recipients (per recipient: the
    DSN's Action and Status), a complaint's complainant, the Message-IDs the message refers
    to (what the poller matches against our touches), the language of the human text and
    the rule that decided, with its evidence.

    \b
    Example:
      sequencer classify ~/Downloads/undeliverable.eml --own sam@rep.example
      sequencer classify inbox/*.eml --json | jq '.[] | select(.kind == "reply")'
    """
    # Read everything first: a bad path is one error line, not a half-printed report.
    raw: list[tuple[str, bytes]] = []
    for name in files:
        try:
            raw.append((name, Path(name).read_bytes()))
        except OSError as exc:
            raise UserError(f"{name}: cannot read ({exc.strerror or exc})") from None
    verdicts = [
        (name, classify(data, own_addresses=set(own), unsubscribe_addresses=set(unsubscribe)))
        for name, data in raw
    ]
    if as_json:
        echo_json([_as_dict(name, verdict) for name, verdict in verdicts])
        return
    for index, (name, verdict) in enumerate(verdicts):
        if index:
            click.echo()
        kind = f"{verdict.kind} ({verdict.severity})" if verdict.severity else verdict.kind
        click.echo(f"{name}: {kind}")
        if verdict.recipients:
            click.echo(f"  recipients:  {', '.join(verdict.recipients)}")
        for line in verdict.results:
            status = f" {line.status}" if line.status else ""
            cause = f" ({line.category})" if line.category else ""
            click.echo(f"  recipient:   {line.address}: {line.action}{status}{cause}")
        if verdict.complainant:
            click.echo(f"  complainant: {verdict.complainant} ({verdict.feedback_type})")
        click.echo(f"  refs:        {' '.join(verdict.refs) or '-'}")
        click.echo(f"  reason:      {verdict.reason}")
        click.echo(f"  from:        {verdict.from_addr or '-'}")
        if verdict.language:
            click.echo(f"  language:    {verdict.language}")
        if verdict.return_date:
            click.echo(f"  back on:     {verdict.return_date.isoformat()}")
        if verdict.token:
            click.echo(f"  token:       {verdict.token}")
        if verdict.snippet:
            click.echo(f"  snippet:     {verdict.snippet[:120]}")


def _as_dict(name: str, verdict: Verdict) -> dict[str, Any]:
    return {
        "file": name,
        "kind": verdict.kind,
        "severity": verdict.severity,
        "recipients": list(verdict.recipients),
        "refs": list(verdict.refs),
        "reason": verdict.reason,
        "rule": verdict.rule,
        "from": verdict.from_addr,
        "subject": verdict.subject,
        "message_id": verdict.message_id,
        "return_date": verdict.return_date,
        "token": verdict.token,
        "snippet": verdict.snippet,
        "language": verdict.language,
        "dmarc": verdict.dmarc,
        "failed": list(verdict.failed),
        "dsn": [
            {
                "recipient": line.address,
                "action": line.action,
                "status": line.status or None,
                "severity": line.severity,
                "category": line.category or None,
                "diagnostic": line.diagnostic or None,
                "remote_mta": line.remote_mta or None,
                "field": line.field,
            }
            for line in verdict.results
        ],
        "complainant": verdict.complainant,
        "feedback_type": verdict.feedback_type,
        "returned_refs": list(verdict.returned_refs),
        "thread_refs": list(verdict.thread_refs),
    }
