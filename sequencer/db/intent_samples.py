"""The rep's intent corrections, read back as labelled samples (``sequencer intent export``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequencer.db.models import Enrollment as E
from sequencer.db.models import Event
from sequencer.db.models import InboundMessage as M
from sequencer.db.models import Prospect as P
from sequencer.db.reports import instant


def corrections(s: Session, *, since: datetime | None, until: datetime | None
                ) -> list[tuple[datetime, str, int | None, str | None, str | None, dict[str, Any]]]:
    """(at, actor, enrollment, prospect email, sequence, event data) of every
    ``intent_corrected`` event in [since, until), oldest first."""
    stmt = (
        select(Event.at, Event.actor, Event.enrollment_id, P.email, E.sequence_id, Event.data)
        .outerjoin(E, E.id == Event.enrollment_id)
        .outerjoin(P, P.id == E.prospect_id)
        .where(Event.kind == "intent_corrected")
        .order_by(Event.at, Event.id)
    )
    if since is not None:
        stmt = stmt.where(Event.at >= instant(since))
    if until is not None:
        stmt = stmt.where(Event.at < instant(until))
    return [(at, actor, eid, email, seq, dict(data or {})) for at, actor, eid, email, seq, data in s.execute(stmt)]


def read_intents(s: Session, message_ids: list[str]) -> dict[str, tuple[str | None, datetime | None]]:
    """Message-ID -> (the intent the classifier read, when the reply was received)."""
    if not message_ids:
        return {}
    out: dict[str, tuple[str | None, datetime | None]] = {}
    for mid, details, received in s.execute(
        select(M.message_id, M.details, M.received_at).where(M.message_id.in_(message_ids), M.kind == "reply")
    ):
        found = (details or {}).get("intent") or {}
        out[str(mid)] = (found.get("intent"), received)
    return out


__all__ = ["corrections", "read_intents"]
