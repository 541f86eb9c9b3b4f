"""Task reminders and escalations (service), run on every tick.

``run_due_jobs`` is what ``sequencer run``/``tick`` call on every tick: each business
morning at ``reporting.task_reminder_time`` (the rep's mailbox time zone) every rep with
due tasks gets ONE reminder (key ``reminder:<rep>:<day>``), and an open task overdue
by more than ``reporting.task_sla_hours`` is escalated to ``reporting.managers`` once
(key ``task-escalation:<task>``; ``tasks.escalated_at`` is set when it went out). Both
are claimed notifications (``reporting.once``): exactly once across workers, a crash
mid-send held for the operator.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.db import job_runs as report_q
from sequencer.db import store
from sequencer.db import tasks as q
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.people.tasks import (
    TaskView,
    owner_mailbox,
    owner_zone,
    task_calendar,
    task_view,
    todo,
)
from sequencer.reporting import notify, once

ACTOR = "tasks"
REMINDER_JOB = "task_reminder"


@dataclass
class JobsResult:
    reminders: list[str] = field(default_factory=list)  # reps reminded
    escalated: list[int] = field(default_factory=list)  # task ids
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _reminder_job(owner: str) -> str:
    job = f"{REMINDER_JOB}:{owner}"
    if len(job) <= 100:
        return job
    return f"{REMINDER_JOB}:{hashlib.sha256(owner.encode()).hexdigest()[:32]}"


def _sender(config: Config, fallback: MailboxConfig | None) -> MailboxConfig | None:
    if config.reporting.notify_from:
        return config.mailbox(config.reporting.notify_from)
    return fallback or (config.mailboxes[0] if config.mailboxes else None)


def notification_message(
    kind: str, sender: MailboxConfig, to: list[str], subject: str, body: str, now: datetime
) -> EmailMessage:
    """Plain text, link-free, marked auto-generated and as ours (the poller skips it)."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name="Sequencer", addr_spec=sender.address)
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject[:200]
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = f"<sq.notify.{uuid.uuid4().hex}@{sender.address.rsplit('@', 1)[-1]}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg[notify.NOTIFICATION_HEADER] = kind
    msg.set_content(body, charset="utf-8")
    return msg


def _task_lines(view: TaskView, tz: ZoneInfo) -> list[str]:
    who = view.prospect_name or view.prospect
    company = f" ({view.company})" if view.company else ""
    due = view.due_at.astimezone(tz).strftime("%a %d %b %H:%M")
    late = f", overdue {view.overdue_hours:g}h" if view.overdue_hours > 0 else ""
    lines = [
        f"[{view.id}] {view.kind}: {view.title}",
        f"      {who}{company} <{view.prospect}>, deal {notify.format_money(None if view.deal_value is None else _dec(view.deal_value))}",
        f"      {view.sequence_id} step {view.step}, due {due}{late}; {view.touches_sent} touch(es) sent",
    ]
    if view.thread_subject:
        lines.append(f"      thread: {view.thread_subject}")
    return lines


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def reminder(
    owner: str,
    views: list[TaskView],
    *,
    sender: MailboxConfig,
    to: str,
    day: date,
    tz: ZoneInfo,
    now: datetime,
) -> EmailMessage:
    """The rep's morning list: every open task due today or earlier, oldest first."""
    overdue = sum(1 for v in views if v.overdue_hours > 0)
    subject = f"Your tasks for {day:%a %d %b}: {len(views)} due" + (
        f", {overdue} overdue" if overdue else ""
    )
    body = [
        f"Good morning {owner}. These tasks are waiting for you; the sequences wait for them.",
        "",
    ]
    for v in views:
        body += [*_task_lines(v, tz), ""]
    body += [
        'Mark one done:  sequencer done ID --note "..."',
        'Skip one:       sequencer skip ID --reason "..."',
        "",
        "-- sequencer",
    ]
    return notification_message("task-reminder", sender, [to], subject, "\n".join(body) + "\n", now)


def task_escalation(
    view: TaskView, *, sender: MailboxConfig, to: list[str], sla_hours: float, now: datetime
) -> EmailMessage:
    owner = view.owner or "the rep"
    who = view.prospect_name or view.prospect
    subject = f"Overdue task ({view.overdue_hours:.0f}h): {view.title} for {who} ({owner})"
    body = [
        f"{owner}'s task is {view.overdue_hours:.1f} hours overdue (the task SLA is {sla_hours:g} hours),",
        "and the sequence is waiting for it. This is the only escalation for this task.",
        "",
        *_task_lines(view, ZoneInfo("UTC")),
        "",
        "-- sequencer",
    ]
    return notification_message(
        "task-escalation", sender, list(to), subject, "\n".join(body) + "\n", now
    )


