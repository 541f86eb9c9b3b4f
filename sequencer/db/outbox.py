"""Named queries of the outbox: claiming due touches, recording what SMTP said, recovery.

Exactly-once rests on three things held by the database, not by luck:

* ``claim_due`` picks due enrollments, inserts their Message rows (status ``queued``,
  Message-ID fixed) and leases the enrollments in ONE transaction the caller commits
  before any SMTP. UNIQUE(enrollment, step) makes a second row for the same touch
  impossible, and an enrollment with a queued/sending/held row is never picked again.
* ``mark_attempting`` moves rows to ``sending`` (committed) just before the SMTP
  transaction starts, so after a crash a ``queued`` row is known never to have left
  (released and retried) while a ``sending`` row may have (reconciled against the
  Sent folder, else ``held`` for the operator).
* Every later transition is guarded in its WHERE clause on the row's current status.

Message statuses: queued -> sending -> sent | deferred (retry later, same Message-ID)
| failed (never) | held (maybe sent; operator resolves). Row locks: PostgreSQL uses
``FOR UPDATE SKIP LOCKED`` so workers share the work; SQLite runs the same statements
inside one ``BEGIN IMMEDIATE`` write transaction (see db/session.py), which serialises
claims across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from sequencer import lifecycle
from sequencer.addresses import domain_of
from sequencer.db import store
from sequencer.db.models import Enrollment, Event, MailboxState, Message, Prospect, Suppression

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
DEFERRED = "deferred"
FAILED = "failed"
HELD = "held"
IN_FLIGHT = (QUEUED, SENDING, HELD)

WAIT_WINDOW = "window"
WAIT_LIMIT = "limit"
WAIT_POLL = "awaiting poll"
WAIT_HELD = "held"


# --- what the caller's policy decides for each due enrollment -------------------------


@dataclass(frozen=True)
class SendTouch:
    """Claim it: the rendered touch (``payload`` is kept in memory for the sender)."""

    to_addr: str
    subject: str
    variant: str | None = None
    payload: Any = None


@dataclass(frozen=True)
class Defer:
    """Not now: move next_send_at to ``until`` and show ``reason`` in list/status."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class Finish:
    """End the enrollment (suppressed address, touch that cannot render)."""

    state: str
    reason: str


@dataclass(frozen=True)
class Leave:
    """Leave it untouched (e.g. over this tick's quota)."""


LEAVE = Leave()
Decision = SendTouch | Defer | Finish | Leave
Decider = Callable[[Enrollment, Prospect, str], Decision]


@dataclass
class Claim:
    """A touch claimed by this worker: the Message row is ``queued``, the enrollment leased."""

    id: int
    message_id: str
    enrollment_id: int
    prospect_id: int
    step: int
    mailbox: str
    to_addr: str
    subject: str
    payload: Any = None


@dataclass
class ClaimResult:
    claims: list[Claim] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)  # reason -> count
    finished: dict[str, int] = field(default_factory=dict)  # state -> count
    scanned: int = 0


# --- mailbox pacing -------------------------------------------------------------------


def lock_mailbox_state(s: Session, name: str) -> MailboxState:
    """The mailbox's shared pacing row, created if missing and locked for this transaction.

    Workers claiming for the same mailbox queue up here (briefly: the claim commits
    before SMTP), so two of them never spend the same send slot.
    """
    state = s.get(MailboxState, name, with_for_update=True, populate_existing=True)
    if state is None:
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        s.execute(insert(MailboxState).values(name=name).on_conflict_do_nothing())
        state = s.get(MailboxState, name, with_for_update=True, populate_existing=True)
    assert state is not None
    return state


def get_mailbox_state(s: Session, name: str) -> MailboxState | None:
    return s.get(MailboxState, name)


def mailbox_states(s: Session) -> dict[str, MailboxState]:
    return {m.name: m for m in s.scalars(select(MailboxState))}


def set_next_send_allowed(s: Session, name: str, when: datetime) -> None:
    s.execute(
        update(MailboxState).where(MailboxState.name == name).values(next_send_allowed_at=when)
    )


