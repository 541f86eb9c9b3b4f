"""`demo`: the whole loop in simulated weeks, with in-process mail servers."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sequencer.cli.base import App, main, pass_app
from sequencer.errors import UserError

if TYPE_CHECKING:
    from rich.console import Console

    from sequencer.demo.cast import Happening
    from sequencer.demo.run import DemoOutcome


@main.command("demo")
@click.option(
    "--days", default=21, show_default=True, type=click.IntRange(1, 120),
    help="Simulated days to run (business hours, every 30 minutes).",
)  # fmt: skip
@click.option(
    "--keep", "keep", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
    help="Leave the config, database and HTML report in DIR to explore afterwards.",
)  # fmt: skip
@click.option("--web", "web", is_flag=True,
              help="Then serve the dashboard over the demo's data (127.0.0.1, until Ctrl-C).")
@click.option("--port", default=8050, show_default=True, type=click.IntRange(0, 65535),
              help="With --web: the dashboard's port.")
@pass_app
def demo_cmd(app: App, days: int, keep: Path | None, web: bool, port: int) -> None:
    """Run the real engine end to end on this machine, nothing to install.

    Starts an SMTP and an IMAP server inside this process, enrolls six
    prospects into the shipped quote follow-up sequence and runs simulated
    weeks: touches go out threaded; one prospect replies (the sequence stops and
    the rep is alerted and answers), one replies and waits for the rep's answer,
    one is out of office (the sequence goes on), one address bounces, one asks
    to be removed, one never answers (the rep's closing call is overdue). The engine
    learns of each only by polling the IMAP mailbox. Ends with the manager
    report, in the terminal and as HTML.

    \b
    Example:
      sequencer demo
      sequencer demo --days 21 --keep demo
      sequencer demo --web
      sequencer --config demo/sequencer.yaml list
    """
    from rich.console import Console

    try:
        import aiosmtpd  # noqa: F401
        import pymap  # noqa: F401
    except ImportError:
        raise UserError(
            "the demo needs its extra: pip install 'sequencer[demo]' (or run scripts/demo)"
        ) from None
    from sequencer.demo.workspace import require_empty

    if keep is not None:
        require_empty(keep)
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: wide enough for the report's tables
        console = Console(highlight=False, width=160)
    scratch = None if keep else Path(tempfile.mkdtemp(prefix="sequencer-demo-"))
    directory = keep.resolve() if keep else scratch / "run"  # type: ignore[operator]
    report_path = directory / "report.html" if keep else scratch / "report.html"  # type: ignore[operator]
    try:
        outcome = _run(console, days, app, directory, report_path)
        _print_outcome(console, outcome, keep)
        if web:
            _serve_dashboard(console, app, outcome, port)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch / "run", ignore_errors=True)


def _serve_dashboard(console: Console, app: App, outcome: DemoOutcome, port: int) -> None:
    """The dashboard over the demo's database, on the loopback address, no login (as `sequencer web`)."""
    try:
        import uvicorn

        from sequencer.web.app import create_app
        from sequencer.web.auth import WebAuth
    except ImportError:
        raise UserError("--web needs the web extra: pip install 'sequencer[web]'") from None
    from sequencer.clock import ManualClock
    from sequencer.project import load_config
    from sequencer.reporting.dashboard import Database

    config = load_config(outcome.config_path)
    db = Database(config.database_url)
    # The dashboard reads the demo's world at the moment the story ended.
    asgi = create_app(config, db, ManualClock(outcome.ended), auth=WebAuth())
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # bound before the line is printed: the URL works once shown
    sock.listen(64)
    console.print(f"Dashboard over the demo's data: http://127.0.0.1:{sock.getsockname()[1]}/  (Ctrl-C to stop)")
    try:
        server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", server_header=False))
        server.run(sockets=[sock])
    finally:
        sock.close()
        db.dispose()


def _run(console: Console, days: int, app: App, directory: Path, report_path: Path) -> DemoOutcome:
    from zoneinfo import ZoneInfo

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from sequencer.demo import run as demo
    from sequencer.demo.cast import TEAM_TZ

    console.print(
        f"[bold]sequencer demo[/]: {days} simulated days of the quote follow-up, "
        "real engine, in-process mail servers\n"
    )
    with Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} ticks"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def progress(done: int, total: int, when: datetime, happened: list[Happening]) -> None:
            local = when.astimezone(ZoneInfo(TEAM_TZ))
            bar.update(task, completed=done, total=total, description=f"{local:%a %d %b %H:%M}")
            for h in happened:
                bar.console.print(_story_line(h))

        outcome = demo.run_demo(
            days=days,
            today=app.clock.now().date(),
            directory=directory,
            report_path=report_path,
            progress=progress,
        )
    return outcome


def _story_line(h: Happening) -> str:
    from zoneinfo import ZoneInfo

    from sequencer.demo.cast import TEAM_TZ

    when = h.at.astimezone(ZoneInfo(TEAM_TZ))
    who = h.who.split("@")[0]
    return f"[dim]{when:%a %d %b %H:%M}[/]  [bold]{who:<7}[/] {h.what}"


def _print_outcome(console: Console, outcome: DemoOutcome, keep: Path | None) -> None:
    from rich.table import Table

    from sequencer.cli.report_cmd import render_tables
    from sequencer.demo.cast import PERSONAS

    plays = {p.email: p.plays for p in PERSONAS}
    leads = Table(title="Where every lead ended", header_style="bold")
    for col in ("prospect", "plays", "touches", "status", "why"):
        leads.add_column(col)
    for row in sorted(
        outcome.leads, key=lambda r: list(plays).index(r.email) if r.email in plays else 99
    ):
        leads.add_row(
            row.email, plays.get(row.email, ""), f"{row.steps_done}/{row.total_steps}",
            row.status, row.status_reason or "",
        )  # fmt: skip
    console.print()
    console.print(leads)
    console.print()
    render_tables(outcome.report, console)
    console.print()
    console.print(f"HTML report: [bold]{outcome.html_report}[/]")
    if keep is not None:
        config = outcome.config_path
        console.print(f"Config and database kept in [bold]{outcome.directory}[/]. Try:")
        prog = _program()
        for command in ("list", f"show {PERSONAS[0].email}", "report"):
            console.print(f"  {prog} --config {config} {command}")
    else:
        console.print("(config and database were temporary; run with --keep DIR to explore them)")


def _program() -> str:
    """How to call sequencer again: `sequencer` when it is on PATH, else the path used now."""
    invoked = Path(sys.argv[0])
    on_path = shutil.which("sequencer")
    if invoked.name != "sequencer":
        return f"{sys.executable} -m sequencer"
    if on_path and Path(on_path).resolve() == invoked.resolve():
        return "sequencer"
    return os.path.relpath(invoked) if not invoked.is_absolute() else str(invoked)