def run_due_jobs(db: Database, config: Config, clock: Clock, *, worker: str | None = None) -> JobsResult:
    """Morning reminders (once per rep and day) and task escalations (once per task); call every tick.

    Who commits: each claim, release and event is its own short transaction on ``db``;
    claims are committed before any email goes out, and a failed send gives its claim
    back, so a later tick (of any worker) tries again. Never raises for a mail failure.
    """
    result = JobsResult()
    _send_reminders(db, config, clock, worker, result)
    _escalate_overdue(db, config, clock, worker, result)
    return result


def _send_reminders(
    db: Database, config: Config, clock: Clock, worker: str | None, result: JobsResult
) -> None:
    now = clock.now()
    calendar = task_calendar(config)
    with db.session() as s:
        # The widest "today" of any zone is at most 14 h ahead of UTC.
        owners = [o for o in q.owners_with_open_tasks(s, due_before=now + timedelta(hours=38)) if o]
    for owner in owners:
        tz = owner_zone(config, owner)
        local = now.astimezone(tz)
        if (
            not calendar.is_business_day(local.date())
            or local.time() < config.reporting.task_reminder_time
        ):
            continue
        views = todo(db, config, clock, owner=owner, due="today")
        if not views:
            continue
        mailbox = owner_mailbox(config, owner)
        if mailbox is None:
            result.warnings.append(f"tasks of {owner!r}: no mailbox for this owner, so no reminder")
            continue
        job, period = _reminder_job(owner), local.date().isoformat()
        with db.session() as s:
            if report_q.has_run(s, job, period):  # reminded before 0011_notifications
                continue
        sender = _sender(config, mailbox)
        assert sender is not None
        outcome = once.send_once(
            db,
            clock,
            key=f"reminder:{job}:{period}",
            kind="task-reminder",
            sender=sender,
            recipients=[mailbox.address],
            compose=lambda at, owner=owner, views=views, tz=tz, local=local, sender=sender, mailbox=mailbox: reminder(
                owner, views, sender=sender, to=mailbox.address, day=local.date(), tz=tz, now=at
            ),
            worker=worker,
            subject=f"task reminder {owner} {period}",
        )
        if outcome.status == once.FAILED:
            result.warnings.append(f"task reminder for {owner} not sent: {outcome.error}")
        if not outcome.sent:
            continue
        result.reminders.append(owner)


def _escalate_overdue(
    db: Database, config: Config, clock: Clock, worker: str | None, result: JobsResult
) -> None:
    managers = list(config.reporting.managers)
    if not managers:
        return
    now = clock.now()
    sla = config.reporting.task_sla_hours
    with db.session() as s:
        listings = [
            x
            for x in q.overdue_tasks(s, overdue_before=now - timedelta(hours=sla))
            if x.task.escalated_at is None
        ]
        touches = q.touch_summaries(s, [x.enrollment.id for x in listings])
        views = [task_view(x, touches.get(x.enrollment.id), now) for x in listings]
    for view in views:
        sender = _sender(config, owner_mailbox(config, view.owner))
        assert sender is not None

        def recorded(s: Session, at: datetime, view: TaskView = view) -> None:
            q.claim_task_escalation(s, view.id, at)
            store.record_event(
                s,
                now=at,
                kind="task_escalated",
                actor=ACTOR,
                enrollment=s.get(Enrollment, view.enrollment_id),
                reason=f"task overdue past {sla:g}h; sent to {', '.join(managers)}",
                step=view.step,
                data={"task": view.id, "title": view.title},
            )

        outcome = once.send_once(
            db,
            clock,
            key=f"task-escalation:{view.id}",
            kind="task-escalation",
            sender=sender,
            recipients=managers,
            compose=lambda at, view=view, sender=sender: task_escalation(
                view, sender=sender, to=managers, sla_hours=sla, now=at
            ),
            on_sent=recorded,
            worker=worker,
            subject=f"task escalation {view.id}",
        )
        if outcome.status == once.FAILED:
            result.warnings.append(f"escalation of task {view.id} not sent: {outcome.error}")
        if not outcome.sent:
            continue
        result.escalated.append(view.id)


__all__ = [
    "JobsResult",
    "notification_message",
    "reminder",
    "run_due_jobs",
    "task_escalation",
]
