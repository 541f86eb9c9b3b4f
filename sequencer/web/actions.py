"""The manager's actions from the dashboard, each recorded as an event with the manager as actor.

Pause and resume go through ``sequencer.people.state_changes`` (the same functions as
``sequencer pause`` / ``resume``), so the state machine, its guards and its events
are the CLI's. Reassigning an owner and marking a reply handled have no CLI
service yet; they live here until ``sequencer.people.state_changes`` grows them, and write the
same kind of audit event (``owner_changed``, ``reply_handled``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.db import store
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.session import Database
from sequencer.errors import IllegalTransition, NotFound, UserError
from sequencer.people import state_changes

MAX_REASON = 500


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


def pause(
    db: Database, enrollment_id: int, *, reason: str | None, now: datetime, actor: str
) -> Done:
    why = _reason(reason, required=True, what="pause")
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        if e.status != lifecycle.ACTIVE:
            raise IllegalTransition(
                f"enrollment {enrollment_id} is {e.status}, not active; not paused"
            )
        state_changes.pause(s, email=p.email, sequence_id=e.sequence_id, reason=why, now=now, actor=actor)
        return Done(f"Paused {p.email} in {e.sequence_id}: {why}", p.email)


def resume(
    db: Database,
    config: Config,
    sequences: Callable[[], Mapping[str, Any]],
    enrollment_id: int,
    *,
    reason: str | None,
    now: datetime,
    actor: str,
) -> Done:
    why = _reason(reason, required=False, what="resume")
    loaded = sequences()
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        if e.status != lifecycle.PAUSED:
            raise IllegalTransition(
                f"enrollment {enrollment_id} is {e.status}, not paused; not resumed"
            )
        changes = state_changes.resume(
            s,
            config,
            loaded,
            email=p.email,
            sequence_id=e.sequence_id,
            reason=why,
            now=now,
            actor=actor,
        )
        when = changes[0].next_send_at if changes else None
        nxt = f"; next touch {when:%Y-%m-%d %H:%M} UTC" if when else ""
        return Done(f"Resumed {p.email} in {e.sequence_id}{nxt}", p.email)


def reassign(
    db: Database, config: Config, enrollment_id: int, *, owner: str, now: datetime, actor: str
) -> Done:
    """Hand the lead to another rep: the prospect's owner and this enrollment's owner.

    The sending mailbox is left as it is, so the thread's remaining touches come from
    the address the prospect already knows.
    """
    new_owner = owner.strip()
    reps = {m.rep for m in config.mailboxes}
    if not new_owner or len(new_owner) > 100:
        raise UserError("reassign: name the rep (at most 100 characters)")
    if reps and new_owner not in reps:
        raise UserError(
            f"reassign: {new_owner!r} is not a rep of a configured mailbox ({', '.join(sorted(reps))})"
        )
    with db.session() as s:
        e, p = _enrollment(s, enrollment_id)
        previous = e.owner
        if previous == new_owner and p.owner == new_owner:
            return Done(f"{p.email} already belongs to {new_owner}", p.email)
        e.owner = new_owner
        p.owner = new_owner
        p.updated_at = now
        store.record_event(
            s,
            now=now,
            kind="owner_changed",
            actor=actor,
            enrollment=e,
            reason=f"reassigned from {previous or '(nobody)'} to {new_owner}",
            data={"from": previous, "to": new_owner},
        )
        return Done(f"{p.email} now belongs to {new_owner}", p.email)


def mark_handled(
    db: Database, enrollment_id: int, *, note: str | None, now: datetime, actor: str
) -> Done:
    """The rep answered the reply some other way (phone, another thread): stop the SLA clock."""
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


__all__ = ["Done", "mark_handled", "pause", "reassign", "resume"]
