"""``sequencer demo``: the whole loop, end to end, in simulated weeks, on this machine.

Nothing is faked inside the engine. The demo starts in-process SMTP and IMAP
servers (``sequencer.demo.servers``), writes a real config and a fresh SQLite
database (``sequencer.demo.workspace``), enrolls the scripted prospects
(``sequencer.demo.cast``) through the enrollment service, and then moves a
``ManualClock`` through business hours, calling the real sending engine (whose
poll hook runs the real poller) at every step. The prospects and the rep react
only to the mail they really receive, so the engine learns of each reply, bounce
or opt-out exactly as in production, by polling IMAP.

Every service called here commits its own work into the demo's database; the
report at the end reads it back as ``sequencer report`` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sequencer.clock import ManualClock
from sequencer.db.session import Database
from sequencer.demo.cast import DOMAIN, MANAGER, PASSWORD, PERSONAS, REP, TEAM_TZ, Cast, Happening
from sequencer.demo.servers import DemoMailServers
from sequencer.demo.workspace import (
    SEQUENCE_ID,
    demo_start,
    prepare_directory,
    require_empty,
    simulated_steps,
)
from sequencer.errors import UserError
from sequencer.people import enroll as enrollment
from sequencer.people import timeline as timelines
from sequencer.project import Project, load_config, load_project
from sequencer.reporting.html import render_report_html
from sequencer.reporting.model import Report
from sequencer.reporting.report import build_report


@dataclass
class DemoOutcome:
    directory: Path
    config_path: Path
    html_report: Path
    started: datetime
    ended: datetime
    report: Report
    leads: list[timelines.EnrollmentRow]
    story: list[Happening] = field(default_factory=list)


Progress = Callable[[int, int, datetime, list[Happening]], None]


def run_demo(
    *,
    days: int,
    today: date,
    directory: Path,
    report_path: Path,
    progress: Progress | None = None,
) -> DemoOutcome:
    """Run the story for ``days`` simulated days; the config and database stay in ``directory``."""
    if days < 1:
        raise UserError("--days must be at least 1")
    require_empty(directory)
    start = demo_start(today, days)
    steps = simulated_steps(start, days)
    clock = ManualClock(start)
    with DemoMailServers(domain=DOMAIN, clock=clock) as servers:
        for address in (REP, MANAGER):
            servers.add_user(address, PASSWORD)
        for persona in PERSONAS:
            if persona.behaviour == "bounces":
                servers.bounce(persona.email, "5.1.1")
        config_path = prepare_directory(directory, servers.smtp_port, servers.imap_port)
        config = load_config(config_path)
        project = load_project(config)
        db = Database(config.database_url)
        try:
            story = _enroll_cast(db, project, clock)
            story += asyncio.run(_simulate(db, project, clock, servers, steps, progress))
            report = build_report(db, config, now=clock.now(), since=start)
            leads = timelines.list_enrollments(db, now=clock.now())
        finally:
            db.dispose()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render_report_html(report), encoding="utf-8")
    return DemoOutcome(
        directory, config_path, report_path, start, clock.now(), report, leads, story
    )


def _enroll_cast(db: Database, project: Project, clock: ManualClock) -> list[Happening]:
    """Enroll every persona through the ordinary enrollment service (commits per prospect)."""
    from sequencer.demo.ab_split import assign_variant

    out = []
    for p in PERSONAS:
        result = enrollment.enroll(
            db, project.config, project.sequences,
            email=p.email, sequence_id=SEQUENCE_ID, name=p.name, company=p.company,
            tz=TEAM_TZ, value=str(p.value),
            fields={"quote_number": p.quote_number, "product": p.product},
            now=clock.now(), actor="demo", source="demo",
        )  # fmt: skip
        if p.ab_variant and result.enrollment_id is not None:
            assign_variant(db, project.sequences[SEQUENCE_ID], result.enrollment_id, p.ab_variant)
        out.append(Happening(clock.now(), p.email, f"enrolled in {SEQUENCE_ID} ({p.plays})"))
    return out


async def _simulate(
    db: Database,
    project: Project,
    clock: ManualClock,
    servers: DemoMailServers,
    steps: list[datetime],
    progress: Progress | None,
) -> list[Happening]:
    from sequencer.inbound.poll import poll_mailbox
    from sequencer.mail.imap import ImapConnection
    from sequencer.outbound.engine import Engine

    config, sequences = project.config, project.sequences
    mailbox = config.mailboxes[0]
    # One IMAP connection for every poll, as `sequencer run` keeps one.
    poller = ImapConnection(mailbox)
    poller.connect()
    engine = Engine(
        db, config, sequences, project.templates, clock,
        worker_id="demo",
        poll_hook=lambda: poll_mailbox(db, config, sequences, clock, mailbox.name, poller=poller),
    )  # fmt: skip
    cast = Cast(servers, PERSONAS)
    story: list[Happening] = []
    try:
        for index, when in enumerate(steps, start=1):
            clock.set(when)
            await engine.tick()
            happened = cast.react(when)
            happened += _rep_does_tasks(db, project, clock, when)
            story.extend(happened)
            if progress is not None:
                progress(index, len(steps), when, happened)
    finally:
        await engine.aclose()
        poller.close()
    return story


def _rep_does_tasks(
    db: Database, project: Project, clock: ManualClock, now: datetime
) -> list[Happening]:
    """Sam works the task list (task steps, README, "Rep workflow"): each due task is done at once."""
    from sequencer.people import tasks

    out = []
    waiting = {p.email for p in PERSONAS if not p.rep_does_task}
    for view in tasks.todo(db, project.config, clock, due="overdue"):
        if view.prospect in waiting:  # left for the manager to see: an overdue call
            continue
        closed = tasks.close_task(
            db, project.config, project.sequences, clock, view.id, status="done",
            note="called; left a voicemail", actor=REP,
        )  # fmt: skip
        out.append(Happening(now, REP, f"does the {view.kind} task \u201c{view.title}\u201d for {view.prospect}: {closed.outcome}"))
    return out
