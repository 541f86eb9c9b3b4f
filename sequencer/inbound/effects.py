"""What a classified inbound message does to its enrollment (phase 2 of the inbox poller).

A reply stops the sequence (``replied``; the owner alert follows in ``reply_alerts``), an
auto-reply holds the next touch until the return date or ``on_auto_reply``, a hard bounce
(or the third soft one) suppresses the address, an unsubscribe suppresses it and ends
every open enrollment of the prospect. A message in the Sent folder is the rep's manual
email (``manual_email``) and, after a reply, the rep's answer that stops the reply SLA clock.
Each function runs inside the caller's savepoint (it never commits; raising sets the
message aside) and returns the ``Counts`` of what it did, which the poll adds up.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.core.schedule import add_wait, local_to_utc, zone
from sequencer.core.sequences import Policies
from sequencer.db import attribution as q
from sequencer.db import replies, store
from sequencer.db.models import Enrollment, InboundMessage, Prospect
from sequencer.inbound import manual_email
from sequencer.inbound.context import ACTOR, ApplyContext
from sequencer.inbound.counts import NOTHING, Counts
from sequencer.people import intent_effects, stages

SOFT_BOUNCE_LIMIT = 3  # soft bounces of one enrollment before it counts as bounced
SOFT_BOUNCE_DELAY = timedelta(days=1)  # the next touch waits this long after a soft bounce


def _record(
    s: Session,
    ctx: ApplyContext,
    enrollment: Enrollment,
    kind: str,
    *,
    reason: str | None,
    step: int | None,
    data: dict[str, Any],
) -> None:
    """A poller event on the enrollment's timeline, stamped with this batch's clock reading."""
    store.record_event(
        s,
        now=ctx.now,
        kind=kind,
        actor=ACTOR,
        enrollment=enrollment,
        reason=reason,
        step=step,
        data=data,
    )


def _policies(ctx: ApplyContext, enrollment: Enrollment) -> Policies:
    sequence = ctx.sequences.get(enrollment.sequence_id)
    return sequence.policies if sequence else Policies()


def apply_reply(
    s: Session,
    ctx: ApplyContext,
    row: InboundMessage,
    enrollment: Enrollment,
    step: int | None,
    how: str,
) -> Counts:
    """Stop the sequence (``replied``), unless a colleague wrote and the policy says go on."""
    prospect = q.prospect(s, enrollment.prospect_id)
    assert prospect is not None
    sender = (row.from_addr or "").lower()
    data = {
        "snippet": row.snippet,
        "from": sender,
        "subject": row.subject,
        "message_id": row.message_id,
        "via": how,
    }
    if (
        sender
        and sender != prospect.email
        and sender not in ((row.details or {}).get("reply_to") or [])
    ):
        same_domain = sender.rsplit("@", 1)[-1] == prospect.email.rsplit("@", 1)[-1]
        if same_domain and not _policies(ctx, enrollment).stop_on_reply_from_domain:
            _record(
                s,
                ctx,
                enrollment,
                "colleague_reply",
                reason=f"{sender} replied in the thread (stop_on_reply_from_domain is off)",
                step=step,
                data=data,
            )
            return NOTHING
        data["colleague"] = sender
    if enrollment.status in lifecycle.TRANSITIONS[lifecycle.REPLIED]:
        store.transition(
            s,
            enrollment,
            lifecycle.REPLIED,
            now=ctx.now,
            actor=ACTOR,
            reason=f"reply from {sender or 'unknown sender'}",
            step=step,
            data=data,
            replied_at=ctx.now,
            replied_step=step,
        )
        stages.on_reply(s, enrollment.prospect_id, actor=ACTOR, now=ctx.now, enrollment_id=enrollment.id)
        intent_effects.on_reply(s, ctx.config, ctx.sequences, enrollment, row, now=ctx.now, actor=ACTOR,
                                calendar=ctx.calendar)
        return Counts(replies=1)
    if ((row.details or {}).get("intent") or {}).get("intent") == "meeting":  # an invitation after the reply
        intent_effects.on_reply(s, ctx.config, ctx.sequences, enrollment, row, now=ctx.now, actor=ACTOR,
                                calendar=ctx.calendar)
    _record(
        s,
        ctx,
        enrollment,
        "reply_received",
        reason=f"another message from {sender} (enrollment already {enrollment.status})",
        step=step,
        data=data,
    )
    return NOTHING


def _zone_name(ctx: ApplyContext, enrollment: Enrollment) -> str:
    sequence = ctx.sequences.get(enrollment.sequence_id)
    prospect_tz = enrollment.prospect.timezone if enrollment.prospect else None
    return (
        prospect_tz
        or (sequence.timezone if sequence else None)
        or ctx.mailbox.timezone
        or ctx.config.timezone
    )


def _hold_until(s: Session, enrollment: Enrollment, until: datetime, reason: str) -> bool:
    """Push the next touch to ``until`` (never earlier than planned); True if it moved."""
    if enrollment.status != lifecycle.ACTIVE or enrollment.next_send_at is None:
        return False
    if enrollment.next_send_at >= until:
        return False
    q.update_enrollment(s, enrollment.id, next_send_at=until, wait_reason=reason)
    s.refresh(enrollment)
    return True


def apply_auto_reply(
    s: Session, ctx: ApplyContext, row: InboundMessage, enrollment: Enrollment, step: int | None
) -> Counts:
    """Never a stop: hold the next touch until the return date (or ``on_auto_reply``)."""
    details = row.details or {}
    return_date = date.fromisoformat(details["return_date"]) if details.get("return_date") else None
    data: dict[str, Any] = {
        "snippet": row.snippet,
        "from": row.from_addr,
        "subject": row.subject,
        "return_date": details.get("return_date"),
        "rule": details.get("rule"),
    }
    held = None
    if return_date is not None:
        resume_day = ctx.calendar.next_business_day(return_date)
        until = local_to_utc(resume_day, time(0, 0), zone(_zone_name(ctx, enrollment)))
        if _hold_until(s, enrollment, until, f"out of office until {return_date.isoformat()}"):
            held = until
    else:
        pause = _policies(ctx, enrollment).auto_reply_pause
        if pause is not None:
            until = add_wait(ctx.now, pause, zone(_zone_name(ctx, enrollment)), ctx.calendar)
            if _hold_until(s, enrollment, until, f"auto-reply: on_auto_reply {pause}"):
                held = until
    if held is not None:
        data["next_send_at"] = held.isoformat()
    _record(s, ctx, enrollment, "auto_reply", reason=row.reason, step=step, data=data)
    return NOTHING


def apply_bounce(
    s: Session, ctx: ApplyContext, row: InboundMessage, enrollment: Enrollment, step: int | None
) -> Counts:
    """A hard bounce (or the third soft one) suppresses the address and ends the enrollment."""
    prospect = q.prospect(s, enrollment.prospect_id)
    assert prospect is not None
    data = {
        "severity": row.severity,
        "recipients": list(row.recipients or []),
        "message_id": row.message_id,
    }
    hard = row.severity != "soft"
    reason = row.reason or "bounce"
    if not hard and (row.details or {}).get("delayed"):
        # a delay warning: the MTA still tries; it stops, holds and counts nothing
        _record(s, ctx, enrollment, "delivery_delayed", reason=reason, step=step, data=data)
        return NOTHING
    if not hard:
        _record(s, ctx, enrollment, "soft_bounce", reason=reason, step=step, data=data)
        s.flush()
        if q.count_events(s, enrollment.id, "soft_bounce") < SOFT_BOUNCE_LIMIT:
            _hold_until(s, enrollment, ctx.now + SOFT_BOUNCE_DELAY, f"soft bounce: {reason}")
            return NOTHING
        reason = f"{SOFT_BOUNCE_LIMIT} soft bounces; last: {reason}"
    store.add_suppression(
        s,
        prospect.email,
        kind="address",
        reason=f"bounced: {reason}"[:500],
        source=ACTOR,
        now=ctx.now,
    )
    if enrollment.status in lifecycle.TRANSITIONS[lifecycle.BOUNCED]:
        store.transition(
            s,
            enrollment,
            lifecycle.BOUNCED,
            now=ctx.now,
            actor=ACTOR,
            reason=reason,
            step=step,
            data=data,
        )
    else:
        _record(s, ctx, enrollment, "bounce_received", reason=reason, step=step, data=data)
    return NOTHING


def unsubscribe(
    s: Session, ctx: ApplyContext, row: InboundMessage, enrollment: Enrollment | None
) -> Counts:
    """Suppress the writer's address and end every open enrollment of that prospect."""
    prospect: Prospect | None = q.prospect(s, enrollment.prospect_id) if enrollment else None
    writer = (row.from_addr or "").lower()
    if prospect is not None and _third_party(row, prospect, writer):
        # a forwardee asked to be removed in the prospect's thread: remove the writer only
        return _suppress_writer(s, ctx, row, enrollment, writer)
    if prospect is None and row.from_addr:
        prospect = store.prospect_by_email(s, row.from_addr)
    address = prospect.email if prospect else (row.from_addr or "").lower()
    if not address or address in ctx.own:
        return NOTHING
    store.add_suppression(
        s,
        address,
        kind="address",
        reason=f"unsubscribed: {row.reason}"[:500],
        source=ACTOR,
        now=ctx.now,
    )
    if prospect is None:
        return NOTHING
    targets = {e.id: e for e in q.open_enrollments_of_prospect(s, prospect.id)}
    if (
        enrollment is not None
        and enrollment.status in lifecycle.TRANSITIONS[lifecycle.UNSUBSCRIBED]
    ):
        targets.setdefault(enrollment.id, enrollment)
    for e in targets.values():
        store.transition(
            s,
            e,
            lifecycle.UNSUBSCRIBED,
            now=ctx.now,
            actor=ACTOR,
            reason=f"asked to be removed ({row.reason})",
            step=e.steps_done,
            data={"from": row.from_addr, "snippet": row.snippet},
        )
    return NOTHING