def pause_mailbox(s: Session, name: str, *, reason: str, now: datetime) -> None:
    lock_mailbox_state(s, name)
    s.execute(
        update(MailboxState)
        .where(MailboxState.name == name)
        .values(paused_reason=reason, paused_at=now)
    )
    s.add(
        Event(at=now, kind="mailbox_paused", actor="sender", reason=reason, data={"mailbox": name})
    )


def unpause_mailbox(s: Session, name: str, *, now: datetime, actor: str) -> bool:
    result = s.execute(
        update(MailboxState)
        .where(MailboxState.name == name, MailboxState.paused_reason.is_not(None))
        .values(paused_reason=None, paused_at=None)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        s.add(
            Event(at=now, kind="mailbox_resumed", actor=actor, reason=None, data={"mailbox": name})
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_polled(s: Session, name: str, at: datetime) -> None:
    """Record that the mailbox's inbox was polled up to ``at`` (unblocks follow-ups due before it)."""
    lock_mailbox_state(s, name)
    s.execute(
        update(MailboxState)
        .where(
            MailboxState.name == name,
            or_(MailboxState.last_poll_at.is_(None), MailboxState.last_poll_at < at),
        )
        .values(last_poll_at=at)
    )


def sent_since(s: Session, mailbox: str, since: datetime) -> int:
    """Touches counted against the daily limit since ``since``: sent, plus in flight or held.

    Uses ix_messages_mailbox_sent for the sent part (O(sent today)) and
    ix_messages_status for the few in-flight rows.
    """
    sent = s.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.mailbox == mailbox, Message.sent_at >= since)
    )
    pending = s.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.status.in_(IN_FLIGHT), Message.mailbox == mailbox, Message.claimed_at >= since
        )
    )
    return int(sent or 0) + int(pending or 0)


# --- claiming -------------------------------------------------------------------------


def _poll_condition(require_poll: bool, polled_until: datetime | None) -> Any:
    """Only an enrollment's very first email is exempt from the reply race check.

    One made by filing already has a first email, the rep's own (``thread_root_id`` set
    before step 1), so its step 1 is a follow-up and waits for a poll like any other.
    """
    if not require_poll:
        return None
    first = and_(Enrollment.steps_done == 0, Enrollment.thread_root_id.is_(None))
    if polled_until is None:
        return first
    return or_(first, Enrollment.next_send_at <= polled_until)


