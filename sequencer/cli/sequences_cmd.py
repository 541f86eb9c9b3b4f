"""`validate` and `preview`: check sequence files and see exactly what a prospect would get."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sequencer.cli.base import App, echo_json, json_option, main, parse_when, pass_app
from sequencer.core.planning import ThreadState, plan_touches
from sequencer.core.schedule import BusinessCalendar, SendWindow, zone
from sequencer.core.sequence_checks import SAMPLE_MAILBOX, sample_problems
from sequencer.core.sequence_files import load_sequence, sequence_files
from sequencer.core.sequences import OWNER_MAILBOX, Sequence
from sequencer.core.templates import TemplateStore
from sequencer.errors import ConfigError, NotFound, Problem, SequenceError
from sequencer.people.preview import stored_prospect
from sequencer.project import calendar_for

DEFAULT_SEQUENCES = Path("sequences")
DEFAULT_TEMPLATES = Path("templates")


@dataclass(frozen=True)
class Setting:
    """What validate/preview need from the config, with defaults when there is none."""

    sequences_dir: Path
    templates: TemplateStore
    calendar: BusinessCalendar
    timezone: str
    mailboxes: dict[str, dict[str, Any]]
    windows: dict[str, SendWindow]
    config: Any = None


def _setting(app: App, templates_dir: Path | None = None) -> Setting:
    """From the config when there is one; else ./sequences and ./templates, US-style weekdays."""
    if not app.config_path.exists():
        return Setting(DEFAULT_SEQUENCES, TemplateStore(templates_dir or DEFAULT_TEMPLATES),
                       BusinessCalendar(), "UTC", {}, {})
    config = app.config
    mailboxes = {
        m.name: {"name": m.name, "address": m.address, "display_name": m.display_name,
                 "signature": m.signature, "timezone": m.timezone, "owner": m.owner}
        for m in config.mailboxes
    }
    windows = {
        m.name: SendWindow.parse({"days": m.send_window.days, "start": m.send_window.start,
                                  "end": m.send_window.end})
        for m in config.mailboxes
    }
    return Setting(config.sequences_path, TemplateStore(templates_dir or config.templates_path),
                   calendar_for(config), config.timezone, mailboxes, windows, config)


# --- validate ---------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Templates directory (default: from the config, else ./templates).")
@json_option
@pass_app
def validate(app: App, paths: tuple[Path, ...], templates_dir: Path | None, as_json: bool) -> None:
    """Check sequence files and their templates; render each against its sample.

    PATHS are sequence files or directories (default: the config's sequences
    directory). Every problem is printed with file:line; exit status 2 if any.

    \b
    Example:
      sequencer validate
      sequencer validate sequences/quote-follow-up.yaml
    """
    setting = _setting(app, templates_dir)
    mailboxes = list(setting.mailboxes) if setting.config is not None else None
    today = app.clock.now().date()
    problems: list[Problem] = []
    results: list[tuple[Sequence, list[Problem]]] = []
    files: list[Path] = []
    for path in paths or (setting.sequences_dir,):
        if path.is_dir():
            files.extend(sequence_files(path))
        else:
            files.append(path)
    seen: dict[str, Path] = {}
    for path in files:  # one file at a time: a broken file does not hide the others' state
        if path.stem in seen and path.is_file():
            problems.append(
                Problem(str(path), 0, f"sequence id {path.stem!r} is also defined by {seen[path.stem]}")
            )
            continue
        seen[path.stem] = path
        try:
            sequence = load_sequence(path, setting.templates, mailboxes)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        found = sample_problems(sequence, setting.templates, today, setting.calendar)
        problems.extend(found)
        results.append((sequence, found))
    if as_json:
        echo_json({
            "ok": not problems,
            "sequences": [{"id": s.id, "file": s.path, "steps": s.total_steps, "ok": not found}
                          for s, found in results],
            "problems": [{"file": p.path, "line": p.line, "message": p.message} for p in problems],
        })
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
        for sequence, found in results:
            if not found:  # a sequence whose template fails to render is not "ok"
                note = "" if sequence.sample else "; no sample to render"
                click.echo(f"{sequence.path}: ok ({sequence.total_steps} steps{note})")
        if problems:
            n = len(problems)
            click.echo(f"{n} problem{'s' if n != 1 else ''} found", err=True)
    if problems:
        raise SystemExit(2)


# --- preview ----------------------------------------------------------------------------


def _mailbox_for(
    setting: Setting, sequence: Sequence, owner: str | None, enrolled_from: str | None = None
) -> tuple[dict[str, Any], SendWindow]:
    """The enrollment's own mailbox when there is one (what the send path uses), else the owner's."""
    if not setting.mailboxes:
        return dict(SAMPLE_MAILBOX), SendWindow()
    if enrolled_from in setting.mailboxes:
        name = enrolled_from
    elif sequence.mailbox != OWNER_MAILBOX:
        name = sequence.mailbox
    else:
        name = setting.config.mailbox_for_owner(owner).name
    return setting.mailboxes[name], setting.windows[name]


@main.command()
@click.argument("sequence_ref", metavar="SEQUENCE")
@click.option("--prospect", "email", metavar="EMAIL", help="Preview for a prospect in the database.")
@click.option("--sample", is_flag=True, help="Preview for the sequence's sample prospect.")
@click.option("--start", metavar="DATETIME",
              help="When the enrollment starts (ISO; naive = UTC; default: now).")
@json_option
@pass_app
def preview(app: App, sequence_ref: str, email: str | None, sample: bool, start: str | None,
            as_json: bool) -> None:
    """Show every touch of SEQUENCE: send time (prospect's zone and UTC), threading, copy.

    SEQUENCE is a sequence id or a path to its file. Nothing is sent or stored.

    \b
    Example:
      sequencer preview quote-follow-up --sample
      sequencer preview quote-follow-up --prospect dana@acme.com --start 2026-03-02T09:00
    """
    if bool(email) == sample:
        raise click.UsageError("give exactly one of --prospect EMAIL or --sample")
    setting = _setting(app)
    sequence = _find_sequence(setting, sequence_ref)
    if sample:
        if not sequence.sample:
            raise SequenceError(Problem(sequence.path, 1, "this sequence has no sample: prospect to preview"))
        prospect = dict(sequence.sample)
        thread, variant_key, enrolled_from = ThreadState(), str(prospect.get("email") or "preview"), None
    else:
        assert email is not None
        stored = stored_prospect(app.db, email, sequence.id)
        prospect, thread, variant_key = stored.prospect, stored.thread, stored.variant_key
        enrolled_from = stored.mailbox
    mailbox, window = _mailbox_for(setting, sequence, prospect.get("owner"), enrolled_from)
    tz_name = prospect.get("timezone") or sequence.timezone or mailbox.get("timezone") or setting.timezone
    try:
        tz = zone(str(tz_name))
    except ValueError as exc:
        raise NotFound(f"prospect {prospect.get('email')}: {exc}") from None
    begin = parse_when(start, "--start") or app.clock.now()
    touches = plan_touches(
        sequence, prospect, mailbox, start=begin, tz_name=str(tz), mailbox_window=window,
        calendar=setting.calendar, store=setting.templates, variant_key=variant_key, thread=thread,
    )
    if as_json:
        echo_json({"sequence": sequence.id, "prospect": prospect.get("email"), "timezone": str(tz),
                   "list_unsubscribe": sequence.list_unsubscribe,
                   "touches": [t.__dict__ | {"local_at": t.local_at.isoformat()} for t in touches]})
        return
    who = prospect.get("name") or prospect.get("email")
    click.echo(f"{sequence.name} ({sequence.id}): {sequence.total_steps} touches for {who} <{prospect.get('email')}>")
    click.echo(f"from {mailbox.get('display_name') or mailbox.get('name')} <{mailbox.get('address')}>, "
               f"prospect time zone {tz}, List-Unsubscribe {'on' if sequence.list_unsubscribe else 'off'}, "
               f"starting {begin.astimezone(tz):%a %Y-%m-%d %H:%M %Z}")
    for t in touches:
        click.echo("")
        click.secho(f"Step {t.step}/{len(touches)}: {t.label}  (wait {t.wait})", bold=True)
        click.echo(f"  sends    {t.local_at:%a %Y-%m-%d %H:%M %Z}  ({t.send_at:%Y-%m-%d %H:%M} UTC)")
        click.echo(f"  thread   {'new thread' if t.new_thread else 'reply in thread'}")
        click.echo(f"  subject  {t.subject}")
        if t.other_variants:
            click.echo(f"  variant  {t.variant}  (others: {', '.join(t.other_variants)})")
        click.echo("")
        for line in t.text.rstrip("\n").splitlines():
            click.echo(f"    {line}".rstrip())
        if t.html is not None:
            click.echo("    --- html part ---")
            for line in t.html.rstrip("\n").splitlines():
                click.echo(f"    {line}".rstrip())


def _find_sequence(setting: Setting, ref: str) -> Sequence:
    mailboxes = list(setting.mailboxes) if setting.config is not None else None
    as_path = Path(ref)
    if as_path.suffix in (".yaml", ".yml") and as_path.exists():
        return load_sequence(as_path, setting.templates, mailboxes)
    path = next((setting.sequences_dir / f"{ref}{s}" for s in (".yaml", ".yml")
                 if (setting.sequences_dir / f"{ref}{s}").exists()), None)
    if path is None:
        known = sorted(p.stem for p in setting.sequences_dir.glob("*.y*ml")) if setting.sequences_dir.is_dir() else []
        raise NotFound(f"no sequence {ref!r} in {setting.sequences_dir} (known: {', '.join(known) or 'none'})")
    return load_sequence(path, setting.templates, mailboxes)