def _third_party(row: InboundMessage, prospect: Prospect, writer: str) -> bool:
    """The opt-out was written by someone other than the prospect (nor their Reply-To)."""
    details = row.details or {}
    if not writer or writer == prospect.email or details.get("token"):
        return False
    name = " ".join((details.get("from_name") or "").lower().split())
    if name and prospect.name and name == " ".join(prospect.name.lower().split()):
        return False  # the prospect writing from another address of theirs: honour it for them
    return prospect.email not in [a.lower() for a in details.get("reply_to") or []]


def _suppress_writer(
    s: Session, ctx: ApplyContext, row: InboundMessage, enrollment: Enrollment | None, writer: str
) -> Counts:
    if writer in ctx.own:
        return NOTHING
    store.add_suppression(
        s, writer, kind="address", reason=f"unsubscribed: {row.reason}"[:500],
        source=ACTOR, now=ctx.now,
    )
    if enrollment is not None:
        _record(
            s, ctx, enrollment, "third_party_unsubscribe",
            reason=f"{writer} asked to be removed in this thread; only {writer} is suppressed",
            step=enrollment.steps_done, data={"from": writer, "snippet": row.snippet},
        )
    other = store.prospect_by_email(s, writer)
    if other is not None:
        for e in q.open_enrollments_of_prospect(s, other.id):
            store.transition(
                s, e, lifecycle.UNSUBSCRIBED, now=ctx.now, actor=ACTOR,
                reason=f"asked to be removed ({row.reason})", step=e.steps_done,
                data={"from": writer, "snippet": row.snippet},
            )
    return NOTHING


