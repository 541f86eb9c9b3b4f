"""What a manager does to one enrollment from the dashboard, and what the lead page shows of it.

Pause and resume go through ``sequencer.people.state_changes`` (the same functions as
``sequencer pause`` / ``resume``), so the state machine, its guards and its events are
the CLI's. Reassigning an owner and marking a reply handled write the same kind of
audit event as any state change (``owner_changed``, ``reply_handled``) through
``sequencer.db.store.record_event``.

Every action takes the ``Database`` and runs in ONE transaction of its own, committed
before it returns (rolled back when it raises): the dashboard never holds a session.
``lead_view`` only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.db import store
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.session import Database
from sequencer.errors import IllegalTransition, NotFound, UserError
from sequencer.people import state_changes
from sequencer.people import timeline as timelines
from sequencer.project import load_project

MAX_REASON = 500
MAX_OWNER = 100


@dataclass(frozen=True)
class Done:
    """What happened, in words for the page's notice, and whose timeline to show."""

    message: str
    email: str


def _enrollment(s: Session, enrollment_id: int) -> tuple[Enrollment, Prospect]:
    e = s.get(Enrollment, enrollment_id)
    if e is None:
        raise NotFound(f"no enrollment {enrollment_id}")
    return e, e.prospect


def _reason(text: str | None, *, required: bool, what: str) -> str | None:
    value = " ".join((text or "").split())
    if required and not value:
        raise UserError(f"{what}: give a reason (it is shown on the lead's timeline)")
    if len(value) > MAX_REASON:
        raise UserError(f"{what}: the reason is longer than {MAX_REASON} characters")
    return value or None


def known_reps(config: Config) -> list[str]:
    """Reps a lead may be handed to: the owners of the configured mailboxes."""
    return sorted({m.rep for m in config.mailboxes})


def pause(db: Database, enrollment_id: int, *, reason: str | None, now: datetime, actor: str) -> Done:
    """Hold an active enrollment (a reason is required). Commits."""
    why = _reason(reason, required=True, what="pause")
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        if e.status != lifecycle.ACTIVE:
            raise IllegalTransition(f"enrollment {enrollment_id} is {e.status}, not active; not paused")
        state_changes.pause(s, email=p.email, sequence_id=e.sequence_id, reason=why, now=now, actor=actor)
        return Done(f"Paused {p.email} in {e.sequence_id}: {why}", p.email)


def resume(
    db: Database, config: Config, enrollment_id: int, *, reason: str | None, now: datetime, actor: str
) -> Done:
    """Resume a paused enrollment, rescheduled as ``sequencer resume`` does. Commits.

    The sequence files are read (after the reason is checked) because the next touch
    time depends on the step's wait and the send window.
    """
    why = _reason(reason, required=False, what="resume")
    sequences = load_project(config).sequences
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        if e.status != lifecycle.PAUSED:
            raise IllegalTransition(f"enrollment {enrollment_id} is {e.status}, not paused; not resumed")
        changes = state_changes.resume(
            s, config, sequences, email=p.email, sequence_id=e.sequence_id, reason=why, now=now, actor=actor
        )
        when = changes[0].next_send_at if changes else None
        nxt = f"; next touch {when:%Y-%m-%d %H:%M} UTC" if when else ""
        return Done(f"Resumed {p.email} in {e.sequence_id}{nxt}", p.email)


def reassign(
    db: Database, config: Config, enrollment_id: int, *, owner: str, now: datetime, actor: str
) -> Done:
    """Hand the lead to another rep: the prospect's owner and this enrollment's owner. Commits.

    The sending mailbox is left as it is, so the thread's remaining touches come from
    the address the prospect already knows.
    """
    new_owner = owner.strip()
    reps = known_reps(config)
    if not new_owner or len(new_owner) > MAX_OWNER:
        raise UserError(f"reassign: name the rep (at most {MAX_OWNER} characters)")
    if reps and new_owner not in reps:
        raise UserError(f"reassign: {new_owner!r} is not a rep of a configured mailbox ({', '.join(reps)})")
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        if e.owner == new_owner and p.owner == new_owner and not state_changes.reassign_preview(
            s, enrollment_id, new_owner
        ).open_tasks:
            return Done(f"{p.email} already belongs to {new_owner}", p.email)
        # Open tasks (and so their reminders and escalations) move with the lead.
        done = state_changes.reassign(s, enrollment_id, new_owner, now=now, actor=actor)
        return Done(f"{p.email} now belongs to {new_owner}: {done.consequences}", p.email)


def mark_handled(db: Database, enrollment_id: int, *, note: str | None, now: datetime, actor: str) -> Done:
    """The rep answered the reply some other way (phone, another thread): stop the SLA clock. Commits."""
    why = _reason(note, required=False, what="mark handled")
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        if e.replied_at is None:
            raise IllegalTransition(f"enrollment {enrollment_id} has no reply to handle")
        if e.answered_at is not None:
            return Done(f"The reply of {p.email} was already answered", p.email)
        e.answered_at = now
        store.record_event(
            s,
            now=now,
            kind="reply_handled",
            actor=actor,
            enrollment=e,
            reason=why or f"marked handled by {actor}",
            step=e.replied_step,
        )
        return Done(f"Marked the reply of {p.email} as handled", p.email)


# ---------------------------------------------------------------- the lead page


@dataclass(frozen=True)
class NextTouch:
    enrollment_id: int
    sequence_id: str
    step: str
    utc: datetime
    local: datetime
    zone: str


@dataclass
class LeadView:
    """One prospect's history, their next touches in their own zone, and whom they may go to."""

    timeline: timelines.ProspectTimeline
    next_touches: list[NextTouch]
    zone: str
    owners: list[str]


def lead_view(db: Database, config: Config, email: str, *, now: datetime) -> LeadView:
    """Reads only. The prospect's zone falls back to the team's, then UTC when unknown."""
    tl = timelines.timeline(db, email, now=now)
    zone_name = tl.timezone or config.timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ValueError, KeyError):
        zone_name, zone = "UTC", ZoneInfo("UTC")
    nxt = [
        NextTouch(e.enrollment_id, e.sequence_id, e.step, e.next_send_at, e.next_send_at.astimezone(zone), zone_name)
        for e in tl.enrollments
        if e.status in lifecycle.OPEN_STATES and e.next_send_at is not None
    ]
    return LeadView(tl, nxt, zone_name, known_reps(config))


__all__ = ["Done", "LeadView", "NextTouch", "known_reps", "lead_view", "mark_handled", "pause", "reassign", "resume"]
