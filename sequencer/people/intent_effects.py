"""What a reply's intent does: come back on the named day, follow the referral, book the meeting.

Called by the poller right after a human reply ended an enrollment (``replied``), inside
its savepoint, and by ``sequencer intent`` when a rep corrects an intent. Each intent is
a configured policy (README, "Reply intent"):

- ``not_now`` -> the prospect is enrolled in ``reengage.sequence`` with its clock starting
  on the day they named (``core.periods``: the first business day of the period, in the
  prospect's zone) or ``reengage.default_delay_days`` later; its first touch replies in
  the prospect's own thread. Without the key: a rep task due that day.
- ``referral`` -> each named colleague with an address becomes a prospect (same company,
  owner and zone, ``referred_by`` the referrer) enrolled in ``referrals.sequence``; a
  colleague without an address, or no sequence configured, is a rep task.
- ``meeting`` (or a calendar invitation/acceptance) -> deal stage ``meeting``, the time on
  the timeline.
- ``not_interested`` / ``wrong_person`` -> the enrollment's reason says so; re-engaged only
  when ``reengage.not_interested_delay_days`` is set.

Every plan is one ``intent`` event whose reason is the line the rep's reply alert shows.
Enrollments planned here carry ``origin_enrollment_id``, so a correction can cancel them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.core.periods import Period, default_return, resolve
from sequencer.core.schedule import BusinessCalendar, local_to_utc, zone
from sequencer.core.sequences import Sequence
from sequencer.core.templates import first_name
from sequencer.db import attribution as q
from sequencer.db import store
from sequencer.db import tasks as task_q
from sequencer.db.models import Enrollment, InboundMessage, Prospect
from sequencer.errors import UserError
from sequencer.people import stages
from sequencer.people.enroll import enroll
from sequencer.project import prospect_zone

REENGAGE_TASK_STEP = -1  # intent tasks live below step 1: never a sequence's task step
REFERRAL_TASK_STEP = -10  # -10, -11, ... one per referred person


@dataclass(frozen=True)
class ReplyInfo:
    """The reply an intent was read from: its thread and its words."""

    message_id: str | None
    refs: tuple[str, ...]
    subject: str | None
    sender: str
    snippet: str

    @classmethod
    def of(cls, row: InboundMessage | None) -> ReplyInfo:
        if row is None:
            return cls(None, (), None, "", "")
        return cls(row.message_id, tuple(row.refs or ()), row.subject, (row.from_addr or "").lower(),
                   row.snippet or "")


def _zone_name(config: Config, sequences: Mapping[str, Sequence], e: Enrollment, p: Prospect) -> str:
    try:
        mailbox = config.mailbox(e.mailbox)
    except UserError:
        mailbox = None
    return prospect_zone(config, sequences.get(e.sequence_id), mailbox, p.timezone)


def come_back_on(found: Mapping[str, Any], today: date, config: Config, calendar: BusinessCalendar) -> date:
    """The day a not_now comes back: the period's first business day, else the default delay."""
    period = found.get("period")
    day = resolve(Period.from_dict(period), today, calendar.is_business_day) if period else None
    return day or default_return(today, config.reengage.default_delay_days, calendar.is_business_day)


def _task(s: Session, e: Enrollment, step: int, title: str, due: datetime, now: datetime) -> str:
    task, created = task_q.create_task(s, enrollment_id=e.id, step=step, owner=e.owner, title=title[:500],
                                       kind="email", due_at=due, now=now)
    if not created and task.status != "open":  # a correction re-plans the same task: reopen it
        task.status, task.title, task.due_at, task.done_at = "open", title[:500], due, None
    return f"task for {e.owner or 'the owner'}: {title}"


def _thread_onto_reply(s: Session, enrollment_id: int, origin: Enrollment, reply: ReplyInfo) -> None:
    """The re-engagement's first touch answers the prospect's own reply (In-Reply-To it)."""
    if not reply.message_id:
        q.update_enrollment(s, enrollment_id, origin_enrollment_id=origin.id)
        return
    thread = list(dict.fromkeys([*reversed(reply.refs), reply.message_id]))
    q.update_enrollment(
        s, enrollment_id, origin_enrollment_id=origin.id,
        thread_root_id=origin.thread_root_id or thread[0], last_message_id=reply.message_id,
        thread_refs=thread, thread_subject=reply.subject or origin.thread_subject,
    )