def flag_awaiting_poll(
    s: Session, *, mailbox: str, now: datetime, polled_until: datetime | None
) -> int:
    """Show "awaiting poll" on due follow-ups the reply-race rule holds back (O(due))."""
    cond = [
        Enrollment.status == lifecycle.ACTIVE,
        Enrollment.next_send_at <= now,
        Enrollment.mailbox == mailbox,
        or_(Enrollment.steps_done > 0, Enrollment.thread_root_id.is_not(None)),
        or_(Enrollment.wait_reason.is_(None), Enrollment.wait_reason != WAIT_POLL),
    ]
    if polled_until is not None:
        cond.append(Enrollment.next_send_at > polled_until)
    result = s.execute(
        update(Enrollment)
        .where(*cond)
        .values(wait_reason=WAIT_POLL)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim_due(
    s: Session,
    *,
    now: datetime,
    worker: str,
    limit: int,
    lease_seconds: int,
    mailbox: str,
    decide: Decider,
    new_message_id: Callable[[Enrollment], str],
    require_poll: bool = False,
    polled_until: datetime | None = None,
) -> ClaimResult:
    """Pick up to ``limit`` due enrollments of ``mailbox`` and apply ``decide`` to each.

    Due = active, next_send_at <= now, lease free or expired, no queued/sending/held
    row for its next step, and (with ``require_poll``) step 1 or due before the last
    poll. Read through ix_enrollments_due in next_send_at order: the cost is O(due),
    whatever the number stored. ``decide(enrollment, prospect, message_id)`` returns
    SendTouch (claimed: Message row inserted as queued, enrollment leased), Defer,
    Finish or LEAVE. A suppressed address (or domain) is never offered to ``decide``:
    its enrollment is stopped here, in the claim transaction, right before any send. The caller commits the session before sending anything.
    """
    in_flight = exists().where(
        Message.enrollment_id == Enrollment.id,
        Message.step == Enrollment.steps_done + 1,
        Message.status.in_(IN_FLIGHT),
    )
    conditions = [
        Enrollment.status == lifecycle.ACTIVE,
        Enrollment.next_send_at <= now,
        Enrollment.mailbox == mailbox,
        or_(Enrollment.lease_expires_at.is_(None), Enrollment.lease_expires_at < now),
        ~in_flight,
    ]
    poll = _poll_condition(require_poll, polled_until)
    if poll is not None:
        conditions.append(poll)
    rows = s.execute(
        select(Enrollment, Prospect)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(*conditions)
        .order_by(Enrollment.next_send_at, Enrollment.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Enrollment)
    ).all()
    result = ClaimResult(scanned=len(rows))
    if not rows:
        return result
    ids = [e.id for e, _ in rows]
    earlier = {
        (m.enrollment_id, m.step): m
        for m in s.scalars(
            select(Message).where(
                Message.enrollment_id.in_(ids), Message.status.in_((DEFERRED, FAILED))
            )
        )
    }
    emails = {p.email for _, p in rows}
    blocked = {
        sup.value: sup
        for sup in s.scalars(
            select(Suppression).where(
                Suppression.value.in_(emails | {domain_of(e) for e in emails})
            )
        )
    }
    leased: list[int] = []
    new_rows: list[tuple[Message | dict[str, Any], Enrollment, SendTouch]] = []
    inserts: list[dict[str, Any]] = []  # new Message rows, inserted in one statement below
    deferrals: list[dict[str, Any]] = []
    for enrollment, prospect in rows:
        step = enrollment.steps_done + 1
        previous = earlier.get((enrollment.id, step))
        message_id = previous.message_id if previous else new_message_id(enrollment)
        hit = blocked.get(prospect.email) or blocked.get(domain_of(prospect.email))
        if hit is not None:  # checked again here, right before sending: suppression always wins
            decision: Decision = Finish(
                lifecycle.STOPPED, f"address suppressed ({hit.value}: {hit.reason})"
            )
        else:
            decision = decide(enrollment, prospect, message_id)
        if isinstance(decision, SendTouch):
            if previous is not None:
                previous.status = QUEUED
                previous.claimed_at = now
                previous.worker = worker
                previous.to_addr = decision.to_addr
                previous.subject = decision.subject
                previous.variant = decision.variant
                row: Message | dict[str, Any] = previous
            else:
                row = {
                    "enrollment_id": enrollment.id,
                    "step": step,
                    "message_id": message_id,
                    "mailbox": mailbox,
                    "to_addr": decision.to_addr,
                    "subject": decision.subject,
                    "variant": decision.variant,
                    "status": QUEUED,
                    "claimed_at": now,
                    "attempts": 0,
                    "worker": worker,
                }
                inserts.append(row)
            new_rows.append((row, enrollment, decision))
            leased.append(enrollment.id)
        elif isinstance(decision, Defer):
            deferrals.append(
                {
                    "b_id": enrollment.id,
                    "next_send_at": decision.until,
                    "wait_reason": decision.reason,
                }
            )
            result.deferred[decision.reason] = result.deferred.get(decision.reason, 0) + 1
        elif isinstance(decision, Finish):
            store.transition(
                s,
                enrollment,
                decision.state,
                now=now,
                actor="sender",
                reason=decision.reason,
                step=step,
            )
            result.finished[decision.state] = result.finished.get(decision.state, 0) + 1
    if deferrals:
        s.connection().execute(
            update(Enrollment.__table__)
            .where(Enrollment.__table__.c.id == _bind("b_id"))
            .values(next_send_at=_bind("next_send_at"), wait_reason=_bind("wait_reason")),
            deferrals,
        )
    if leased:
        s.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(leased))
            .values(lease_owner=worker, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    s.flush()
    if inserts:
        ids = s.connection().scalars(
            Message.__table__.insert().returning(
                Message.__table__.c.id, sort_by_parameter_order=True
            ),
            inserts,
        )
        for row, pk in zip(inserts, ids, strict=True):
            row["id"] = pk
    for row, enrollment, decision in new_rows:
        if isinstance(row, dict):
            pk, message_id, step = row["id"], row["message_id"], row["step"]
        else:
            pk, message_id, step = row.id, row.message_id, row.step
        result.claims.append(
            Claim(
                id=pk,
                message_id=message_id,
                enrollment_id=enrollment.id,
                prospect_id=enrollment.prospect_id,
                step=step,
                mailbox=mailbox,
                to_addr=decision.to_addr,
                subject=decision.subject,
                payload=decision.payload,
            )
        )
    return result


def _bind(name: str, type_: Any = None, *, expanding: bool = False) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, type_=type_, expanding=expanding)


