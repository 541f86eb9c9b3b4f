"""The rep's workflow (service): task steps, todo/done/skip, morning reminders, escalation,
and manual emails captured from the Sent folder.

A task step sends nothing. When it comes due, the sending engine calls
``task_step_due`` (in its claim transaction): the task is created for the enrollment's
owner, due at the step's computed time, and the enrollment is held (``wait_reason``
"task: ...") until ``done``/``skip`` (or, with ``on_task_overdue: skip_after D``, until
it has been overdue for D). Closing a task advances the enrollment and schedules the
next step from that moment, so the sequence never runs ahead of the rep.

``run_due_jobs`` is what ``sequencer run``/``tick`` call on every tick: each business
morning at ``reporting.task_reminder_time`` (the rep's mailbox time zone) every rep with
due tasks gets ONE reminder (a JobRun row keyed by rep and day is the claim), and an
open task overdue by more than ``reporting.task_sla_hours`` is escalated to
``reporting.managers`` once (claimed by a guarded UPDATE of ``tasks.escalated_at``).

Manual emails: the poller stores what it finds in Sent (the same rows it uses to see the
rep's answer to a reply); ``capture_manual_email`` turns one the rep wrote to a prospect
into a ``manual_email`` event, completes that enrollment's open ``email`` task, and
applies the sequence's ``on_manual_email`` policy (delay | continue | stop).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sequencer import lifecycle, notify
from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.db import outbox, store
from sequencer.db import reports as report_q
from sequencer.db import tasks as q
from sequencer.db.models import Enrollment, InboundMessage
from sequencer.errors import MailboxError, NotFound, UserError
from sequencer.schedule import BusinessCalendar, add_wait, due_at, zone
from sequencer.sequences import Sequence, Step

log = logging.getLogger(__name__)

ACTOR = "tasks"
WAIT_TASK = "task"
# With on_task_overdue: wait, a held enrollment is looked at again this often (cheap:
# one row), so next_send_at is always a real time and the lead-safety check holds.
RECHECK = timedelta(days=1)
REMINDER_JOB = "task_reminder"
Due = Literal["today", "overdue", "all"]


# --- small helpers ----------------------------------------------------------------------


def _calendar(config: Config) -> BusinessCalendar:
    from sequencer.planning import business_calendar

    return business_calendar(config)


def owner_mailbox(config: Config, owner: str | None) -> MailboxConfig | None:
    """The mailbox of a rep (by rep name, mailbox name or address); None when unknown."""
    for m in config.mailboxes:
        if owner and owner in (m.rep, m.name, m.address):
            return m
    return None


def owner_zone(config: Config, owner: str | None) -> ZoneInfo:
    mailbox = owner_mailbox(config, owner)
    return zone((mailbox.timezone if mailbox else None) or config.timezone)


def _enrollment_zone(
    config: Config, sequence: Sequence | None, e: Enrollment
) -> tuple[str, MailboxConfig | None]:
    from sequencer.planning import prospect_zone

    try:
        mailbox: MailboxConfig | None = config.mailbox(e.mailbox)
    except NotFound:
        mailbox = None
    return prospect_zone(
        config, sequence, mailbox, e.prospect.timezone if e.prospect else None
    ), mailbox


def _next_step_time(
    config: Config,
    sequence: Sequence,
    e: Enrollment,
    number: int,
    start: datetime,
    calendar: BusinessCalendar,
) -> datetime:
    """When step ``number`` is due counting its wait from ``start`` (windows, business days apply)."""
    from sequencer.planning import mailbox_window

    tz_name, mailbox = _enrollment_zone(config, sequence, e)
    step = sequence.step(number)
    window = sequence.window_for(step, mailbox_window(mailbox))
    return due_at(start, step.wait, zone(tz_name), window, calendar)


def _advance(
    s: Session,
    config: Config,
    sequences: Mapping[str, Sequence],
    e: Enrollment,
    step: int,
    now: datetime,
    calendar: BusinessCalendar,
    actor: str,
) -> str:
    """Move an enrollment held by the task of ``step`` on; returns what happened (for output)."""
    if e.steps_done != step - 1 or e.status not in lifecycle.OPEN_STATES:
        return f"enrollment {e.id} is {e.status} at step {e.steps_done}; nothing to advance"
    sequence = sequences.get(e.sequence_id)
    total = sequence.total_steps if sequence else e.total_steps
    if step >= total:
        if e.status == lifecycle.ACTIVE:
            store.transition(
                s,
                e,
                lifecycle.COMPLETED,
                now=now,
                actor=actor,
                reason="every step done, no reply",
                step=step,
                steps_done=step,
                wait_reason=None,
            )
            return "the sequence is complete"
        q.advance_past_task(s, e.id, step=step, next_send_at=e.next_send_at)
        return "that was the last step; the enrollment stays paused"
    if sequence is None:
        raise NotFound(
            f"sequence {e.sequence_id!r} is not loaded, so its next step cannot be scheduled"
        )
    next_at = _next_step_time(config, sequence, e, step + 1, now, calendar)
    if e.status == lifecycle.PAUSED:
        next_at = max(next_at, e.next_send_at or next_at)
    if not q.advance_past_task(s, e.id, step=step, next_send_at=next_at):
        return f"enrollment {e.id} moved meanwhile; nothing to advance"
    nxt = sequence.step(step + 1)
    return f"next: step {step + 1} ({nxt.label}) at {next_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# --- the send hook ----------------------------------------------------------------------


def task_step_due(
    s: Session,
    config: Config,
    sequences: Mapping[str, Sequence],
    sequence: Sequence,
    step: Step,
    e: Enrollment,
    now: datetime,
    calendar: BusinessCalendar,
) -> outbox.Decision:
    """Called by the engine's claim for an enrollment whose next step is a task.

    Creates the task (once), holds the enrollment until it is closed, or skips it when
    ``on_task_overdue: skip_after`` has run out. Writes in the claim's transaction and
    returns LEAVE: nothing is sent and the claim has nothing more to do for this row.
    """
    due = e.next_send_at or now
    task, created = q.create_task(
        s,
        enrollment_id=e.id,
        step=step.number,
        owner=e.owner,
        title=step.task or step.label,
        kind=step.task_kind or "other",
        due_at=due,
        now=now,
    )
    if created:
        store.record_event(
            s,
            now=now,
            kind="task_created",
            actor="sender",
            enrollment=e,
            reason=f"{task.kind} task for {e.owner or 'the owner'}: {task.title}",
            step=step.number,
            data={"task": task.id, "due_at": task.due_at.isoformat(), "kind": task.kind},
        )
    if task.status != q.OPEN:  # closed while the enrollment was not looking (e.g. paused)
        _advance(s, config, sequences, e, step.number, now, calendar, "sender")
        return outbox.LEAVE
    skip_after = sequence.policies.task_skip_after
    if skip_after is not None:
        tz_name, _ = _enrollment_zone(config, sequence, e)
        deadline = add_wait(task.due_at, skip_after, zone(tz_name), calendar)
        if now >= deadline:
            reason = f"skipped automatically: overdue past on_task_overdue skip_after {skip_after}"
            if q.close_task(s, task.id, status=q.SKIPPED, now=now, note=reason, actor="sender"):
                store.record_event(
                    s,
                    now=now,
                    kind="task_skipped",
                    actor="sender",
                    enrollment=e,
                    reason=reason,
                    step=step.number,
                    data={"task": task.id, "title": task.title},
                )
                s.refresh(e)
                _advance(s, config, sequences, e, step.number, now, calendar, "sender")
            return outbox.LEAVE
        recheck = deadline
    else:
        recheck = max(now, task.due_at) + RECHECK
    e.next_send_at = recheck
    e.wait_reason = f"{WAIT_TASK}: {task.title}"[:500]
    return outbox.LEAVE


# --- todo / done / skip -----------------------------------------------------------------


@dataclass(frozen=True)
class TaskView:
    """One task as the rep sees it in ``todo`` (and in ``--json``)."""

    id: int
    title: str
    kind: str
    status: str
    owner: str | None
    due_at: datetime
    overdue_hours: float
    prospect: str
    prospect_name: str | None
    company: str | None
    deal_value: float | None
    sequence_id: str
    step: int
    enrollment_id: int
    enrollment_status: str
    touches_sent: int
    last_touch_subject: str | None
    thread_subject: str | None
    escalated_at: datetime | None = None
    done_at: datetime | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _view(listing: q.TaskListing, touches: q.TouchSummary | None, now: datetime) -> TaskView:
    t, e, p = listing.task, listing.enrollment, listing.prospect
    return TaskView(
        id=t.id,
        title=t.title,
        kind=t.kind,
        status=t.status,
        owner=t.owner,
        due_at=t.due_at,
        overdue_hours=round(max(0.0, (now - t.due_at).total_seconds()) / 3600, 1),
        prospect=p.display_email,
        prospect_name=p.name,
        company=p.company,
        deal_value=q.deal_value(p.deal_value),
        sequence_id=e.sequence_id,
        step=t.step,
        enrollment_id=e.id,
        enrollment_status=e.status,
        touches_sent=touches.sent if touches else 0,
        last_touch_subject=touches.last_subject if touches else None,
        thread_subject=e.thread_subject,
        escalated_at=t.escalated_at,
        done_at=t.done_at,
        note=t.note,
    )


def _end_of_local_day(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(local, datetime.min.time(), tz).astimezone(UTC)


def todo(
    db: Any, config: Config, clock: Clock, *, owner: str | None = None, due: Due = "today"
) -> list[TaskView]:
    """Open tasks, oldest due first: due by the end of the rep's day, overdue now, or all."""
    now = clock.now()
    if due == "overdue":
        before: datetime | None = now
    elif due == "today":
        before = _end_of_local_day(now, owner_zone(config, owner))
    elif due == "all":
        before = None
    else:
        raise UserError(f"--due takes today, overdue or all, not {due!r}")
    with db.session() as s:
        listings = q.list_tasks(s, owner=owner, due_before=before)
        touches = q.touch_summaries(s, [x.enrollment.id for x in listings])
        return [_view(x, touches.get(x.enrollment.id), now) for x in listings]


