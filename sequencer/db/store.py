"""Named queries shared by every service: events, guarded transitions, suppressions.

Services never build SQL; they call functions like these, each of which does
one thing to the database and says so in its name. A state change is a
guarded UPDATE (``... WHERE status IN (allowed)``): if another worker or the
poller got there first, the update misses and we raise instead of overwriting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.core.addresses import domain_of
from sequencer.db.models import Enrollment, Event, Prospect, Suppression
from sequencer.errors import IllegalTransition, NotFound


def record_event(
    s: Session,
    *,
    now: datetime,
    kind: str,
    actor: str,
    enrollment: Enrollment | None = None,
    prospect_id: int | None = None,
    reason: str | None = None,
    step: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        at=now,
        enrollment_id=enrollment.id if enrollment else None,
        prospect_id=prospect_id if prospect_id is not None else (enrollment.prospect_id if enrollment else None),
        kind=kind,
        actor=actor,
        reason=reason,
        step=step,
        data=data or {},
    )
    s.add(event)
    return event


def transition(
    s: Session,
    enrollment: Enrollment,
    target: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None,
    event_kind: str | None = None,
    step: int | None = None,
    data: dict[str, Any] | None = None,
    **values: Any,
) -> Enrollment:
    """Move an enrollment to ``target`` if (and only if) its current state allows it.

    Extra keyword values are written in the same UPDATE (e.g. ``next_send_at``).
    Leaving an open state clears the lease and the next send time.
    """
    allowed = lifecycle.allowed_from(target)
    if enrollment.status not in allowed:
        lifecycle.check_transition(enrollment.status, target)
    changes: dict[str, Any] = {
        "status": target,
        "status_reason": reason,
        "status_changed_at": now,
        **values,
    }
    if lifecycle.is_finished(target):
        changes.setdefault("finished_at", now)
        changes.setdefault("next_send_at", None)
        changes.setdefault("lease_owner", None)
        changes.setdefault("lease_expires_at", None)
    result = s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.status.in_(allowed))
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        s.refresh(enrollment)
        raise IllegalTransition(
            f"enrollment {enrollment.id} changed meanwhile (now {enrollment.status}); not moved to {target}"
        )
    previous = enrollment.status
    s.refresh(enrollment)
    record_event(
        s,
        now=now,
        kind=event_kind or lifecycle.EVENT_FOR[target],
        actor=actor,
        enrollment=enrollment,
        reason=reason,
        step=step,
        data={"from": previous, "to": target, **(data or {})},
    )
    return enrollment


def find_suppression(s: Session, email: str) -> Suppression | None:
    """The suppression that blocks this address: the address itself or its domain."""
    email = email.lower()
    return s.scalars(
        select(Suppression)
        .where(or_(Suppression.value == email, Suppression.value == domain_of(email)))
        .limit(1)
    ).first()


def add_suppression(
    s: Session, value: str, *, kind: str, reason: str, source: str, now: datetime
) -> tuple[Suppression, bool]:
    """Idempotent: returns (row, created)."""
    value = value.lower().lstrip("@")
    existing = s.scalars(select(Suppression).where(Suppression.value == value)).first()
    if existing:
        return existing, False
    row = Suppression(value=value, kind=kind, reason=reason, source=source, created_at=now)
    s.add(row)
    s.flush()
    return row, True


def insert_or_ignore(s: Session) -> Any:
    """The dialect's ``insert`` construct, whose ``on_conflict_do_nothing`` makes an
    insert idempotent on a unique key on SQLite and PostgreSQL alike."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def prospect_by_email(s: Session, email: str) -> Prospect | None:
    return s.scalars(select(Prospect).where(Prospect.email == email.lower())).first()


def require_prospect(s: Session, email: str) -> Prospect:
    p = prospect_by_email(s, email)
    if p is None:
        raise NotFound(f"no prospect with address {email}")
    return p


__all__ = [
    "IllegalTransition",
    "add_suppression",
    "find_suppression",
    "insert_or_ignore",
    "prospect_by_email",
    "record_event",
    "require_prospect",
    "transition",
]


def expired_pauses(s: Session, now: datetime) -> list[tuple[str, str]]:
    """(email, sequence_id) of paused enrollments whose until-date has passed."""
    rows = s.execute(
        select(Prospect.email, Enrollment.sequence_id)
        .join(Enrollment, Enrollment.prospect_id == Prospect.id)
        .where(
            Enrollment.status == lifecycle.PAUSED,
            Enrollment.paused_until.is_not(None),
            Enrollment.paused_until <= now,
        )
    )
    return [(email, seq) for email, seq in rows]
