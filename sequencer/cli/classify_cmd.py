"""`classify`: show how the poller would read saved .eml files, and which rule decided.

Needs no config or database, so a rep or an operator can check a puzzling message
("why did this out-of-office stop my sequence?") from a file saved out of their mail client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sequencer.classify import Verdict, classify
from sequencer.classify.intent import reengage_on
from sequencer.classify.message import date_header, parse_raw
from sequencer.cli.base import echo_json, json_option, main
from sequencer.clock import SystemClock
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
    today = SystemClock().now().date()
    # A "not now" comes back relative to the day it was written (its Date header), else today.
    returns = [reengage_on(v.intent, date_header(parse_raw(data)) or today) for (_, v), (_, data) in zip(verdicts, raw, strict=True)]
    if as_json:
        echo_json([{**_as_dict(name, verdict), **_intent_dict(verdict, back)}
                   for (name, verdict), back in zip(verdicts, returns, strict=True)])
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
        if verdict.intent:
            click.echo(f"  intent:      {verdict.intent.intent} ({verdict.intent.reason})")
        if returns[index]:
            click.echo(f"  come back:   {returns[index].isoformat()}")  # type: ignore[union-attr]
        for person in verdict.intent.referrals if verdict.intent else ():
            click.echo(f"  referral:    {person.name or '-'} <{person.address or 'no address'}>")
        if verdict.snippet:
            click.echo(f"  snippet:     {verdict.snippet[:120]}")


def _intent_dict(verdict: Verdict, back: object) -> dict[str, Any]:
    """The reply-intent keys (INTERFACES.md "Reply intent"); null/empty for non-replies."""
    found = verdict.intent
    return {
        "intent": found.intent if found else None,
        "intent_reason": found.reason if found else None,
        "reengage_on": back.isoformat() if back else None,  # type: ignore[attr-defined]
        "referrals": [p.address for p in found.referrals if p.address] if found else [],
        "referral_names": [p.name for p in found.referrals if p.name] if found else [],
        "meeting_at": found.meeting_at if found else None,
    }


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
