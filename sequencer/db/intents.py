"""Reply intents counted for the manager report: which touch produces meetings, which "not now"."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment as E
from sequencer.db.models import Prospect as P
from sequencer.db.reports import ReportFilter


def intent_counts(s: Session, f: ReportFilter) -> list[tuple[str, int | None, str | None, str, int]]:
    """(sequence, replied step, owner, intent, replies) for every replied enrollment the filter
    covers; a reply whose intent could not be read counts as ``none``."""
    intent = func.coalesce(E.intent, "none")
    keys = [E.sequence_id, E.replied_step, E.owner, intent]
    stmt = (
        select(*keys, func.count())
        .where(*f.clauses(), E.replied_at.is_not(None))
        .group_by(*keys)
        .order_by(*keys)
    )
    return [(seq, step, owner, str(name), int(n)) for seq, step, owner, name, n in s.execute(stmt)]


def coming_back(s: Session, f: ReportFilter) -> list[tuple[datetime | None, Decimal | None]]:
    """(next touch, deal value) of every open re-engagement: the leads coming back."""
    stmt = (
        select(E.next_send_at, P.deal_value)
        .join(P, P.id == E.prospect_id)
        .where(*f.clauses(), E.source == "reengage", E.status.in_(list(lifecycle.OPEN_STATES)))
    )
    return [(at, value) for at, value in s.execute(stmt)]


__all__ = ["coming_back", "intent_counts"]