def _reengage(s: Session, config: Config, sequences: Mapping[str, Sequence], e: Enrollment, p: Prospect,
              found: Mapping[str, Any], reply: ReplyInfo, day: date, *, now: datetime, actor: str) -> str:
    zone_name = _zone_name(config, sequences, e, p)
    start = local_to_utc(day, time(0, 0), zone(zone_name))
    q.update_enrollment(s, e.id, reengage_on=day)
    period = (found.get("period") or {}).get("text") or ""
    sequence_id = config.reengage.sequence
    if not sequence_id or sequence_id not in sequences:
        return _task(s, e, REENGAGE_TASK_STEP, f"Get back to {p.email} on {day.isoformat()}"
                     + (f" (they said: \u201c{found.get('quote')}\u201d)" if found.get("quote") else ""), start, now)
    fields = {"reengage_on": day.isoformat(), "reengage_period": period, "reengage_quote": found.get("quote") or "",
              "reply_subject": reply.subject or ""}
    try:
        result = enroll(s, config, sequences, email=p.email, sequence_id=sequence_id, start=start, now=now,
                        actor=actor, source="reengage", fields=fields)
    except UserError as exc:
        return _task(s, e, REENGAGE_TASK_STEP, f"Get back to {p.email} on {day.isoformat()} "
                     f"(could not enroll in {sequence_id}: {exc})", start, now)
    if not result.enrolled or result.enrollment_id is None:
        return f"already in {sequence_id}: {result.skipped_reason}"
    _thread_onto_reply(s, result.enrollment_id, e, reply)
    first = result.next_send_at.strftime("%Y-%m-%d %H:%M UTC") if result.next_send_at else "?"
    return f"coming back on {day.isoformat()} ({zone_name}) in {sequence_id}, first touch {first}, in their thread"


def _refer(s: Session, config: Config, sequences: Mapping[str, Sequence], e: Enrollment, p: Prospect,
           found: Mapping[str, Any], *, now: datetime, actor: str) -> list[str]:
    lines: list[str] = []
    sequence_id = config.referrals.sequence
    owner = e.owner or p.owner
    referrer = p.name or p.email
    if not found.get("referrals"):  # a rep's correction: nobody was read from the reply
        return [_task(s, e, REFERRAL_TASK_STEP, f"Find the colleague {referrer} referred you to "
                      f"({p.company or p.email})", now, now)]
    for index, person in enumerate(found.get("referrals") or []):
        name, address = person.get("name"), person.get("address")
        step = REFERRAL_TASK_STEP - index
        if not address:
            lines.append(_task(s, e, step, f"Find {name or 'the referred colleague'}'s address "
                               f"(referred by {referrer}, {p.company or p.email})", now, now))
            continue
        fields = {"referred_by": p.email, "referrer_name": referrer,
                  "referrer_first_name": first_name(p.name or "") or referrer, "referral_quote": found.get("quote") or ""}
        if sequence_id and sequence_id in sequences:
            try:
                result = enroll(s, config, sequences, email=address, sequence_id=sequence_id, name=name,
                                company=p.company, owner=owner, tz=p.timezone, fields=fields, now=now,
                                actor=actor, source="referral")
            except UserError as exc:
                lines.append(f"referral {address} not enrolled: {exc}")
                continue
            colleague = store.prospect_by_email(s, address)
            if colleague is not None and not colleague.referred_by:
                colleague.referred_by = p.email
            if result.enrolled and result.enrollment_id is not None:
                q.update_enrollment(s, result.enrollment_id, origin_enrollment_id=e.id)
                lines.append(f"referral {name or address} <{address}> enrolled in {sequence_id}")
            else:
                lines.append(f"referral {address}: {result.skipped_reason}")
            continue
        colleague = store.prospect_by_email(s, address)
        if colleague is None:
            colleague = Prospect(email=address.lower(), display_email=address, name=name, company=p.company,
                                 owner=owner, timezone=p.timezone, fields=fields, created_at=now, updated_at=now,
                                 referred_by=p.email)
            s.add(colleague)
            s.flush()
        lines.append(_task(s, e, step, f"Write to {name or address} <{address}> (referred by {referrer})", now, now))
    return lines