def mark_attempting(s: Session, ids: Sequence[int], *, worker: str) -> None:
    """queued -> sending, committed by the caller right before the SMTP transactions start."""
    s.connection().execute(_ATTEMPTING, {"b_ids": list(ids), "b_worker": worker})


# --- recording outcomes ---------------------------------------------------------------


@dataclass(frozen=True)
class Advance:
    """How the enrollment moves on after its touch ``step`` was sent (computed by the service)."""

    step: int
    next_send_at: datetime | None  # None: that was the last step -> completed
    thread_subject: str | None
    thread_root_id: str | None
    last_message_id: str
    thread_refs: list[str]


def mark_sent(
    s: Session,
    message_pk: int,
    *,
    now: datetime,
    sent_at: datetime,
    advance: Advance,
    actor: str,
    note: str | None = None,
) -> bool:
    """Message sent and enrollment advanced, in the caller's transaction.

    Guarded: only a row still ``sending``/``queued``/``held`` becomes sent (a worker whose
    lease ran out and whose row was then held by recovery still records the truth).
    Returns False when the row was not in such a state (already recorded).
    """
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=SENT, sent_at=sent_at, attempts=Message.attempts + 1, error=note)
        .returning(Message.enrollment_id, Message.message_id, Message.mailbox)
    ).first()
    if row is None:
        return False
    enrollment_id, message_id, mailbox = row
    values: dict[str, Any] = {
        "steps_done": advance.step,
        "last_touch_at": sent_at,
        "last_message_id": advance.last_message_id,
        "thread_refs": advance.thread_refs,
        "thread_subject": advance.thread_subject,
        "thread_root_id": advance.thread_root_id,
        "retry_count": 0,
        "wait_reason": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if advance.next_send_at is not None:
        values["next_send_at"] = advance.next_send_at
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.steps_done == advance.step - 1)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            prospect_id=enrollment.prospect_id,
            kind="sent",
            actor=actor,
            step=advance.step,
            reason=note,
            data={"message_id": message_id, "mailbox": mailbox},
        )
    )
    if advance.next_send_at is None and enrollment.status == lifecycle.ACTIVE:
        store.transition(
            s,
            enrollment,
            lifecycle.COMPLETED,
            now=now,
            actor=actor,
            reason="every step sent, no reply",
            step=advance.step,
        )
    return True


@dataclass(frozen=True)
class SentTouch:
    """One accepted touch for ``mark_sent_many``."""

    message_pk: int
    enrollment_id: int
    prospect_id: int
    message_id: str
    sent_at: datetime
    advance: Advance
    note: str | None = None