def apply_sent(s: Session, ctx: ApplyContext, row: InboundMessage) -> tuple[int | None, Counts]:
    """A message in Sent: our touch's copy (nothing to do), else the rep's manual email.

    One row, both signals: a manual email to a prospect is recorded on the timeline and
    applies ``on_manual_email`` (``manual_email.capture_manual_email``), and if it follows the
    prospect's reply it is also the rep's answer (``answered_at``, the reply SLA).
    Returns the enrollment it was recorded on, if any.
    """
    if row.message_id and q.touches_by_message_ids(s, [row.message_id]):
        return None, NOTHING
    manual = manual_email.capture_manual_email(
        s, ctx.config, ctx.sequences, ctx.mailbox, row, ctx.now, ctx.calendar, actor=ACTOR
    )
    captured = manual.enrollment_ids[0] if manual.enrollment_ids else None
    recipients = [a.lower() for a in row.recipients or []]
    waiting = replies.awaiting_answer(s, ctx.mailbox.name)
    if not waiting:
        return captured, NOTHING
    by_reply = replies.reply_message_ids(s, [e.id for e, _ in waiting])
    chosen: Enrollment | None = None
    for ref in row.refs or []:
        if ref in by_reply:
            chosen = next(e for e, _ in waiting if e.id == by_reply[ref])
            break
    if chosen is None:
        sent_at = _iso((row.details or {}).get("date"))
        for e, p in waiting:
            if p.email in recipients:
                reply = replies.latest_reply_of_enrollment(s, e.id)
                reply_at = _iso((reply.details or {}).get("date")) if reply else None
                if sent_at and reply_at and sent_at < reply_at:
                    continue  # written before the reply arrived: not an answer to it
                chosen = e
                break
    if chosen is None or chosen.replied_at is None:
        return captured, NOTHING
    q.update_enrollment(s, chosen.id, answered_at=ctx.now)
    seconds = max(0.0, (ctx.now - chosen.replied_at).total_seconds())
    _record(
        s,
        ctx,
        chosen,
        "answered",
        reason=f"the rep answered after {seconds / 3600:.1f}h",
        step=chosen.replied_step,
        data={"response_seconds": seconds, "message_id": row.message_id, "subject": row.subject},
    )
    return chosen.id, Counts(answered=1)


def _iso(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


__all__ = [
    "apply_auto_reply",
    "apply_bounce",
    "apply_reply",
    "apply_sent",
    "unsubscribe",
]