@dataclass(frozen=True)
class TaskClosed:
    task: TaskView
    outcome: str


def close_task(
    db: Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    clock: Clock,
    task_id: int,
    *,
    status: Literal["done", "skipped"],
    note: str | None = None,
    actor: str = "cli",
) -> TaskClosed:
    """``done``/``skip``: close the task (an event on the timeline) and move the sequence on."""
    if status == q.SKIPPED and not (note or "").strip():
        raise UserError("skip needs a reason (--reason TEXT): the manager report shows it")
    now = clock.now()
    with db.session() as s:
        task = q.task(s, task_id)
        if task is None:
            raise NotFound(f"no task {task_id} (see `sequencer todo --due all`)")
        e = q.lock_enrollment(s, task.enrollment_id)
        assert e is not None
        if not q.close_task(s, task.id, status=status, now=now, note=note, actor=actor):
            s.refresh(task)
            raise UserError(f"task {task_id} is already {task.status}")
        store.record_event(
            s,
            now=now,
            kind="task_done" if status == q.DONE else "task_skipped",
            actor=actor,
            enrollment=e,
            reason=(note or task.title)[:2000],
            step=task.step,
            data={"task": task.id, "title": task.title, "kind": task.kind},
        )
        outcome = _advance(s, config, sequences, e, task.step, now, _calendar(config), actor)
        s.flush()
        closed = q.task(s, task.id)
        assert closed is not None
        s.refresh(e)
        view = _view(
            q.TaskListing(closed, e, e.prospect), q.touch_summaries(s, [e.id]).get(e.id), now
        )
    return TaskClosed(view, outcome)