def mark_sent_many(
    s: Session, touches: Sequence[SentTouch], *, now: datetime, mailbox: str, actor: str
) -> int:
    """``mark_sent`` for a group in a few executemany statements (the engine's hot path).

    Same guards: a message row moves only from queued/sending/held; the enrollment only
    from steps_done == step - 1, and its next_send_at only while it is still active (a
    reply recorded meanwhile keeps its state). Returns how many rows became sent. The
    statements are built once (module level) so a group costs a few executemany calls,
    not SQL construction per touch.
    """
    if not touches:
        return 0
    conn = s.connection()
    open_pks = set(conn.scalars(_OPEN_MESSAGES, {"b_ids": [t.message_pk for t in touches]}))
    todo = [t for t in touches if t.message_pk in open_pks]
    if not todo:
        return 0
    conn.execute(
        _MESSAGES_SENT,
        [{"b_id": t.message_pk, "b_sent_at": t.sent_at, "b_note": t.note} for t in todo],
    )
    conn.execute(
        _ENROLLMENTS_ADVANCED,
        [
            {
                "b_id": t.enrollment_id,
                "b_prev": t.advance.step - 1,
                "b_step": t.advance.step,
                "b_sent_at": t.sent_at,
                "b_mid": t.advance.last_message_id,
                "b_refs": t.advance.thread_refs,
                "b_subject": t.advance.thread_subject,
                "b_root": t.advance.thread_root_id,
                "b_next": t.advance.next_send_at,
            }
            for t in todo
        ],
    )
    conn.execute(
        _EVENT_INSERT,
        [
            {
                "at": now,
                "enrollment_id": t.enrollment_id,
                "prospect_id": t.prospect_id,
                "kind": "sent",
                "actor": actor,
                "step": t.advance.step,
                "reason": t.note,
                "data": {"message_id": t.message_id, "mailbox": mailbox},
            }
            for t in todo
        ],
    )
    last = [t.enrollment_id for t in todo if t.advance.next_send_at is None]
    if last:
        # store.transition(..., COMPLETED) for the whole group: one guarded UPDATE, one INSERT.
        completed = conn.execute(_COMPLETED, {"b_ids": last, "b_now": now}).all()
        if completed:
            conn.execute(
                _EVENT_INSERT,
                [
                    {
                        "at": now,
                        "enrollment_id": enrollment_id,
                        "prospect_id": prospect_id,
                        "kind": lifecycle.EVENT_FOR[lifecycle.COMPLETED],
                        "actor": actor,
                        "step": steps_done,
                        "reason": _COMPLETED_REASON,
                        "data": {"from": lifecycle.ACTIVE, "to": lifecycle.COMPLETED},
                    }
                    for enrollment_id, prospect_id, steps_done in completed
                ],
            )
            s.expire_all()  # enrollments loaded in this session no longer match their rows
    return len(todo)


def _hot_statements() -> tuple[Any, ...]:
    """The engine's per-group statements, built once: SQLAlchemy then only binds values."""
    from sqlalchemy import case

    m, e = Message.__table__, Enrollment.__table__
    in_flight = m.c.status.in_(IN_FLIGHT)
    attempting = (
        update(m)
        .where(m.c.id.in_(_bind("b_ids", expanding=True)), m.c.status == QUEUED)
        .values(status=SENDING, worker=_bind("b_worker"))
    )
    open_messages = (
        select(m.c.id)
        .where(m.c.id.in_(_bind("b_ids", expanding=True)), in_flight)
        .with_for_update()
    )
    sent = (
        update(m)
        .where(m.c.id == _bind("b_id"), or_(*(m.c.status == st for st in IN_FLIGHT)))
        .values(
            status=SENT,
            sent_at=_bind("b_sent_at", type_=m.c.sent_at.type),
            attempts=m.c.attempts + 1,
            error=_bind("b_note", type_=m.c.error.type),
        )
    )
    advanced = (
        update(e)
        .where(e.c.id == _bind("b_id"), e.c.steps_done == _bind("b_prev"))
        .values(
            steps_done=_bind("b_step"),
            last_touch_at=_bind("b_sent_at", type_=e.c.last_touch_at.type),
            last_message_id=_bind("b_mid", type_=e.c.last_message_id.type),
            thread_refs=_bind("b_refs", type_=e.c.thread_refs.type),
            thread_subject=_bind("b_subject", type_=e.c.thread_subject.type),
            thread_root_id=_bind("b_root", type_=e.c.thread_root_id.type),
            retry_count=0,
            wait_reason=None,
            lease_owner=None,
            lease_expires_at=None,
            next_send_at=case(
                (e.c.status == lifecycle.ACTIVE, _bind("b_next", type_=e.c.next_send_at.type)),
                else_=e.c.next_send_at,
            ),
        )
    )
    assert lifecycle.allowed_from(lifecycle.COMPLETED) == {lifecycle.ACTIVE}
    completed = (
        update(e)
        .where(e.c.id.in_(_bind("b_ids", expanding=True)), e.c.status == lifecycle.ACTIVE)
        .values(
            status=lifecycle.COMPLETED,
            status_reason=_COMPLETED_REASON,
            status_changed_at=_bind("b_now", type_=e.c.status_changed_at.type),
            finished_at=_bind("b_now", type_=e.c.finished_at.type),
            next_send_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(e.c.id, e.c.prospect_id, e.c.steps_done)
    )
    return attempting, open_messages, sent, advanced, completed, Event.__table__.insert()


_COMPLETED_REASON = "every step sent, no reply"
(
    _ATTEMPTING,
    _OPEN_MESSAGES,
    _MESSAGES_SENT,
    _ENROLLMENTS_ADVANCED,
    _COMPLETED,
    _EVENT_INSERT,
) = _hot_statements()


def mark_failed_temporary(
    s: Session,
    message_pk: int,
    *,
    now: datetime,
    error: str,
    base_seconds: int,
    max_retries: int,
    actor: str,
) -> datetime | None:
    """Not sent, try again: retry n waits base*2^(n-1); after max_retries the enrollment fails.

    Returns the retry time, or None when it gave up.
    """
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=DEFERRED, attempts=Message.attempts + 1, error=error)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return None
    enrollment_id, step = row
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    retries = enrollment.retry_count + 1
    if retries > max_retries:
        s.execute(update(Message).where(Message.id == message_pk).values(status=FAILED))
        enrollment.lease_owner = None
        enrollment.lease_expires_at = None
        s.flush()
        if enrollment.status == lifecycle.ACTIVE:
            store.transition(
                s,
                enrollment,
                lifecycle.FAILED,
                now=now,
                actor=actor,
                step=step,
                reason=f"gave up after {max_retries} retries: {error}",
                retry_count=retries,
            )
        return None
    until = now + timedelta(seconds=base_seconds * 2 ** (retries - 1))
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(
            retry_count=retries,
            next_send_at=until,
            wait_reason=f"retry {retries}/{max_retries}: {error}"[:500],
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            prospect_id=enrollment.prospect_id,
            kind="send_deferred",
            actor=actor,
            step=step,
            reason=error,
            data={"retry": retries, "until": until.isoformat()},
        )
    )
    return until


