"""What a trusted complaint (ARF feedback report, provider notification) does.

The complainant told their provider our mail is spam: every open enrollment of theirs
ends, the address is suppressed for ever, and a ``complaint`` event goes on the timeline
(``show`` lists it as a complaint). It is never a reply: nothing here touches
``replied_at``. The mailbox's complaint count (``db.inbound.complaints_for_mailbox``) is
the deliverability signal the sending-safety guard reads.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db import attribution as q
from sequencer.db import store
from sequencer.db.models import Enrollment, InboundMessage
from sequencer.inbound.context import ACTOR, ApplyContext
from sequencer.inbound.counts import NOTHING, Counts


def apply_complaint(
    s: Session,
    ctx: ApplyContext,
    row: InboundMessage,
    enrollment: Enrollment,
    step: int | None,
    *,
    actor: str = ACTOR,
) -> Counts:
    """Stop the complainant's open enrollments and suppress the address."""
    prospect = q.prospect(s, enrollment.prospect_id)
    assert prospect is not None
    details = row.details or {}
    reason = f"spam complaint ({details.get('feedback_type') or 'abuse'}): {row.reason or ''}"
    data = {
        "complainant": row.complainant or prospect.email,
        "feedback_type": details.get("feedback_type"),
        "message_id": row.message_id,
        "from": row.from_addr,
        "mailbox": ctx.mailbox.name,
    }
    store.add_suppression(
        s, prospect.email, kind="address", reason=reason[:500], source=actor, now=ctx.now
    )
    store.record_event(
        s, now=ctx.now, kind="complaint", actor=actor, enrollment=enrollment,
        reason=reason[:500], step=step, data=data,
    )
    targets = {e.id: e for e in q.open_enrollments_of_prospect(s, prospect.id)}
    if enrollment.status in lifecycle.OPEN_STATES:
        targets.setdefault(enrollment.id, enrollment)
    for e in targets.values():
        store.transition(
            s, e, lifecycle.STOPPED, now=ctx.now, actor=actor,
            reason="spam complaint", step=e.steps_done, data=data,
        )
    return NOTHING


__all__ = ["apply_complaint"]