# --- manual emails (the Sent folder) --------------------------------------------------------


@dataclass
class ManualEmail:
    """What one manual email did: enrollments it was recorded on, tasks it completed."""

    enrollment_ids: list[int] = field(default_factory=list)
    tasks_completed: list[int] = field(default_factory=list)
    delayed: list[int] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)


def _iso(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def capture_manual_email(
    s: Session,
    config: Config,
    sequences: Mapping[str, Sequence],
    mailbox: MailboxConfig,
    row: InboundMessage,
    now: datetime,
    calendar: BusinessCalendar,
    *,
    actor: str = "poller",
) -> ManualEmail:
    """A message in Sent that is not one of our touches, addressed to prospects of this mailbox.

    Recorded as ``manual_email`` on each matching open (or replied, still unanswered)
    enrollment; on an open one it completes the open ``email`` task, or else applies
    ``on_manual_email``: ``delay`` pushes the next touch to (now + that step's wait) when
    that is later than planned, ``stop`` ends the sequence, ``continue`` leaves it.
    """
    result = ManualEmail()
    own = {m.address.lower() for m in config.mailboxes}
    recipients = [a.lower() for a in row.recipients or [] if a.lower() not in own]
    written = _iso((row.details or {}).get("date"))
    statuses = (*lifecycle.OPEN_STATES, lifecycle.REPLIED)
    for e, p in q.enrollments_of_recipients(s, mailbox.name, recipients, statuses):
        if e.status == lifecycle.REPLIED and e.answered_at is not None:
            continue
        if written is not None and written < e.enrolled_at - timedelta(minutes=5):
            continue  # written before the enrollment (a first sync reading old mail)
        data = {
            "message_id": row.message_id,
            "subject": row.subject,
            "to": p.email,
            "mailbox": mailbox.name,
        }
        store.record_event(
            s,
            now=now,
            kind="manual_email",
            actor=actor,
            enrollment=e,
            reason=f"the rep emailed {p.email} by hand: \u201c{row.subject or '(no subject)'}\u201d"[
                :2000
            ],
            step=e.steps_done,
            data=data,
        )
        result.enrollment_ids.append(e.id)
        if e.status not in lifecycle.OPEN_STATES:
            continue
        task = q.open_email_task(s, e.id)
        if task is not None and q.close_task(
            s,
            task.id,
            status=q.DONE,
            now=now,
            note=f"manual email: {row.subject or ''}".strip(),
            actor=actor,
        ):
            store.record_event(
                s,
                now=now,
                kind="task_done",
                actor=actor,
                enrollment=e,
                reason=f"completed by the manual email \u201c{row.subject or '(no subject)'}\u201d",
                step=task.step,
                data={"task": task.id, "title": task.title, "kind": task.kind, **data},
            )
            result.tasks_completed.append(task.id)
            _advance(s, config, sequences, e, task.step, now, calendar, actor)
            continue
        sequence = sequences.get(e.sequence_id)
        policy = sequence.policies.on_manual_email if sequence else "delay"
        if policy == "stop" and e.status in lifecycle.TRANSITIONS[lifecycle.STOPPED]:
            store.transition(
                s,
                e,
                lifecycle.STOPPED,
                now=now,
                actor=actor,
                reason="the rep emailed the prospect by hand (on_manual_email: stop)",
                step=e.steps_done,
            )
            result.stopped.append(e.id)
        elif policy == "delay" and sequence is not None and e.status == lifecycle.ACTIVE:
            number = e.steps_done + 1
            if 1 <= number <= sequence.total_steps and e.next_send_at is not None:
                until = _next_step_time(config, sequence, e, number, now, calendar)
                if until > e.next_send_at:
                    e.next_send_at = until
                    e.wait_reason = "manual email: on_manual_email delay"
                    s.flush()
                    result.delayed.append(e.id)
    return result


# --- reminders and escalations --------------------------------------------------------------


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


def _dec(value: float) -> Any:
    from decimal import Decimal

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


def run_due_jobs(db: Any, config: Config, clock: Clock, *, worker: str | None = None) -> JobsResult:
    """Morning reminders (once per rep and day) and task escalations (once per task); call every tick.

    Claims are committed before any email goes out; a failed send gives its claim back,
    so a later tick (of any worker) tries again. Never raises for a mail failure.
    """
    result = JobsResult()
    _send_reminders(db, config, clock, worker, result)
    _escalate_overdue(db, config, clock, result)
    return result


def _send_reminders(
    db: Any, config: Config, clock: Clock, worker: str | None, result: JobsResult
) -> None:
    now = clock.now()
    calendar = _calendar(config)
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
        try:
            with db.session() as s:
                report_q.claim_job_run(s, job, period, now=now, worker=worker)
        except IntegrityError:
            continue  # another worker (or an earlier tick) has it
        sender = _sender(config, mailbox)
        assert sender is not None
        msg = reminder(
            owner, views, sender=sender, to=mailbox.address, day=local.date(), tz=tz, now=now
        )
        try:
            notify.send_notification(sender, msg, [mailbox.address])
        except (MailboxError, OSError) as exc:
            with db.session() as s:
                report_q.release_job_run(s, job, period)
            result.warnings.append(f"task reminder for {owner} not sent: {exc}")
            continue
        result.reminders.append(owner)


def _escalate_overdue(db: Any, config: Config, clock: Clock, result: JobsResult) -> None:
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
        views = [_view(x, touches.get(x.enrollment.id), now) for x in listings]
    for view in views:
        with db.session() as s:
            if not q.claim_task_escalation(s, view.id, now):
                continue
        sender = _sender(config, owner_mailbox(config, view.owner))
        assert sender is not None
        msg = task_escalation(view, sender=sender, to=managers, sla_hours=sla, now=now)
        try:
            notify.send_notification(sender, msg, managers)
        except (MailboxError, OSError) as exc:
            with db.session() as s:
                q.release_task_escalation(s, view.id)
            result.warnings.append(f"escalation of task {view.id} not sent: {exc}")
            continue
        with db.session() as s:
            e = s.get(Enrollment, view.enrollment_id)
            store.record_event(
                s,
                now=now,
                kind="task_escalated",
                actor=ACTOR,
                enrollment=e,
                reason=f"task overdue past {sla:g}h; sent to {', '.join(managers)}",
                step=view.step,
                data={"task": view.id, "title": view.title},
            )
        result.escalated.append(view.id)


__all__ = [
    "JobsResult",
    "ManualEmail",
    "TaskClosed",
    "TaskView",
    "capture_manual_email",
    "close_task",
    "run_due_jobs",
    "task_step_due",
    "todo",
]
