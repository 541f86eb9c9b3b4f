"""Where every lead stands (``list_enrollments``) and what happened to one (``timeline``).

Both only read: given ``target: Session | Database`` they use the caller's Session as
is, or open a read session on a Database (``sequencer.db.unit.reading``) that never
commits and, on SQLite, never holds up a sending worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.core.addresses import normalize
from sequencer.db import prospects as q
from sequencer.db import store
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.session import Database
from sequencer.db.unit import reading
from sequencer.errors import UserError


@dataclass(frozen=True)
class EnrollmentRow:
    """One line of ``sequencer list``."""

    enrollment_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    mailbox: str
    sequence_id: str
    step: str
    steps_done: int
    total_steps: int
    status: str
    status_reason: str | None
    last_touch_at: datetime | None
    next_send_at: datetime | None
    wait_reason: str | None
    paused_until: datetime | None
    days_in_state: float
    stage: str = "new"  # the prospect's deal stage (sequencer.db.stages)
    stage_since: datetime | None = None
    intent: str | None = None  # what the reply that ended it asked for (README, "Reply intent")
    intent_evidence: str | None = None
    reengage_on: date | None = None


def list_enrollments(
    target: Session | Database,
    *,
    now: datetime,
    sequence_id: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    limit: int | None = None,
) -> list[EnrollmentRow]:
    """Where every lead stands; soonest next touch first, finished ones last."""
    if status is not None and status not in lifecycle.STATES:
        raise UserError(f"unknown status {status!r} (known: {', '.join(lifecycle.STATES)})")
    with reading(target) as s:
        rows = q.list_enrollments(
            s,
            sequence_id=sequence_id,
            owner=owner,
            status=status,
            due_before=due_before,
            due_after=due_after,
            limit=limit,
        )
        return [_row(e, p, now) for e, p in rows]


def _row(e: Enrollment, p: Prospect, now: datetime) -> EnrollmentRow:
    shown = min(e.steps_done + (1 if e.status in lifecycle.OPEN_STATES else 0), e.total_steps)
    return EnrollmentRow(
        enrollment_id=e.id,
        email=p.email,
        name=p.name,
        company=p.company,
        owner=e.owner,
        mailbox=e.mailbox,
        sequence_id=e.sequence_id,
        step=f"{shown}/{e.total_steps}",
        steps_done=e.steps_done,
        total_steps=e.total_steps,
        status=e.status,
        status_reason=e.status_reason,
        last_touch_at=e.last_touch_at,
        next_send_at=e.next_send_at,
        wait_reason=e.wait_reason,
        paused_until=e.paused_until,
        days_in_state=round(max((now - e.status_changed_at).total_seconds(), 0) / 86400, 1),
        stage=p.stage,
        stage_since=p.stage_since,
        intent=e.intent,
        intent_evidence=e.intent_evidence,
        reengage_on=e.reengage_on,
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a prospect. ``source`` is event | touch | inbound."""

    at: datetime
    source: str
    kind: str
    enrollment_id: int | None
    sequence_id: str | None
    step: int | None
    actor: str | None = None
    reason: str | None = None
    subject: str | None = None
    message_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProspectTimeline:
    email: str
    display_email: str
    name: str | None
    company: str | None
    owner: str | None
    timezone: str | None
    deal_value: Decimal | None
    fields: dict[str, Any]
    suppressed_by: str | None
    enrollments: list[EnrollmentRow]
    entries: list[TimelineEntry]
    stage: str = "new"
    stage_since: datetime | None = None
    referred_by: str | None = None


_SOURCE_ORDER = {"event": 0, "touch": 1, "inbound": 2}


def timeline(target: Session | Database, email: str, *, now: datetime) -> ProspectTimeline:
    """Every enrollment, touch, inbound message and event of a prospect, oldest first."""
    with reading(target) as s:
        p = store.require_prospect(s, normalize(email))
        enrollments = q.enrollments_of_prospect(s, p.id)
        ids = [e.id for e in enrollments]
        seq_of = {e.id: e.sequence_id for e in enrollments}
        entries: list[TimelineEntry] = []
        for ev in q.events_of_prospect(s, p.id, ids):
            entries.append(
                TimelineEntry(
                    at=ev.at,
                    source="event",
                    kind=ev.kind,
                    enrollment_id=ev.enrollment_id,
                    sequence_id=seq_of.get(ev.enrollment_id) if ev.enrollment_id else None,
                    step=ev.step,
                    actor=ev.actor,
                    reason=ev.reason,
                    detail=dict(ev.data or {}),
                )
            )
        for m in q.messages_of_enrollments(s, ids):
            entries.append(
                TimelineEntry(
                    at=m.sent_at or m.claimed_at,
                    source="touch",
                    kind=m.status,
                    enrollment_id=m.enrollment_id,
                    sequence_id=seq_of.get(m.enrollment_id),
                    step=m.step,
                    subject=m.subject,
                    message_id=m.message_id,
                    detail={
                        "mailbox": m.mailbox,
                        "to": m.to_addr,
                        "variant": m.variant,
                        "attempts": m.attempts,
                        "error": m.error,
                    },
                )
            )
        for m in q.inbound_of_prospect(s, ids, p.email):
            entries.append(
                TimelineEntry(
                    at=m.received_at,
                    source="inbound",
                    kind=m.kind,
                    enrollment_id=m.enrollment_id,
                    sequence_id=seq_of.get(m.enrollment_id) if m.enrollment_id else None,
                    step=None,
                    reason=m.reason,
                    subject=m.subject,
                    message_id=m.message_id,
                    detail={
                        "from": m.from_addr,
                        "severity": m.severity,
                        "snippet": m.snippet,
                        "mailbox": m.mailbox,
                        "folder": m.folder,
                    },
                )
            )
        entries.sort(key=lambda x: (x.at, _SOURCE_ORDER[x.source]))
        hit = store.find_suppression(s, p.email)
        return ProspectTimeline(
            email=p.email,
            display_email=p.display_email,
            name=p.name,
            company=p.company,
            owner=p.owner,
            timezone=p.timezone,
            deal_value=p.deal_value,
            fields=dict(p.fields or {}),
            suppressed_by=f"{hit.value} ({hit.reason})" if hit else None,
            enrollments=[_row(e, p, now) for e in enrollments],
            entries=entries,
            stage=p.stage,
            stage_since=p.stage_since,
            referred_by=p.referred_by,
        )
