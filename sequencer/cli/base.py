"""The click group, the per-invocation App context and shared output helpers.

Commands live in ``sequencer/cli/*_cmd.py`` (one module per command group) and
are discovered by ``sequencer.cli``; each is a few lines: parse, call a
service, print. Errors from the library become one line on stderr: exit 2 for
a user mistake, 1 for an operational failure, never a traceback.
"""

from __future__ import annotations

import getpass
import importlib
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click

from sequencer.clock import Clock, ManualClock, SystemClock
from sequencer.errors import OperationalError, SequencerError, UserError

if TYPE_CHECKING:  # types only: loading these is deferred to the commands that need them
    from sequencer.config import Config
    from sequencer.core.sequences import Sequence as SequenceSpec
    from sequencer.project import Project
    from sequencer.setup.database import Database

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What every command needs, created lazily so `--help` and `init` need no config.

    The project and the database are loaded on first use (and the database stack is
    imported only then), so a command that needs neither pays for neither.
    """

    def __init__(self, config_path: str | None, at: datetime | None = None) -> None:
        self._config_arg = config_path
        self._config: Config | None = None
        self._db: Database | None = None
        self._project: Project | None = None
        self.clock: Clock = ManualClock(at) if at else SystemClock()

    @property
    def config_path(self) -> Path:
        """--config, then ./sequencer.yaml, then $SEQUENCER_CONFIG (resolved on first use)."""
        from sequencer.project import find_config_path

        return find_config_path(self._config_arg)

    @property
    def config(self) -> Config:
        if self._config is None:
            from sequencer.project import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def project(self) -> Project:
        """Calendar, templates and sequences of the config, loaded once per command."""
        if self._project is None:
            from sequencer.project import load_project

            self._project = load_project(self.config)
        return self._project

    @property
    def db(self) -> Database:
        """The project's database, opened once per command and disposed when it ends.

        Services given it run and commit their own transactions.
        """
        if self._db is None:
            from sequencer.setup.database import open_database

            self._db = open_database(self.config)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def hoist_global_options(args: list[str]) -> list[str]:
    """``sequencer list --config team.yaml`` means ``sequencer --config team.yaml list``.

    Reps paste a command and append ``--config``; click only takes group options
    before the command. No subcommand defines ``--config``, so moving every
    occurrence (up to a ``--``) to the front changes nothing else.
    """
    out: list[str] = []
    front: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out += args[i:]
            break
        if arg == "--config" and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        if arg.startswith("--config="):
            front.append(arg)
        else:
            out.append(arg)
        i += 1
    return front + out


class SequencerGroup(click.Group):
    """The top-level group: ``--config`` anywhere, library errors as one line, and lazy commands.

    A command's module is imported only when that command runs (``registry.COMMANDS``),
    so ``--help`` and a cron ``tick`` do not pay for every other command's imports.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        from sequencer.cli.registry import COMMANDS

        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            from sequencer.cli.registry import COMMANDS

            if cmd_name in COMMANDS:
                importlib.import_module(f"sequencer.cli.{COMMANDS[cmd_name][0]}")
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the registry's help lines, importing no command module."""
        from sequencer.cli.registry import COMMANDS

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            text = loaded.get_short_help_str(limit) if loaded else COMMANDS[name][1]
            rows.append((name, click.Command(name, help=text).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(list(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _fail(exc, 2)
        except OperationalError as exc:
            _fail(exc, 1)
        except SequencerError as exc:
            _fail(exc, 1)


def _fail(exc: Exception, code: int) -> None:
    message = str(exc)
    click.echo(f"error: {message}" if "\n" not in message else f"error:\n{message}", err=True)
    sys.exit(code)


def parse_when(value: str | None, param: str = "--at") -> datetime | None:
    """ISO date/time from the command line; naive values are taken as UTC."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date/time like 2026-03-02T09:00", param_hint=param
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@click.group(cls=SequencerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar=None,
    help="Config file (default: ./sequencer.yaml, then $SEQUENCER_CONFIG); "
    "also accepted after the command.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output: -v our info lines, -vv our debug lines, -vvv libraries' too.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line on stderr (for journald, Loki, jq).",
)
@click.option(
    "--at",
    "at",
    metavar="DATETIME",
    help="Pretend the current time is DATETIME, ISO, UTC unless an offset is given "
    "(simulations, demos, tests).",
)
@click.version_option(package_name="sequencer")
@click.pass_context
def main(
    ctx: click.Context, config_path: str | None, verbose: int, log_format: str, at: str | None
) -> None:
    """Follow-up sequences for sales teams.

    Sends each touch of a sequence from the rep's own mailbox, threaded like a
    human follow-up, and stops when the prospect replies.
    """
    configure_logging(verbose, log_format)
    app = App(config_path, parse_when(at))
    ctx.obj = app
    ctx.call_on_close(app.close)


pass_app = click.make_pass_decorator(App)


class JsonLines(logging.Formatter):
    """One JSON object per record; a message that is itself a JSON object is merged in.

    The engine logs its events (tick, worker_started, ...) as JSON text so they read in
    a text log too; here they become fields, not a string inside a string.
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        event = None
        if message.startswith("{"):
            try:
                event = json.loads(message)
            except ValueError:
                event = None
        if isinstance(event, dict):
            out.update({k: v for k, v in event.items() if k not in out})
        else:
            out["message"] = message
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _CliHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so a second invocation in one process replaces it instead of adding one."""


def configure_logging(verbose: int, log_format: str) -> None:
    """-v shows sequencer's own info lines; libraries (alembic, uvicorn, asyncio) stay at
    warnings until -vvv, so a verbose cron log is ours, not nine lines of plugin set-up."""
    root = logging.getLogger()
    if any(not isinstance(h, _CliHandler) for h in root.handlers):
        return  # logging was set up by whoever embeds us (as logging.basicConfig does)
    handler = _CliHandler()
    handler.setFormatter(
        JsonLines()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
    ours = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.getLogger("sequencer").setLevel(ours)


def json_option(f: F) -> F:
    """`--json` on every listing command, one spelling everywhere."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(f)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_default, indent=2, ensure_ascii=False))


def print_table(
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
    title: str | None = None,
    *,
    no_wrap: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> None:
    """A rich table on a terminal; plain aligned text when piped; "no matches" when empty.

    Columns in ``no_wrap`` (an address) are never cut; when the table does not fit the
    terminal, ``optional`` columns are dropped, last-named first, until it does.
    """
    from rich.console import Console
    from rich.table import Table

    data = [["" if v is None else str(v) for v in row] for row in rows]
    if not data:
        click.echo(f"{title}: no matches" if title else "no matches")
        return
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    keep = list(range(len(columns)))

    def width(idx: list[int]) -> int:
        return sum(max(len(columns[i]), *(len(r[i]) for r in data)) + 3 for i in idx) + 1

    for name in reversed(optional):
        if width(keep) <= console.width or name not in columns:
            continue
        keep.remove(columns.index(name))
    table = Table(title=title, show_lines=False, header_style="bold")
    for i in keep:
        wide = columns[i] in no_wrap
        longest = max(len(columns[i]), *(len(r[i]) for r in data))
        table.add_column(columns[i], no_wrap=wide, min_width=longest if wide else None)
    for r in data:
        table.add_row(*(r[i] for i in keep))
    console.print(table)


def cli_actor() -> str:
    """Who is at the keyboard, for the audit trail: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


def app_sequences(app: App) -> dict[str, SequenceSpec]:
    """The configured sequences, loaded only by the commands that need them."""
    return app.project.sequences


def format_when(dt: datetime | None, tz: str | None = None) -> str:
    """``Tue 2026-03-03 08:30 CET`` in ``tz`` (UTC when None); empty for None."""
    if dt is None:
        return ""
    local = dt.astimezone(ZoneInfo(tz)) if tz else dt
    return local.strftime("%a %Y-%m-%d %H:%M %Z")


def format_short(dt: datetime | None) -> str:
    """``2026-03-03 08:30`` for table cells (the column header names the zone)."""
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def format_local(dt: datetime | None, tz: str | None) -> str:
    """``2026-03-03 08:30 CST`` in the rep's zone (UTC when None): a rep reads local time."""
    if dt is None:
        return ""
    local = dt.astimezone(ZoneInfo(tz)) if tz else dt.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M %Z")


def format_both(dt: datetime | None, tz: str | None, theirs: str | None) -> str:
    """The rep's local time, and the prospect's after it when their clock reads differently."""
    mine = format_local(dt, tz)
    if dt is None or not theirs:
        return mine
    other = dt.astimezone(ZoneInfo(theirs))
    if other.utcoffset() == dt.astimezone(ZoneInfo(tz) if tz else UTC).utcoffset():
        return mine
    return f"{mine} (theirs {other.strftime('%H:%M %Z')})"
