"""``sequencer demo``: the whole loop, end to end, in simulated weeks, on this machine.

Nothing is faked inside the engine. The demo starts in-process SMTP and IMAP
servers (``demo_servers``), writes a real config and a fresh SQLite database,
enrolls a handful of prospects through the enrollment service, and then moves a
``ManualClock`` through business hours, calling the real sending engine (whose
poll hook runs the real poller) at every step. The prospects are scripted, but
they act only by sending real mail through the SMTP server into the rep's
mailbox: the engine learns of a reply, an out-of-office, a bounce or an opt-out
exactly as in production, by polling IMAP.

The rep plays along too: when the reply alert arrives, they answer the prospect
from their mail client (SMTP + a copy in Sent), so the report shows a time to
answer instead of an unanswered reply.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sequencer.clock import ManualClock
from sequencer.config import load_config
from sequencer.demo.servers import SENT_FOLDER, DemoMailServers
from sequencer.errors import UserError
from sequencer.people import enroll as enrollment
from sequencer.people import timeline as timelines
from sequencer.project import load_project
from sequencer.reporting.html import render_report_html
from sequencer.reporting.notify import NOTIFICATION_HEADER
from sequencer.reporting.report import Report, build_report

DOMAIN = "demo.example"
REP = "sam@demo.example"
REP_NAME = "Sam Rivera"
MANAGER = "morgan@demo.example"
PASSWORD = "sequencer-demo"  # a throwaway login of a server that lives as long as the demo
SEQUENCE_ID = "quote-follow-up"
TEAM_TZ = "America/Chicago"
DAY_START, DAY_END = time(8, 0), time(18, 0)
STEP = timedelta(minutes=30)
REP_ANSWERS_AFTER = timedelta(hours=1)

Behaviour = Literal["replies", "out_of_office", "bounces", "unsubscribes", "silent"]


@dataclass(frozen=True)
class Persona:
    """A scripted prospect: who they are and what they do after which touch."""

    email: str
    name: str
    company: str
    quote_number: str
    product: str
    value: int
    behaviour: Behaviour
    after_touch: int = 0
    delay: timedelta = timedelta(0)
    plays: str = ""


PERSONAS = (
    Persona("dana@northwind-fab.example", "Dana Whitfield", "Northwind Fabrication", "Q-2041",
            "CNC enclosure panels", 18400, "replies", 2, timedelta(hours=3),
            "replies after touch 2"),
    Persona("priya@lakeside-tools.example", "Priya Raman", "Lakeside Tools", "Q-2042",
            "laser-cut brackets", 9600, "out_of_office", 1, timedelta(minutes=2),
            "out-of-office after touch 1"),
    Persona("marco@oldco-supply.example", "Marco Bellini", "Oldco Supply", "Q-2043",
            "stainless hinges", 4200, "bounces", 1, timedelta(0),
            "address bounces"),
    Persona("lee@brightline-mfg.example", "Lee Okafor", "Brightline Manufacturing", "Q-2044",
            "powder-coated housings", 12800, "unsubscribes", 3, timedelta(hours=5),
            "asks to be removed after touch 3"),
    Persona("jordan@quietpeak.example", "Jordan Alvarez", "Quiet Peak Outfitters", "Q-2045",
            "aluminium trays", 7300, "silent", 0, timedelta(0),
            "never answers"),
)  # fmt: skip


@dataclass(frozen=True)
class Happening:
    """One line of the story as it unfolds (simulated time, who, what)."""

    at: datetime
    who: str
    what: str


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


def demo_start(today: date, days: int) -> datetime:
    """The Monday morning ``days`` before ``today`` (or the one before), so the run ends about now.

    Ending near the present makes ``list``/``show``/``report`` on a kept demo read
    naturally with the real clock.
    """
    first = today - timedelta(days=days)
    monday = first - timedelta(days=first.weekday())
    return datetime.combine(monday, DAY_START, ZoneInfo(TEAM_TZ)).astimezone(UTC)


def simulated_steps(start: datetime, days: int) -> list[datetime]:
    """Every 30 minutes of business hours (08:00-18:00, Mon-Fri, team time) for ``days`` days."""
    tz = ZoneInfo(TEAM_TZ)
    first = start.astimezone(tz).date()
    steps = []
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        t = datetime.combine(day, DAY_START, tz)
        end = datetime.combine(day, DAY_END, tz)
        while t <= end:
            steps.append(t.astimezone(UTC))
            t += STEP
    return steps


def config_yaml(smtp_port: int, imap_port: int) -> str:
    return f"""\