def mark_bounced(
    s: Session, message_pk: int, *, now: datetime, error: str, recipient: str, actor: str
) -> None:
    """A 5xx for the recipient: message failed, enrollment bounced, the address suppressed."""
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=FAILED, attempts=Message.attempts + 1, error=error)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return
    enrollment_id, step = row
    store.add_suppression(
        s, recipient, kind="address", reason=f"hard bounce: {error}"[:500], source="smtp", now=now
    )
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    enrollment.lease_owner = None
    enrollment.lease_expires_at = None
    s.flush()
    if enrollment.status in lifecycle.allowed_from(lifecycle.BOUNCED):
        store.transition(
            s, enrollment, lifecycle.BOUNCED, now=now, actor=actor, step=step, reason=error[:500]
        )


def mark_failed(s: Session, message_pk: int, *, now: datetime, error: str, actor: str) -> None:
    """The touch will never go (rejected content): message failed, enrollment failed (operator may retry)."""
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_(IN_FLIGHT))
        .values(status=FAILED, attempts=Message.attempts + 1, error=error)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return
    enrollment_id, step = row
    enrollment = s.get(Enrollment, enrollment_id, populate_existing=True)
    assert enrollment is not None
    enrollment.lease_owner = None
    enrollment.lease_expires_at = None
    s.flush()
    if enrollment.status == lifecycle.ACTIVE:
        store.transition(
            s, enrollment, lifecycle.FAILED, now=now, actor=actor, step=step, reason=error[:500]
        )


def hold(s: Session, message_pk: int, *, now: datetime, reason: str, actor: str) -> bool:
    """Maybe sent, cannot confirm: park the row for ``outbox resolve``; the enrollment waits."""
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status.in_((QUEUED, SENDING)))
        .values(status=HELD, error=reason)
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return False
    enrollment_id, step = row
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(wait_reason=WAIT_HELD, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            kind="send_held",
            actor=actor,
            step=step,
            reason=reason,
        )
    )
    return True


def release(s: Session, message_pks: Iterable[int], *, reason: str | None = None) -> int:
    """Give claimed-but-unsent touches back: rows deferred (same Message-ID later), leases freed."""
    pks = list(message_pks)
    if not pks:
        return 0
    enrollment_ids = list(
        s.scalars(
            update(Message)
            .where(Message.id.in_(pks), Message.status.in_((QUEUED, SENDING)))
            .values(status=DEFERRED, error=reason)
            .returning(Message.enrollment_id)
        )
    )
    if enrollment_ids:
        s.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(enrollment_ids))
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
    return len(enrollment_ids)


