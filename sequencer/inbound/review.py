"""Review of untrusted bounces and complaints: list them, confirm (act) or reject (keep inert).

An untrusted message acted on nobody when it was polled (``inbound/trust.py``). A person who
has checked it confirms it: the effect it would have had is applied now to the enrollment it
named, as if trusted, with an ``inbound_confirmed`` event saying who decided. Rejecting it
records the decision and nothing else. Both commit; both refuse a message not awaiting review.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sequencer.clock import Clock
from sequencer.config import Config
from sequencer.core.sequences import Sequence as SequenceDef
from sequencer.db import attribution as aq
from sequencer.db import deliverability, store
from sequencer.db import inbound as q
from sequencer.db.models import InboundMessage
from sequencer.db.session import Database
from sequencer.errors import UserError
from sequencer.inbound import effects, trust
from sequencer.inbound.complaints import apply_complaint
from sequencer.inbound.context import ApplyContext, own_addresses
from sequencer.project import calendar_for


def awaiting_review(db: Database, *, mailbox: str | None = None) -> int:
    """How many untrusted messages wait for a person (the dashboard's count). Read-only."""
    with db.read_session() as s:
        return deliverability.awaiting_review(s, [mailbox] if mailbox else None)


def _pending(s: Any, row_id: int) -> InboundMessage:
    row = s.get(InboundMessage, row_id)
    if row is None:
        raise UserError(f"no inbound message {row_id}")
    if row.trust != trust.UNTRUSTED:
        raise UserError(f"inbound message {row_id} is not awaiting review (trust: {row.trust})")
    return row


def confirm(
    db: Database,
    config: Config,
    sequences: Mapping[str, SequenceDef],
    clock: Clock,
    row_id: int,
    *,
    actor: str,
) -> dict[str, Any]:
    """Apply an untrusted bounce or complaint as if trusted; returns what it acted on."""
    now = clock.now()
    with db.session() as s:
        row = _pending(s, row_id)
        details = dict(row.details or {})
        enrollment = aq.enrollment(s, int(details.get("candidate_enrollment") or 0))
        if enrollment is None:
            raise UserError(f"inbound message {row_id} names no enrollment to act on")
        ctx = ApplyContext(
            config,
            config.mailbox(row.mailbox),
            sequences,
            now,
            own_addresses(config),
            calendar_for(config),
        )
        step = enrollment.steps_done
        if row.kind == "complaint":
            apply_complaint(s, ctx, row, enrollment, step)
        else:
            effects.apply_bounce(s, ctx, row, enrollment, step)
        store.record_event(
            s,
            now=now,
            kind="inbound_confirmed",
            actor=actor,
            enrollment=enrollment,
            reason=f"{actor} confirmed untrusted {row.kind} {row_id}",
            step=step,
            data={"inbound_id": row_id, "kind": row.kind, "from": row.from_addr},
        )
        details.update(reviewed_by=actor, reviewed_at=now.isoformat())
        q.set_trust(s, row_id, trust.CONFIRMED, details)
        q.mark_applied(s, row_id, enrollment_id=enrollment.id)
        prospect = aq.prospect(s, enrollment.prospect_id)
        return {
            "id": row_id,
            "kind": row.kind,
            "enrollment_id": enrollment.id,
            "prospect": prospect.email if prospect else None,
            "trust": trust.CONFIRMED,
        }


def reject(db: Database, clock: Clock, row_id: int, *, actor: str) -> dict[str, Any]:
    """Keep an untrusted message inert for good, recording who decided."""
    now = clock.now()
    with db.session() as s:
        row = _pending(s, row_id)
        details = {**(row.details or {}), "reviewed_by": actor, "reviewed_at": now.isoformat()}
        q.set_trust(s, row_id, trust.REJECTED, details)
        return {"id": row_id, "kind": row.kind, "trust": trust.REJECTED}


__all__ = ["awaiting_review", "confirm", "reject"]