# Written by `sequencer demo`. The mail servers it names ran inside the demo and are
# gone now; the database stays, so `list`, `show` and `report` work on it.
database: sqlite:///sequencer.db
timezone: {TEAM_TZ}
business_days: [mon, tue, wed, thu, fri]
sequences_dir: sequences
templates_dir: templates
mailboxes:
  - name: sam
    address: {REP}
    display_name: {REP_NAME}
    owner: sam
    timezone: {TEAM_TZ}
    signature: "{REP_NAME}\\nAcme Sheet Metal"
    password_cmd: echo {PASSWORD}
    smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}
    imap:
      host: 127.0.0.1
      port: {imap_port}
      security: none
      folders: {{sent: {SENT_FOLDER}}}   # the demo IMAP server has no SPECIAL-USE
    # Demo pacing: no spacing between touches and limits nobody would use for real.
    daily_limit: 10000
    per_minute: 1000
    min_spacing_seconds: 0
    max_spacing_seconds: 0
    concurrency: 4
reporting:
  managers: [{MANAGER}]
  reply_sla_hours: 4
"""


def require_empty(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(
            f"{directory} is not an empty directory: give `sequencer demo --keep` a new one "
            "(the demo writes sequencer.yaml, sequencer.db, sequences/ and templates/ there)"
        )


def prepare_directory(directory: Path, smtp_port: int, imap_port: int) -> Path:
    """Config, sequence and templates into ``directory``, which must be new or empty."""
    require_empty(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("sequencer.demo") / "data") as src:
        shutil.copytree(
            src, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    config_path = directory / "sequencer.yaml"
    config_path.write_text(config_yaml(smtp_port, imap_port), encoding="utf-8")
    return config_path


class Cast:
    """The scripted prospects and the rep, reacting to the mail they really receive."""

    def __init__(self, servers: DemoMailServers, personas: tuple[Persona, ...]) -> None:
        self.servers = servers
        self.personas = {p.email: p for p in personas}
        self.touches: dict[str, int] = {}
        self.pending: list[tuple[datetime, str, EmailMessage, str]] = []
        self.cursor = 0  # deliveries already looked at
        self.noted: list[str] = []
        self.own: dict[str, EmailMessage] = {}  # what the cast itself sent, by Message-ID

    def react(self, now: datetime) -> list[Happening]:
        """Read mail that arrived since the last step, queue reactions, send those due."""
        out: list[Happening] = []
        fresh = self.servers.deliveries[self.cursor :]
        self.cursor += len(fresh)
        for delivery in fresh:
            msg = email.message_from_bytes(delivery.raw, policy=email.policy.default)
            if str(msg["Message-ID"]) in self.own:
                continue
            assert isinstance(msg, EmailMessage)
            for rcpt in delivery.rcpt_tos:
                persona = self.personas.get(rcpt.lower())
                if persona is not None:
                    number = self.touches[persona.email] = self.touches.get(persona.email, 0) + 1
                    out.append(
                        Happening(now, persona.email, f"gets touch {number}: {msg['Subject']}")
                    )
                    self._script(persona, number, msg, now)
                    out.extend(Happening(now, persona.email, note) for note in self.noted)
                    self.noted.clear()
                elif rcpt.lower() == REP and msg[NOTIFICATION_HEADER]:
                    out.append(Happening(now, REP, f"is alerted: {msg['Subject']}"))
                    self._rep_answers(msg, now)
        due = [p for p in self.pending if p[0] <= now]
        self.pending = [p for p in self.pending if p[0] > now]
        for _, sender, msg, line in due:
            msg.replace_header("Date", email.utils.format_datetime(now))
            self.own[str(msg["Message-ID"])] = msg
            self.servers.send(msg, sender, [str(a.addr_spec) for a in msg["To"].addresses])
            if sender == REP:
                self.servers.deliver(REP, msg.as_bytes(), SENT_FOLDER)  # the mail client's copy
            out.append(Happening(now, sender, line))
        return out

    def _script(self, persona: Persona, number: int, touch: EmailMessage, now: datetime) -> None:
        if number != persona.after_touch or persona.behaviour == "silent":
            return
        if persona.behaviour == "bounces":  # the server has already mailed the DSN
            self.noted.append(f"bounces: 550 5.1.1 user unknown (a DSN lands in {REP}'s inbox)")
            return
        subject = f"Re: {_bare(touch)}"
        if persona.behaviour == "replies":
            first = persona.name.split()[0]
            body = (
                "Hi Sam,\n\nThanks for following up. The quote looks right; can we go over "
                f"lead times on a call Thursday?\n\n{first}\n"
            )
            self._queue(persona, touch, now, subject, body, "replies: can we talk Thursday?")
        elif persona.behaviour == "unsubscribes":
            body = "Please remove me from your list.\n"
            self._queue(persona, touch, now, subject, body, "asks: please remove me from your list")
        elif persona.behaviour == "out_of_office":
            back = (now + timedelta(days=7)).astimezone(ZoneInfo(TEAM_TZ)).strftime("%A %d %B")
            body = (
                f"I am out of the office until {back} with limited access to email. "
                "For urgent matters call the front desk.\n"
            )
            subject = f"Out of Office: {_bare(touch)}"
            msg = self._queue(
                persona, touch, now, subject, body, "is away: automatic out-of-office reply"
            )
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Autoreply"] = "yes"

    def _queue(
        self,
        persona: Persona,
        touch: EmailMessage,
        now: datetime,
        subject: str,
        body: str,
        line: str,
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = email.utils.formataddr((persona.name, persona.email))
        msg["To"] = REP
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = email.utils.make_msgid(domain=persona.email.split("@")[1])
        _thread_onto(msg, touch)
        msg.set_content(body + _quoted(touch))
        self.pending.append((now + persona.delay, persona.email, msg, line))
        return msg

    def _rep_answers(self, alert: EmailMessage, now: datetime) -> None:
        """Sam reads the reply alert and answers the prospect from the mail client an hour later."""
        text = str(alert.get_content())
        for their in self.own.values():
            sender = their["From"].addresses[0].addr_spec.lower()
            persona = self.personas.get(sender)
            if persona is None or persona.behaviour != "replies" or f"<{sender}>" not in text:
                continue
            answer = EmailMessage()
            answer["From"] = email.utils.formataddr((REP_NAME, REP))
            answer["To"] = persona.email
            answer["Subject"] = f"Re: {_bare(their)}"
            answer["Date"] = email.utils.format_datetime(now)
            answer["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
            _thread_onto(answer, their)
            answer.set_content("Thursday 10:00 works. I'll send an invite.\n\nSam\n")
            line = f"answers {persona.email} from the mail client"
            self.pending.append((now + REP_ANSWERS_AFTER, REP, answer, line))
            return


def _bare(msg: EmailMessage) -> str:
    subject = str(msg["Subject"] or "")
    while subject.lower().startswith("re: "):
        subject = subject[4:]
    return subject


def _thread_onto(msg: EmailMessage, parent: EmailMessage) -> None:
    parent_id = str(parent["Message-ID"] or "").strip()
    refs = str(parent["References"] or "").split()
    if parent_id:
        msg["In-Reply-To"] = parent_id
        msg["References"] = " ".join([*refs, parent_id][-20:])


def _quoted(touch: EmailMessage) -> str:
    body = touch.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    sender = touch["From"].addresses[0].display_name if touch["From"] else REP_NAME
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())
    return f"\nOn {touch['Date']}, {sender} wrote:\n{quoted}\n"


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
        from sequencer.db.session import Database

        db = Database(config.database_url)
        try:
            story = _enroll_cast(db, config, project.sequences, clock)
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


def _enroll_cast(
    db: object, config: object, sequences: object, clock: ManualClock
) -> list[Happening]:
    out = []
    for p in PERSONAS:
        enrollment.enroll(
            db, config, sequences,  # type: ignore[arg-type]
            email=p.email, sequence_id=SEQUENCE_ID, name=p.name, company=p.company,
            tz=TEAM_TZ, value=str(p.value),
            fields={"quote_number": p.quote_number, "product": p.product},
            now=clock.now(), actor="demo", source="demo",
        )  # fmt: skip
        out.append(Happening(clock.now(), p.email, f"enrolled in {SEQUENCE_ID} ({p.plays})"))
    return out


async def _simulate(
    db: object,
    project: object,
    clock: ManualClock,
    servers: DemoMailServers,
    steps: list[datetime],
    progress: Progress | None,
) -> list[Happening]:
    from sequencer.inbound.poll import poll_mailbox
    from sequencer.mail.imap import ImapConnection as ImapPoller
    from sequencer.outbound.engine import Engine

    config, sequences = project.config, project.sequences  # type: ignore[attr-defined]
    mailbox = config.mailboxes[0]
    # One IMAP connection for every poll, as `sequencer run` keeps one.
    poller = ImapPoller(mailbox)
    poller.connect()
    engine = Engine(
        db, config, sequences, project.templates, clock,  # type: ignore[attr-defined]
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
            happened += _rep_does_tasks(db, config, sequences, clock, when)
            story.extend(happened)
            if progress is not None:
                progress(index, len(steps), when, happened)
    finally:
        await engine.aclose()
        poller.close()
    return story


def _rep_does_tasks(
    db: object, config: object, sequences: object, clock: ManualClock, now: datetime
) -> list[Happening]:
    """Sam works the task list (task steps, README, "Rep workflow"): each due task is done at once."""
    from sequencer.people import tasks

    out = []
    for view in tasks.todo(db, config, clock, due="overdue"):  # type: ignore[arg-type]
        closed = tasks.close_task(
            db, config, sequences, clock, view.id, status="done",  # type: ignore[arg-type]
            note="called; left a voicemail", actor=REP,
        )  # fmt: skip
        out.append(Happening(now, REP, f"does the {view.kind} task \u201c{view.title}\u201d for {view.prospect}: {closed.outcome}"))
    return out


def iter_story(outcome: DemoOutcome) -> Iterator[str]:
    tz = ZoneInfo(TEAM_TZ)
    for h in outcome.story:
        yield f"{h.at.astimezone(tz):%a %d %b %H:%M}  {h.who}  {h.what}"
