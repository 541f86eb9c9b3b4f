"""The rep's workflow (service): task steps, and the rep's todo/done/skip.

A task step sends nothing. When it comes due, the sending engine calls
``task_step_due`` (in its claim transaction): the task is created for the enrollment's
owner, due at the step's computed time, and the enrollment is held (``wait_reason``
"task: ...") until ``done``/``skip`` (or, with ``on_task_overdue: skip_after D``, until
it has been overdue for D). Closing a task advances the enrollment and schedules the
next step from that moment, so the sequence never runs ahead of the rep.

Morning reminders and escalations are in ``sequencer.people.task_jobs``; manual emails found in
Sent (which also complete ``email`` tasks) in ``sequencer.inbound.manual_email``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core import lifecycle
from sequencer.core.schedule import BusinessCalendar, add_wait, due_at, zone
from sequencer.core.sequences import Sequence, Step
from sequencer.db import outbox, store
from sequencer.db import tasks as q
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.errors import NotFound, UserError
from sequencer.people import stages
from sequencer.people.task_text import task_title

WAIT_TASK = "task"
# With on_task_overdue: wait, a held enrollment is looked at again this often (cheap:
# one row), so next_send_at is always a real time and the lead-safety check holds.
RECHECK = timedelta(days=1)
Due = Literal["today", "overdue", "all"]


# --- small helpers ----------------------------------------------------------------------


def task_calendar(config: Config) -> BusinessCalendar:
    """The calendar enrollment uses, so task deadlines and reminders skip the same days."""
    from sequencer.project import business_calendar

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
    from sequencer.project import prospect_zone

    try:
        mailbox: MailboxConfig | None = config.mailbox(e.mailbox)
    except NotFound:
        mailbox = None
    return prospect_zone(
        config, sequence, mailbox, e.prospect.timezone if e.prospect else None
    ), mailbox


def next_step_time(
    config: Config,
    sequence: Sequence,
    e: Enrollment,
    number: int,
    start: datetime,
    calendar: BusinessCalendar,
) -> datetime:
    """When step ``number`` is due counting its wait from ``start`` (windows, business days apply)."""
    from sequencer.project import mailbox_window

    tz_name, mailbox = _enrollment_zone(config, sequence, e)
    step = sequence.step(number)
    window = sequence.window_for(step, mailbox_window(mailbox))
    return due_at(start, step.wait, zone(tz_name), window, calendar)


def advance(
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
    next_at = next_step_time(config, sequence, e, step + 1, now, calendar)
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
        title=task_title(config, sequence, step, e, now, calendar),
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
        advance(s, config, sequences, e, step.number, now, calendar, "sender")
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
                advance(s, config, sequences, e, step.number, now, calendar, "sender")
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


def task_view(listing: q.TaskListing, touches: q.TouchSummary | None, now: datetime) -> TaskView:
    """Shared by ``todo`` and the escalation mail, so both show the same facts."""
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
    db: Database, config: Config, clock: Clock, *, owner: str | None = None, due: Due = "today"
) -> list[TaskView]:
    """Open tasks, oldest due first: due by the end of the rep's day, overdue now, or all.

    Only reads, in a read session of its own: it never commits.
    """
    now = clock.now()
    if due == "overdue":
        before: datetime | None = now
    elif due == "today":
        before = _end_of_local_day(now, owner_zone(config, owner))
    elif due == "all":
        before = None
    else:
        raise UserError(f"--due takes today, overdue or all, not {due!r}")
    with db.read_session() as s:
        listings = [  # a paused lead's task waits with it: nothing to do until it resumes
            x
            for x in q.list_tasks(s, owner=owner, due_before=before)
            if x.enrollment.status != lifecycle.PAUSED
        ]
        touches = q.touch_summaries(s, [x.enrollment.id for x in listings])
        return [task_view(x, touches.get(x.enrollment.id), now) for x in listings]


@dataclass(frozen=True)
class TaskClosed:
    task: TaskView
    outcome: str


def close_task(
    db: Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    clock: Clock,
    task_id: int,
    *,
    status: Literal["done", "skipped"],
    note: str | None = None,
    actor: str = "cli",
) -> TaskClosed:
    """``done``/``skip``: close the task (an event on the timeline) and move the sequence on.

    One transaction of its own on ``db``, committed before it returns: the task is
    closed and the enrollment advanced together, or neither.
    """
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
        if status == q.DONE:
            stages.on_task_done(s, config, sequences, task, e, actor=actor, now=now)
        outcome = advance(s, config, sequences, e, task.step, now, task_calendar(config), actor)
        s.flush()
        closed = q.task(s, task.id)
        assert closed is not None
        s.refresh(e)
        view = task_view(
            q.TaskListing(closed, e, e.prospect), q.touch_summaries(s, [e.id]).get(e.id), now
        )
    return TaskClosed(view, outcome)


__all__ = [
    "TaskClosed",
    "TaskView",
    "advance",
    "close_task",
    "next_step_time",
    "owner_mailbox",
    "owner_zone",
    "task_calendar",
    "task_step_due",
    "task_view",
    "todo",
]
