"""`poll` and `inbound`: read the reps' inboxes now, and see what the poller made of each message."""

from __future__ import annotations

import sys

import click

from sequencer.cli.base import (
    App,
    app_sequences,
    cli_actor,
    echo_json,
    json_option,
    main,
    pass_app,
    print_table,
)

INBOUND_KINDS = (
    "reply",
    "auto_reply",
    "bounce",
    "complaint",
    "unsubscribe",
    "unrelated",
    "own",
    "sent",
    "filed",
    "lead",
)


@main.command("poll")
@click.option("--mailbox", "mailbox", metavar="NAME", help="Poll only this mailbox (default: all).")
@json_option
@pass_app
def poll_cmd(app: App, mailbox: str | None, as_json: bool) -> None:
    """Read new mail once: stop sequences on replies, record out-of-offices and bounces.

    Nothing in the mailbox changes (read-only, nothing marked seen unless the mailbox
    sets imap.mark_seen). Exit code 1 when a mailbox could not be polled.

    \b
    Example:
      sequencer poll
      sequencer poll --mailbox sam --json
    """
    from sequencer.inbound import poll

    sequences = app_sequences(app)
    if mailbox:
        results = [poll.poll_mailbox(app.db, app.config, sequences, app.clock, mailbox)]
    else:
        results = poll.poll_all(app.db, app.config, sequences, app.clock)
    if as_json:
        echo_json([r.as_dict() for r in results])
    else:
        for r in results:
            if not r.ok:
                click.echo(f"{r.mailbox}: FAILED: {r.error}", err=True)
                continue
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(r.kinds.items())) or "no new mail"
            extra = [
                f"{label} {n}"
                for label, n in (
                    ("stopped by reply", r.replies),
                    ("enrolled by filing", r.enrolled),
                    ("answered by rep", r.answered),
                    ("alerts sent", r.notified),
                    ("escalated", r.escalated),
                    ("set aside", r.set_aside),
                )
                if n
            ]
            click.echo(f"{r.mailbox}: {kinds}" + (f"; {', '.join(extra)}" if extra else ""))
            for w in r.warnings:
                click.echo(f"{r.mailbox}: warning: {w}", err=True)
    if any(not r.ok for r in results):
        sys.exit(1)


@main.group("inbound")
def inbound_group() -> None:
    """What the poller read: every classified message, and the ones set aside."""


@inbound_group.command("list")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(INBOUND_KINDS),
    help="Only these kinds (repeatable).",
)
@click.option("--mailbox", metavar="NAME", help="Only this mailbox.")
@click.option(
    "--set-aside", "set_aside", is_flag=True, help="Only messages set aside with an error."
)
@click.option(
    "--untrusted",
    is_flag=True,
    help="Only bounces/complaints awaiting review (they acted on nobody).",
)
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@json_option
@pass_app
def inbound_list(
    app: App,
    kinds: tuple[str, ...],
    mailbox: str | None,
    set_aside: bool,
    untrusted: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List classified inbound messages, newest first, with the rule that decided.

    \b
    Example:
      sequencer inbound list --kind reply --kind bounce
      sequencer inbound list --set-aside --json
      sequencer inbound list --untrusted
    """
    from sequencer.inbound import poll

    rows = poll.inbound_messages(
        app.db,
        kinds=kinds,
        mailbox=mailbox,
        set_aside_only=set_aside,
        limit=limit,
        trust="untrusted" if untrusted else None,
    )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("nothing awaiting review" if untrusted else "no inbound messages")
        return
    print_table(
        [
            (
                r["id"],
                r["received_at"].strftime("%Y-%m-%d %H:%M"),
                r["mailbox"],
                r["folder"],
                r["kind"] + (f" ({r['severity']})" if r["severity"] else ""),
                r["from"],
                r["prospect"]
                or (f"{r['candidate_prospect']}?" if r["candidate_prospect"] else "-"),
                (r["subject"] or "")[:40],
                ("SET ASIDE: " + r["error"])
                if r["error"]
                else (
                    "UNTRUSTED: " + (r["trust_reason"] or "") + "; "
                    if r["trust"] == "untrusted"
                    else ""
                )
                + (r["reason"] or ""),
            )
            for r in rows
        ],
        ["id", "received", "mailbox", "folder", "kind", "from", "prospect", "subject", "reason"],
        no_wrap=("from", "prospect"),
        optional=("mailbox", "folder", "subject"),
    )


@inbound_group.command("retry")
@click.option("--mailbox", metavar="NAME", help="Only this mailbox's messages.")
@json_option
@pass_app
def inbound_retry(app: App, mailbox: str | None, as_json: bool) -> None:
    """Re-apply messages that were set aside with an error (after fixing the cause).

    The messages are applied again right away (no IMAP needed); any that fail again
    are set aside again with the new error (exit 1). `--json`: `{retried, applied,
    set_aside}`.

    \b
    Example:
      sequencer inbound list --set-aside
      sequencer inbound retry
    """
    from sequencer.inbound import poll

    released = poll.retry_set_aside(app.db, mailbox)
    applied = failed = 0
    if released:
        sequences = app_sequences(app)
        names = [mailbox] if mailbox else [m.name for m in app.config.mailboxes]
        for name in names:
            result = poll.apply_stored(app.db, app.config, sequences, app.clock, name)
            applied += result.applied
            failed += result.set_aside
    if as_json:
        echo_json({"retried": released, "applied": applied, "set_aside": failed})
    elif not released:
        click.echo("nothing set aside")
    else:
        click.echo(f"retried {released}: applied {applied}, set aside again {failed}")
    if failed:
        sys.exit(1)


@inbound_group.command("confirm")
@click.argument("message_id", metavar="ID", type=int)
@json_option
@pass_app
def inbound_confirm(app: App, message_id: int, as_json: bool) -> None:
    """Apply an untrusted bounce or complaint as if trusted (you checked it is genuine).

    \b
    Example:
      sequencer inbound list --untrusted
      sequencer inbound confirm 42
    """
    from sequencer.inbound import review

    done = review.confirm(
        app.db, app.config, app_sequences(app), app.clock, message_id, actor=cli_actor()
    )
    if as_json:
        echo_json(done)
    else:
        click.echo(f"confirmed {done['kind']} {message_id}: applied to {done['prospect']}")


@inbound_group.command("reject")
@click.argument("message_id", metavar="ID", type=int)
@json_option
@pass_app
def inbound_reject(app: App, message_id: int, as_json: bool) -> None:
    """Keep an untrusted bounce or complaint inert for good (it is forged or wrong).

    \b
    Example:
      sequencer inbound reject 42
    """
    from sequencer.inbound import review

    done = review.reject(app.db, app.clock, message_id, actor=cli_actor())
    if as_json:
        echo_json(done)
    else:
        click.echo(f"rejected {done['kind']} {message_id}: it acts on nobody")
