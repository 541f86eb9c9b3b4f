"""Deal stages: where each prospect's deal stands, and since when.

``new -> contacted -> replied -> meeting -> proposal -> won | lost``. Events move a
stage only forward (a second touch never drags a ``meeting`` back to ``contacted``,
and nothing automatic reopens a won or lost deal); a rep's hand move goes anywhere.
Every move is an ``stage_changed`` event with its actor, written in the same
transaction as the move, so the timeline and the pipeline never disagree.

The stage lives on the prospect (``prospects.stage``/``stage_since``, indexed), so the
pipeline page counts stages off one index instead of deriving them from enrollments.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, update
from sqlalchemy.orm import Session

from sequencer.db.models import Enrollment, Event, Prospect

NEW: Final = "new"
CONTACTED: Final = "contacted"
REPLIED: Final = "replied"
MEETING: Final = "meeting"
PROPOSAL: Final = "proposal"
WON: Final = "won"
LOST: Final = "lost"
STAGES: Final = (NEW, CONTACTED, REPLIED, MEETING, PROPOSAL, WON, LOST)
OPEN_STAGES: Final = (NEW, CONTACTED, REPLIED, MEETING, PROPOSAL)
CLOSED_STAGES: Final = (WON, LOST)
EVENT_KIND: Final = "stage_changed"


def earlier_than(stage: str) -> tuple[str, ...]:
    """The open stages an automatic move to ``stage`` may come from (forward only)."""
    return OPEN_STAGES[: OPEN_STAGES.index(stage)] if stage in OPEN_STAGES else ()


def move(
    s: Session,
    prospect_id: int,
    stage: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    forward_only: bool = False,
    enrollment_id: int | None = None,
) -> str | None:
    """Move one prospect's stage; the previous stage, or None when it did not move.

    The UPDATE is guarded by the stage it read, so two processes moving the same deal
    write one event each only for a move that really happened.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
    current = s.scalar(select(Prospect.stage).where(Prospect.id == prospect_id))
    if current is None or current == stage:
        return None
    if forward_only and current not in earlier_than(stage):
        return None
    done = s.execute(
        update(Prospect)
        .where(Prospect.id == prospect_id, Prospect.stage == current)
        .values(stage=stage, stage_since=now)
        .execution_options(synchronize_session="fetch")
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    s.add(
        Event(
            at=now, enrollment_id=enrollment_id, prospect_id=prospect_id, kind=EVENT_KIND,
            actor=actor, reason=note, data={"from": current, "to": stage},
        )
    )
    return current


def advance_many(s: Session, prospect_ids: Iterable[int], stage: str, *, actor: str, now: datetime) -> int:
    """Forward-only move of a group (the send path's "first touch sent": contacted), two statements."""
    ids = sorted(set(prospect_ids))
    allowed = earlier_than(stage)
    if not ids or not allowed:
        return 0
    conn = s.connection()
    moved = conn.execute(
        update(Prospect.__table__)
        .where(Prospect.__table__.c.id.in_(ids), Prospect.__table__.c.stage.in_(allowed))
        .values(stage=stage, stage_since=now)
        .returning(Prospect.__table__.c.id)
    ).scalars().all()
    if moved:
        # Only ``new`` precedes ``contacted``; for other targets the previous stage is
        # not returned by every backend's RETURNING, so a group move records "earlier".
        previous = allowed[0] if len(allowed) == 1 else None
        conn.execute(
            Event.__table__.insert(),
            [
                {"at": now, "enrollment_id": None, "prospect_id": pid, "kind": EVENT_KIND, "actor": actor,
                 "reason": None, "step": None, "data": {"from": previous, "to": stage}}
                for pid in moved
            ],
        )
    return len(moved)


def unanswered_reply() -> ColumnElement[bool]:
    """The prospect has a reply still waiting for the rep's answer (the dashboard's definition)."""
    return exists().where(
        Enrollment.prospect_id == Prospect.id,
        Enrollment.status == "replied",
        Enrollment.replied_at.is_not(None),
        Enrollment.answered_at.is_(None),
    )


def rotting(now: datetime, thresholds: dict[str, float]) -> ColumnElement[bool]:
    """Over its stage's threshold (days in stage); ``replied`` rots only while unanswered."""
    parts: list[ColumnElement[bool]] = []
    for stage, days in thresholds.items():
        if stage not in OPEN_STAGES:
            continue
        late = and_(Prospect.stage == stage, Prospect.stage_since < now - timedelta(days=days))
        parts.append(and_(late, unanswered_reply()) if stage == REPLIED else late)
    return or_(*parts) if parts else false()
