"""Named queries for prospects, enrollments, suppressions and timelines.

The enroll and import services call these and nothing else; every function does
one thing to the database and says so in its name. The ``*_many`` / bulk
functions take a whole import batch at once, so a CSV of any size costs a
constant number of round trips per batch of rows, not per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, text, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Event, InboundMessage, Message, Prospect, Suppression


@dataclass(frozen=True)
class EnrollmentBrief:
    """Just what the enrollment guards need to know about an existing enrollment."""

    prospect_id: int
    sequence_id: str
    status: str
    finished_at: datetime | None


# --- bulk lookups for an import batch -------------------------------------------------


def prospects_by_emails(s: Session, emails: Iterable[str]) -> dict[str, Prospect]:
    """Existing prospects for lowercased addresses, keyed by address."""
    keys = list(set(emails))
    if not keys:
        return {}
    return {p.email: p for p in s.scalars(select(Prospect).where(Prospect.email.in_(keys)))}


def suppressions_among(s: Session, emails: Iterable[str]) -> dict[str, Suppression]:
    """For each lowercased address that is suppressed (itself or its domain), the suppression."""
    keys = set(emails)
    if not keys:
        return {}
    domains = {e.rsplit("@", 1)[-1] for e in keys}
    rows = {
        r.value: r
        for r in s.scalars(select(Suppression).where(Suppression.value.in_(list(keys | domains))))
    }
    out: dict[str, Suppression] = {}
    for email in keys:
        hit = rows.get(email) or rows.get(email.rsplit("@", 1)[-1])
        if hit is not None:
            out[email] = hit
    return out


def enrollments_of_prospects(s: Session, prospect_ids: Iterable[int]) -> list[EnrollmentBrief]:
    """Every enrollment (open or finished) of these prospects, lightweight."""
    ids = list(set(prospect_ids))
    if not ids:
        return []
    rows = s.execute(
        select(
            Enrollment.prospect_id,
            Enrollment.sequence_id,
            Enrollment.status,
            Enrollment.finished_at,
        ).where(Enrollment.prospect_id.in_(ids))
    )
    return [EnrollmentBrief(*r) for r in rows]


def insert_prospects(s: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert new prospects (one batched statement); returns their ids by lowercased address.

    Core ``INSERT .. RETURNING`` on the table: SQLAlchemy batches it into multi-row
    statements on both SQLite and PostgreSQL (the ORM-level bulk path is much slower).
    """
    if not rows:
        return {}
    table = Prospect.__table__
    result = s.execute(insert(table).returning(table.c.email, table.c.id), list(rows))
    return dict(result.all())


