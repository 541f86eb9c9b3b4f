"""Moving enrollments between states on a rep's say-so.

``pause``/``resume``/``stop``/``unenroll``/``mark_replied`` pick the prospect's
(or the sequence's) enrollments in a state the move is allowed from, and move each
through ``store.transition``, which writes an event with its actor and reason.

Who commits: each takes ``target: Session | Database`` (``sequencer.db.unit``): with a
Session the move joins the caller's transaction and the caller commits; with a
Database it is one transaction of its own, committed before the function returns, so
a change is all-or-nothing across every enrollment it moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequencer.config import Config, MailboxConfig
from sequencer.core import lifecycle
from sequencer.core.addresses import normalize
from sequencer.core.sequences import Sequence
from sequencer.db import prospects as q
from sequencer.db import store
from sequencer.db.models import Enrollment, Task
from sequencer.db.session import Database
from sequencer.db.unit import unit_of_work
from sequencer.errors import NotFound, UserError
from sequencer.people import stages
from sequencer.project import TouchPlanner, prospect_zone


@dataclass(frozen=True)
class StateChange:
    """One enrollment moved by an action."""

    enrollment_id: int
    email: str
    sequence_id: str
    from_status: str
    to_status: str
    reason: str | None
    next_send_at: datetime | None
    paused_until: datetime | None = None


def _targets(
    s: Session, email: str | None, sequence_id: str | None, statuses: frozenset[str], verb: str
) -> list[tuple[Enrollment, str]]:
    if not email and not sequence_id:
        raise UserError(f"{verb}: name a prospect (EMAIL) or a sequence (--sequence ID)")
    prospect_id = None
    if email:
        prospect_id = store.require_prospect(s, normalize(email)).id
    rows = q.enrollments_for_action(
        s, prospect_id=prospect_id, sequence_id=sequence_id, statuses=statuses
    )
    if not rows:
        who = " ".join(
            x for x in (email, f"in sequence {sequence_id}" if sequence_id else None) if x
        )
        raise NotFound(
            f"{verb}: no {'/'.join(sorted(statuses))} enrollment for {who}"
            + _restart_hint(s, prospect_id, sequence_id, email)
        )
    return [(e, e.prospect.email) for e in rows]


def _restart_hint(
    s: Session, prospect_id: int | None, sequence_id: str | None, email: str | None
) -> str:
    """A finished enrollment is not paused: say how to start it again instead of only "no"."""
    if prospect_id is None or email is None:
        return ""
    finished = q.enrollments_for_action(
        s, prospect_id=prospect_id, sequence_id=sequence_id, statuses=lifecycle.FINISHED_STATES
    )
    if not finished:
        return ""
    last = finished[-1]
    return (
        f" ({email} is {last.status} in {last.sequence_id}; to start that sequence again: "
        f"sequencer enroll {email} --sequence {last.sequence_id} --force)"
    )


def state_change(e: Enrollment, email: str, before: str) -> StateChange:
    return StateChange(
        enrollment_id=e.id,
        email=email,
        sequence_id=e.sequence_id,
        from_status=before,
        to_status=e.status,
        reason=e.status_reason,
        next_send_at=e.next_send_at,
        paused_until=e.paused_until,
    )


# The rep-driven moves that need nothing but a target state: verb (for messages) and
# past tense (for the default reason).
_MOVES = {
    lifecycle.PAUSED: ("pause", "paused"),
    lifecycle.STOPPED: ("stop", "stopped"),
    lifecycle.UNENROLLED: ("unenroll", "unenrolled"),
}


def _move(
    target: Session | Database,
    to: str,
    email: str | None,
    sequence_id: str | None,
    reason: str | None,
    now: datetime,
    actor: str,
    **values: Any,
) -> list[StateChange]:
    verb, past = _MOVES[to]
    reason = reason or f"{past} by {actor}"
    with unit_of_work(target) as s:
        out = []
        for e, addr in _targets(s, email, sequence_id, lifecycle.allowed_from(to), verb):
            before = e.status
            store.transition(
                s, e, to, now=now, actor=actor, reason=reason, step=e.steps_done + 1, **values
            )
            out.append(state_change(e, addr, before))
        return out


def pause(
    target: Session | Database,
    *,
    email: str | None = None,
    sequence_id: str | None = None,
    reason: str | None = None,
    until: datetime | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """Hold active enrollments; the next touch time is kept, ``until`` is recorded for the scheduler.

    Commits with the caller's Session, or in its own transaction on a Database.
    """
    if until is not None and until <= now:
        raise UserError(f"--until {until.isoformat()} is not in the future")
    return _move(
        target, lifecycle.PAUSED, email, sequence_id, reason, now, actor, paused_until=until
    )


def _ending(to: str, doc: str) -> Callable[..., list[StateChange]]:
    """``stop`` and ``unenroll`` take the same arguments and differ only in the state they end in."""

    def end(
        target: Session | Database,
        *,
        email: str | None = None,
        sequence_id: str | None = None,
        reason: str | None = None,
        now: datetime,
        actor: str = "cli",
    ) -> list[StateChange]:
        return _move(target, to, email, sequence_id, reason, now, actor)

    end.__name__ = end.__qualname__ = _MOVES[to][0]
    end.__doc__ = f"{doc}\n\nCommits with the caller's Session, or in its own transaction on a Database."
    return end


stop = _ending(lifecycle.STOPPED, "End open enrollments on purpose; they count as finished.")
unenroll = _ending(
    lifecycle.UNENROLLED,
    "Take open enrollments out as if never made (a mistake); excluded from completion figures.",
)


def resume(
    target: Session | Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    *,
    email: str | None = None,
    sequence_id: str | None = None,
    reason: str | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """Resume paused enrollments: the next touch is max(planned, now), moved into the send window.

    Commits with the caller's Session, or in its own transaction on a Database.
    """
    with unit_of_work(target) as s:
        out = []
        for e, addr in _targets(s, email, sequence_id, frozenset({lifecycle.PAUSED}), "resume"):
            before = e.status
            sequence = sequences.get(e.sequence_id)
            when = max(e.next_send_at or now, now)
            if sequence is not None:
                try:
                    mailbox: MailboxConfig | None = config.mailbox(e.mailbox)
                except NotFound:
                    mailbox = None
                zone_name = prospect_zone(config, sequence, mailbox, e.prospect.timezone)
                when = TouchPlanner(config, sequence).resume_time(
                    step_number=e.steps_done + 1,
                    planned=e.next_send_at,
                    now=now,
                    tz_name=zone_name,
                    mailbox=mailbox,
                )
            store.transition(
                s,
                e,
                lifecycle.ACTIVE,
                now=now,
                actor=actor,
                reason=reason or f"resumed by {actor}",
                step=e.steps_done + 1,
                next_send_at=when,
                paused_until=None,
                wait_reason=None,
            )
            out.append(state_change(e, addr, before))
        return out


def mark_replied(
    target: Session | Database,
    *,
    email: str,
    sequence_id: str | None = None,
    note: str | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """The rep heard back outside email: every open enrollment (else the latest completed) -> replied.

    Commits with the caller's Session, or in its own transaction on a Database.
    """
    with unit_of_work(target) as s:
        prospect = store.require_prospect(s, normalize(email))
        rows = q.enrollments_for_action(
            s, prospect_id=prospect.id, sequence_id=sequence_id, statuses=lifecycle.OPEN_STATES
        )
        if not rows:
            latest = q.latest_enrollment(s, prospect.id, {lifecycle.COMPLETED})
            if latest is not None and (sequence_id is None or latest.sequence_id == sequence_id):
                rows = [latest]
        if not rows:
            raise NotFound(
                f"mark-replied: {prospect.email} has no active, paused or completed enrollment"
            )
        out = []
        for e in rows:
            before = e.status
            store.transition(
                s,
                e,
                lifecycle.REPLIED,
                now=now,
                actor=actor,
                reason=note or f"marked replied by {actor}",
                step=e.steps_done,
                data={"manual": True},
                replied_at=now,
                replied_step=e.steps_done,
                # The rep heard back in person: the conversation is answered, not a reply waiting.
                answered_at=now,
            )
            stages.on_reply(s, prospect.id, actor=actor, now=now, enrollment_id=e.id)
            out.append(state_change(e, prospect.email, before))
        return out


# ---------------------------------------------------------------- reassign


@dataclass(frozen=True)
class Reassignment:
    """What handing a lead to another rep does, said before it is done and after."""

    enrollment_id: int
    email: str
    sequence_id: str
    from_owner: str | None
    to_owner: str
    open_tasks: int
    remaining_touches: int
    mailbox: str

    @property
    def consequences(self) -> str:
        tasks = (
            f"{self.open_tasks} open task{'s' if self.open_tasks != 1 else ''} (with their reminders "
            f"and escalations) move to {self.to_owner}"
            if self.open_tasks
            else "no open task to move"
        )
        touches = (
            f"the {self.remaining_touches} remaining touch{'es' if self.remaining_touches != 1 else ''} still "
            f"go out from mailbox {self.mailbox}, the address the prospect knows"
            if self.remaining_touches
            else "no touch is left to send"
        )
        return f"{self.email} ({self.sequence_id}): {self.from_owner or '(nobody)'} -> {self.to_owner}; {tasks}; {touches}"


def _open_tasks(s: Session, enrollment_id: int) -> list[Task]:
    return list(s.scalars(select(Task).where(Task.enrollment_id == enrollment_id, Task.status == "open")))


def _reassignment(s: Session, e: Enrollment, to_owner: str) -> Reassignment:
    remaining = max(e.total_steps - e.steps_done, 0) if e.status in lifecycle.OPEN_STATES else 0
    return Reassignment(
        e.id, e.prospect.email, e.sequence_id, e.owner, to_owner, len(_open_tasks(s, e.id)), remaining, e.mailbox
    )


def reassign_preview(target: Session | Database, enrollment_id: int, to_owner: str) -> Reassignment:
    """What ``reassign`` would do (reads only)."""
    with unit_of_work(target) as s:
        e = s.get(Enrollment, enrollment_id)
        if e is None:
            raise NotFound(f"no enrollment {enrollment_id}")
        return _reassignment(s, e, to_owner)


def reassign(
    target: Session | Database, enrollment_id: int, to_owner: str, *, now: datetime, actor: str
) -> Reassignment:
    """Hand the lead to ``to_owner``: the prospect, this enrollment and its open tasks.

    Task reminders and escalations are addressed by the task's owner, so they follow the
    task. The sending mailbox stays, so the thread's remaining touches come from the
    address the prospect already knows. One ``owner_changed`` event says all of it.
    """
    with unit_of_work(target) as s:
        e = s.get(Enrollment, enrollment_id)
        if e is None:
            raise NotFound(f"no enrollment {enrollment_id}")
        done = _reassignment(s, e, to_owner)
        p = e.prospect
        if e.owner == to_owner and p.owner == to_owner and not any(t.owner != to_owner for t in _open_tasks(s, e.id)):
            return done
        for task in _open_tasks(s, e.id):
            task.owner = to_owner
        e.owner = to_owner
        # The enrollment before the prospect, the order the counter triggers lock them in
        # (db/counters.py): the ORM would flush the parent row first, and a worker writing
        # this enrollment meanwhile would then deadlock with us on PostgreSQL.
        s.flush()
        p.owner = to_owner
        p.updated_at = now
        store.record_event(
            s, now=now, kind="owner_changed", actor=actor, enrollment=e,
            reason=f"reassigned from {done.from_owner or '(nobody)'} to {to_owner}; {done.open_tasks} open task(s) moved",
            data={"from": done.from_owner, "to": to_owner, "tasks": done.open_tasks},
        )  # fmt: skip
        return done