def plan(s: Session, config: Config, sequences: Mapping[str, Sequence], e: Enrollment, found: Mapping[str, Any],
         reply: ReplyInfo, *, now: datetime, actor: str, calendar: BusinessCalendar,
         on: date | None = None) -> list[str]:
    """Carry out one intent's policy for enrollment ``e``; returns the plan lines (for the alert)."""
    intent = found.get("intent")
    p = e.prospect
    lines: list[str] = []
    if intent == "not_now":
        today = now.astimezone(zone(_zone_name(config, sequences, e, p))).date()
        lines.append(_reengage(s, config, sequences, e, p, found, reply,
                               on or come_back_on(found, today, config, calendar), now=now, actor=actor))
    elif intent == "referral":
        lines += _refer(s, config, sequences, e, p, found, now=now, actor=actor)
    elif intent == "meeting":
        moved = stages.move_stage(s, p.id, "meeting", actor, now, note=(found.get("evidence") or "")[:200],
                                  forward_only=True)
        at = found.get("meeting_at")
        lines.append("stage meeting" + (f", meeting at {at}" if at else "") + ("" if moved else " (already there)"))
    elif intent in ("not_interested", "wrong_person"):
        reason = f"reply: {intent.replace('_', ' ')}"
        q.update_enrollment(s, e.id, status_reason=reason)
        delay = config.reengage.not_interested_delay_days
        if delay and e.status == lifecycle.REPLIED:
            today = now.astimezone(zone(_zone_name(config, sequences, e, p))).date()
            day = on or default_return(today, delay, calendar.is_business_day)
            lines.append(_reengage(s, config, sequences, e, p, found, reply, day, now=now, actor=actor))
        else:
            lines.append(f"ended: {intent.replace('_', ' ')}, no re-engagement")
    return lines


def record(s: Session, e: Enrollment, found: Mapping[str, Any], lines: list[str], *, now: datetime,
           actor: str, kind: str = "intent") -> None:
    """The intent on the enrollment and one timeline event whose reason is the plan."""
    q.update_enrollment(s, e.id, intent=found.get("intent"), intent_evidence=found.get("reason"))
    summary = f"{found.get('intent')}: " + ("; ".join(lines) if lines else "recorded")
    store.record_event(s, now=now, kind=kind, actor=actor, enrollment=e, reason=summary[:1000], data={
        "intent": found.get("intent"), "evidence": found.get("reason"), "quote": found.get("quote"),
        "meeting_at": found.get("meeting_at"), "referrals": found.get("referrals") or [], "plan": lines,
    })
    if found.get("meeting_at"):
        store.record_event(s, now=now, kind="meeting", actor=actor, enrollment=e,
                           reason=f"meeting at {found['meeting_at']}", data={"at": found["meeting_at"]})
    s.refresh(e)


def on_reply(s: Session, config: Config, sequences: Mapping[str, Sequence], e: Enrollment,
             row: InboundMessage, *, now: datetime, actor: str, calendar: BusinessCalendar) -> list[str]:
    """The poller's hook: the reply ``row`` just ended ``e``; act on its stored intent."""
    found = (row.details or {}).get("intent")
    if not found or not found.get("intent") or found.get("intent") == "unsubscribe":
        return []
    lines = plan(s, config, sequences, e, found, ReplyInfo.of(row), now=now, actor=actor, calendar=calendar)
    record(s, e, found, lines, now=now, actor=actor)
    return lines


def planned_by(s: Session, e: Enrollment) -> list[Enrollment]:
    """Open enrollments a reply of ``e`` planned (re-engagement, referrals)."""
    return list(s.scalars(select(Enrollment).where(
        Enrollment.origin_enrollment_id == e.id, Enrollment.status.in_(list(lifecycle.OPEN_STATES)))))


__all__ = ["ReplyInfo", "come_back_on", "on_reply", "plan", "planned_by", "record"]