def update_prospects(s: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk UPDATE by primary key; each mapping holds ``id`` plus the changed columns."""
    if rows:
        s.execute(update(Prospect), list(rows), execution_options={"synchronize_session": False})


def insert_enrollments(s: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert enrollments (one batched statement); returns their ids by token (tokens are unique)."""
    if not rows:
        return {}
    table = Enrollment.__table__
    result = s.execute(insert(table).returning(table.c.token, table.c.id), list(rows))
    return dict(result.all())


def insert_events(s: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        s.execute(insert(Event.__table__), list(rows))


def refresh_planner_statistics(s: Session) -> None:
    """PostgreSQL: ANALYZE the tables an import grows.

    Foreign-key checks use plans cached per connection; planned while ``prospects`` was
    nearly empty they scan it sequentially, so a large first import into a fresh
    database turns quadratic (measured: 100,000 rows took 100 s instead of 20 s).
    ANALYZE refreshes the statistics and invalidates those plans. No-op elsewhere.
    """
    if s.get_bind().dialect.name == "postgresql":
        for table in ("prospects", "enrollments", "events"):
            s.execute(text(f"ANALYZE {table}"))


# --- single-prospect actions ----------------------------------------------------------


def enrollments_for_action(
    s: Session,
    *,
    prospect_id: int | None,
    sequence_id: str | None,
    statuses: Iterable[str],
) -> list[Enrollment]:
    """Enrollments a pause/resume/stop/... applies to: a prospect's, a sequence's, or both."""
    q = select(Enrollment).where(Enrollment.status.in_(list(statuses)))
    if prospect_id is not None:
        q = q.where(Enrollment.prospect_id == prospect_id)
    if sequence_id is not None:
        q = q.where(Enrollment.sequence_id == sequence_id)
    return list(s.scalars(q.order_by(Enrollment.id)))


def latest_enrollment(s: Session, prospect_id: int, statuses: Iterable[str]) -> Enrollment | None:
    return s.scalars(
        select(Enrollment)
        .where(Enrollment.prospect_id == prospect_id, Enrollment.status.in_(list(statuses)))
        .order_by(Enrollment.status_changed_at.desc(), Enrollment.id.desc())
        .limit(1)
    ).first()


# --- suppressions ---------------------------------------------------------------------


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def open_enrollments_suppressed_by(s: Session, value: str, kind: str) -> list[Enrollment]:
    """Open enrollments of the address, or of every address at the domain."""
    if kind == "domain":
        match = Prospect.email.like("%@" + _like_escape(value), escape="\\")
    else:
        match = Prospect.email == value
    return list(
        s.scalars(
            select(Enrollment)
            .join(Prospect, Prospect.id == Enrollment.prospect_id)
            .where(match, Enrollment.status.in_(lifecycle.OPEN_STATES))
            .order_by(Enrollment.id)
        )
    )


def delete_suppression(s: Session, value: str) -> Suppression | None:
    """Remove a suppression; returns the removed row (None when there was none)."""
    row = s.scalars(select(Suppression).where(Suppression.value == value)).first()
    if row is not None:
        s.execute(delete(Suppression).where(Suppression.id == row.id))
    return row


def list_suppressions(s: Session, like: str | None = None) -> list[Suppression]:
    q = select(Suppression)
    if like:
        q = q.where(Suppression.value.like("%" + _like_escape(like.lower()) + "%", escape="\\"))
    return list(s.scalars(q.order_by(Suppression.value)))


# --- listing and timelines ------------------------------------------------------------


def list_enrollments(
    s: Session,
    *,
    sequence_id: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    limit: int | None = None,
) -> list[tuple[Enrollment, Prospect]]:
    """Enrollments with their prospects, soonest next touch first, then newest first."""
    q = select(Enrollment, Prospect).join(Prospect, Prospect.id == Enrollment.prospect_id)
    if sequence_id:
        q = q.where(Enrollment.sequence_id == sequence_id)
    if owner:
        q = q.where(or_(Enrollment.owner == owner, Enrollment.mailbox == owner))
    if status:
        q = q.where(Enrollment.status == status)
    if due_before is not None:
        q = q.where(Enrollment.next_send_at.is_not(None), Enrollment.next_send_at <= due_before)
    if due_after is not None:
        q = q.where(Enrollment.next_send_at.is_not(None), Enrollment.next_send_at >= due_after)
    q = q.order_by(Enrollment.next_send_at.is_(None), Enrollment.next_send_at, Enrollment.id.desc())
    if limit:
        q = q.limit(limit)
    return [(e, p) for e, p in s.execute(q)]


def enrollments_of_prospect(s: Session, prospect_id: int) -> list[Enrollment]:
    return list(
        s.scalars(
            select(Enrollment).where(Enrollment.prospect_id == prospect_id).order_by(Enrollment.id)
        )
    )


def messages_of_enrollments(s: Session, enrollment_ids: Sequence[int]) -> list[Message]:
    if not enrollment_ids:
        return []
    return list(
        s.scalars(
            select(Message)
            .where(Message.enrollment_id.in_(list(enrollment_ids)))
            .order_by(Message.claimed_at, Message.id)
        )
    )


def inbound_of_prospect(
    s: Session, enrollment_ids: Sequence[int], email: str
) -> list[InboundMessage]:
    """Inbound messages attributed to the enrollments, or sent from the address."""
    cond = InboundMessage.from_addr == email
    if enrollment_ids:
        cond = or_(cond, InboundMessage.enrollment_id.in_(list(enrollment_ids)))
    return list(s.scalars(select(InboundMessage).where(cond).order_by(InboundMessage.received_at)))


def events_of_prospect(s: Session, prospect_id: int, enrollment_ids: Sequence[int]) -> list[Event]:
    cond = Event.prospect_id == prospect_id
    if enrollment_ids:
        cond = or_(cond, Event.enrollment_id.in_(list(enrollment_ids)))
    return list(s.scalars(select(Event).where(cond).order_by(Event.at, Event.id)))
