"""Manual emails (service): what the rep wrote by hand to a prospect, found in Sent.

The poller stores what it finds in Sent (the same rows it uses to see the rep's answer
to a reply); ``capture_manual_email`` turns one the rep wrote to a prospect into a
``manual_email`` event, completes that enrollment's open ``email`` task, and applies the
sequence's ``on_manual_email`` policy (delay | continue | stop).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sequencer.config import Config, MailboxConfig
from sequencer.core import lifecycle
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence
from sequencer.db import store
from sequencer.db import tasks as q
from sequencer.db.models import InboundMessage
from sequencer.people import stages
from sequencer.people.tasks import advance, next_step_time


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
            stages.on_task_done(s, config, sequences, task, e, actor=actor, now=now)
            advance(s, config, sequences, e, task.step, now, calendar, actor)
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
                until = next_step_time(config, sequence, e, number, now, calendar)
                if until > e.next_send_at:
                    e.next_send_at = until
                    e.wait_reason = "manual email: on_manual_email delay"
                    s.flush()
                    result.delayed.append(e.id)
    return result


__all__ = ["ManualEmail", "capture_manual_email"]
