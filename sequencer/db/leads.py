"""Named queries of inbound leads: recording them, the round robin that assigns them,
who still has to be told, and how fast the first response came (speed to lead).

The round robin's position is a row locked for the increment, so several workers
hand out leads fairly; a lead is recorded once per inbound message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sequencer.db import store
from sequencer.db.models import Event, InboundLead, Message, Prospect, RoundRobin


def next_round_robin(s: Session, name: str, size: int) -> int:
    """The next position (0..size-1) of a round robin; the row lock makes it fair across workers."""
    s.execute(
        store.insert_or_ignore(s)(RoundRobin)
        .values(name=name, position=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = s.get(RoundRobin, name, with_for_update=True, populate_existing=True)
    assert row is not None
    position = row.position % size
    row.position = row.position + 1
    s.flush()
    return position


def record_lead(s: Session, **values: Any) -> InboundLead:
    lead = InboundLead(**values)
    s.add(lead)
    s.flush()
    return lead


def lead_of_inbound(s: Session, inbound_id: int) -> InboundLead | None:
    return s.scalars(select(InboundLead).where(InboundLead.inbound_id == inbound_id)).first()


def unnotified_leads(s: Session, mailbox: str) -> list[tuple[InboundLead, Prospect | None]]:
    return [
        (lead, p)
        for lead, p in s.execute(
            select(InboundLead, Prospect)
            .outerjoin(Prospect, Prospect.id == InboundLead.prospect_id)
            .where(
                InboundLead.mailbox == mailbox,
                InboundLead.notified_at.is_(None),
                InboundLead.owner.is_not(None),
            )
            .order_by(InboundLead.id)
        ).all()
    ]


def mark_lead_notified(s: Session, lead_id: int, now: datetime) -> None:
    s.execute(update(InboundLead).where(InboundLead.id == lead_id).values(notified_at=now))


def list_leads(
    s: Session,
    *,
    since: datetime | None = None,
    statuses: Sequence[str] = (),
    owner: str | None = None,
    limit: int = 500,
) -> list[InboundLead]:
    stmt = (
        select(InboundLead)
        .order_by(InboundLead.received_at.desc(), InboundLead.id.desc())
        .limit(limit)
    )
    if since is not None:
        stmt = stmt.where(InboundLead.received_at >= since)
    if statuses:
        stmt = stmt.where(InboundLead.status.in_(list(statuses)))
    if owner is not None:
        stmt = stmt.where(InboundLead.owner == owner)
    return list(s.scalars(stmt))


def count_leads(s: Session, *, statuses: Sequence[str], since: datetime | None = None) -> int:
    stmt = (
        select(func.count()).select_from(InboundLead).where(InboundLead.status.in_(list(statuses)))
    )
    if since is not None:
        stmt = stmt.where(InboundLead.received_at >= since)
    return int(s.scalar(stmt) or 0)


def first_responses(s: Session, enrollment_ids: Sequence[int]) -> dict[int, tuple[datetime, str]]:
    """Per enrollment: the first touch sent or the rep's first manual email, whichever came first."""
    ids = list(enrollment_ids)
    if not ids:
        return {}
    out: dict[int, tuple[datetime, str]] = {}
    for enrollment_id, at in s.execute(
        select(Message.enrollment_id, func.min(Message.sent_at))
        .where(Message.enrollment_id.in_(ids), Message.sent_at.is_not(None))
        .group_by(Message.enrollment_id)
    ).all():
        if at is not None:
            out[enrollment_id] = (_aware(at), "touch")
    for enrollment_id, at in s.execute(
        select(Event.enrollment_id, func.min(Event.at))
        .where(Event.enrollment_id.in_(ids), Event.kind == "manual_email")
        .group_by(Event.enrollment_id)
    ).all():
        at = _aware(at)
        if enrollment_id not in out or at < out[enrollment_id][0]:
            out[enrollment_id] = (at, "manual email")
    return out


def _aware(value: datetime) -> datetime:
    """Aggregates (MIN) bypass the column type on SQLite: restore aware UTC."""
    from sequencer.clock import utc

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return utc(value)