def release_lease(s: Session, enrollment_id: int) -> None:
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def stale_sending(
    s: Session, now: datetime, *, lease_seconds: int, mailbox: str | None = None
) -> list[Message]:
    """Rows a dead worker left ``queued``/``sending`` (claimed longer than a lease ago)."""
    q = select(Message).where(
        Message.status.in_((QUEUED, SENDING)),
        Message.claimed_at < now - timedelta(seconds=lease_seconds),
    )
    if mailbox is not None:
        q = q.where(Message.mailbox == mailbox)
    return list(s.scalars(q.order_by(Message.id).with_for_update(skip_locked=True)))


def resend(s: Session, message_pk: int, *, now: datetime, actor: str) -> bool:
    """Operator says a held touch never arrived: it goes again (same Message-ID) at the next tick."""
    row = s.execute(
        update(Message)
        .where(Message.id == message_pk, Message.status == HELD)
        .values(status=DEFERRED, error="resend requested by operator")
        .returning(Message.enrollment_id, Message.step)
    ).first()
    if row is None:
        return False
    enrollment_id, step = row
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(next_send_at=now, wait_reason=None, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    s.add(
        Event(
            at=now,
            enrollment_id=enrollment_id,
            kind="send_resend",
            actor=actor,
            step=step,
            reason="held touch resent by operator",
        )
    )
    return True


# --- reading --------------------------------------------------------------------------


def message(s: Session, message_pk: int) -> Message | None:
    return s.get(Message, message_pk)


def enrollment_with_prospect(s: Session, enrollment_id: int) -> tuple[Enrollment, Prospect]:
    row = s.execute(
        select(Enrollment, Prospect)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(Enrollment.id == enrollment_id)
    ).one()
    return row[0], row[1]


def outbox_rows(
    s: Session, statuses: Iterable[str], limit: int = 500
) -> list[tuple[Message, Enrollment]]:
    return [
        (m, e)
        for m, e in s.execute(
            select(Message, Enrollment)
            .join(Enrollment, Enrollment.id == Message.enrollment_id)
            .where(Message.status.in_(list(statuses)))
            .order_by(Message.claimed_at, Message.id)
            .limit(limit)
        )
    ]


def count_by_status(s: Session, mailbox: str, statuses: Iterable[str]) -> dict[str, int]:
    return {
        status: n
        for status, n in s.execute(
            select(Message.status, func.count())
            .where(Message.mailbox == mailbox, Message.status.in_(list(statuses)))
            .group_by(Message.status)
        )
    }


def next_due(s: Session, mailbox: str) -> datetime | None:
    return s.scalar(
        select(func.min(Enrollment.next_send_at)).where(
            Enrollment.status == lifecycle.ACTIVE, Enrollment.mailbox == mailbox
        )
    )


def overdue_by_reason(s: Session, mailbox: str, now: datetime) -> dict[str, int]:
    """Active enrollments of a mailbox past their due time, grouped by why they wait."""
    return {
        (reason or "due"): n
        for reason, n in s.execute(
            select(Enrollment.wait_reason, func.count())
            .where(
                Enrollment.status == lifecycle.ACTIVE,
                Enrollment.next_send_at <= now,
                Enrollment.mailbox == mailbox,
            )
            .group_by(Enrollment.wait_reason)
        )
    }


def waiting_by_reason(s: Session, mailbox: str) -> dict[str, int]:
    """Active enrollments pushed back for a reason (window, limit, retry ...), due or not."""
    rows = s.execute(
        select(Enrollment.wait_reason, func.count())
        .where(
            Enrollment.status == lifecycle.ACTIVE,
            Enrollment.mailbox == mailbox,
            Enrollment.wait_reason.is_not(None),
        )
        .group_by(Enrollment.wait_reason)
    )
    out: dict[str, int] = {}
    for reason, n in rows:
        key = "retry" if reason and reason.startswith("retry ") else reason
        out[key] = out.get(key, 0) + n
    return out


__all__ = [
    "Advance",
    "Claim",
    "ClaimResult",
    "Defer",
    "Finish",
    "LEAVE",
    "SendTouch",
    "and_",
    "claim_due",
    "hold",
    "mark_attempting",
    "mark_bounced",
    "mark_failed",
    "mark_failed_temporary",
    "mark_sent",
    "release",
    "stale_sending",
]
