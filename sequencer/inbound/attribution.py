"""Which enrollment an inbound message is about, and which touch it answers.

Phase 2 of the inbox poller asks this first for every classified message (reply,
auto-reply, bounce, unsubscribe); the answer says what the effect applies to
(``inbound/effects.py``) and how we know, which the timeline records. Read-only.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from sequencer.db import attribution as q
from sequencer.db.models import Enrollment, InboundMessage
from sequencer.inbound.context import ApplyContext

RECENTLY_FINISHED = timedelta(days=30)  # sender attribution also looks at these


def attribute(
    s: Session, ctx: ApplyContext, row: InboundMessage
) -> tuple[Enrollment | None, int | None, str]:
    """Which enrollment a message is about, which touch it answers, and how we know.

    In order: a ref (In-Reply-To/References, or a bounce's embedded original) naming one
    of our touches, or the first email of a filed thread; the opt-out token; then the
    failed recipient (bounces) or the sender / Reply-To (everything else) against the
    address's open, then recently finished, enrollments in this mailbox.
    """
    refs = list(row.refs or [])
    touches = q.touches_by_message_ids(s, refs)
    for ref in refs:
        touch = touches.get(ref)
        if touch is not None and touch.mailbox == ctx.mailbox.name:
            found = q.enrollment(s, touch.enrollment_id)
            if found is not None:
                return found, touch.step, f"refers to touch {touch.step} ({ref})"
    threads = q.enrollments_by_thread_ids(s, ctx.mailbox.name, refs)
    for ref in refs:
        found = threads.get(ref)
        if found is not None:
            step = (
                0 if ref == found.thread_root_id and found.source == "filing" else found.steps_done
            )
            return found, step, f"refers to the thread of enrollment {found.id} ({ref})"
    token = (row.details or {}).get("token")
    if token:
        found = q.enrollment_by_token(s, token)
        if found is not None:
            return found, found.steps_done, "opt-out token"
    if row.kind == "bounce":
        candidates = list(row.recipients or [])
    elif row.kind == "complaint":
        candidates = [row.complainant] if row.complainant else list(row.recipients or [])
    else:
        candidates = [a for a in [row.from_addr, *((row.details or {}).get("reply_to") or [])] if a]
    for address in dict.fromkeys(a.lower() for a in candidates):
        if address in ctx.own:
            continue
        found_list = q.recent_enrollments_of_address(
            s, address, mailbox=ctx.mailbox.name, finished_since=ctx.now - RECENTLY_FINISHED
        )
        if found_list:
            found = found_list[0]
            return (
                found,
                found.steps_done,
                f"{_who(row.kind)} {address}",
            )
    return None, None, "no enrollment matches"


def _who(kind: str) -> str:
    return {"bounce": "failed recipient", "complaint": "complainant"}.get(kind, "sender")


__all__ = ["RECENTLY_FINISHED", "attribute"]
