"""The engine's hot path: touches marked ``sending``, then recorded ``sent`` a group at a time.

``mark_attempting`` is the hand-off to SMTP and ``mark_sent_many`` the one way a touch
becomes sent (the engine after the server's 250, crash recovery after finding it in
Sent, ``outbox resolve ID sent``): the enrollment moves on the same way whoever saw it
leave. Their statements are built once, at import, and only bound per group. Neither
commits: the caller's session does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, or_, select, tuple_, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.core.advance import Advance
from sequencer.db import stages
from sequencer.db.models import Enrollment, Event, Message
from sequencer.db.outbox import IN_FLIGHT, QUEUED, SENDING, SENT, Claim


def _bind(name: str, type_: Any = None, *, expanding: bool = False) -> Any:
    return bindparam(name, type_=type_, expanding=expanding)


LEASE_LOST = "lease lost"


def mark_attempting(
    s: Session, claims: Sequence[Claim], *, worker: str, now: datetime
) -> tuple[set[int], dict[int, str]]:
    """The fenced hand-off: queued -> sending for this worker's rows only, in one statement.

    A row moves only while it is still ``queued`` by ``worker``, and its enrollment is
    still active and leased by ``worker`` with the claim's ``attempt`` (the fencing
    token) and an unexpired lease. Returns the ids that moved (only those may be handed
    to SMTP) and, for every other claim, why not: the enrollment's state (``replied``,
    ``stopped`` ...) or ``lease lost``. The caller commits right away.
    """
    if not claims:
        return set(), {}
    m, e = Message.__table__, Enrollment.__table__
    fenced = (
        select(e.c.id)
        .where(
            tuple_(e.c.id, e.c.lease_attempt).in_([(c.enrollment_id, c.attempt) for c in claims]),
            e.c.status == lifecycle.ACTIVE,
            e.c.lease_owner == worker,
            e.c.lease_expires_at > now,
        )
        .scalar_subquery()
    )
    started = set(
        s.connection().scalars(
            update(m)
            .where(
                m.c.id.in_([c.id for c in claims]),
                m.c.status == QUEUED,
                m.c.worker == worker,
                m.c.enrollment_id.in_(fenced),
            )
            .values(status=SENDING)
            .returning(m.c.id)
        )
    )
    rest = [c for c in claims if c.id not in started]
    return started, why_not_ours(s, rest, worker=worker)


def why_not_ours(s: Session, claims: Sequence[Claim], *, worker: str) -> dict[int, str]:
    """For claims this worker may not (or no longer) send: the reason per message id."""
    if not claims:
        return {}
    e = Enrollment.__table__
    states = {
        row.id: row
        for row in s.connection().execute(
            select(e.c.id, e.c.status, e.c.lease_owner, e.c.lease_attempt).where(
                e.c.id.in_([c.enrollment_id for c in claims])
            )
        )
    }
    out: dict[int, str] = {}
    for c in claims:
        row = states.get(c.enrollment_id)
        if row is not None and row.status != lifecycle.ACTIVE:
            out[c.id] = row.status
        else:
            out[c.id] = LEASE_LOST
    return out


def still_ours(s: Session, claims: Sequence[Claim], *, worker: str) -> dict[int, str]:
    """Right before MAIL FROM, for a group at once: why each claim may no longer be sent.

    Returns only the claims this worker must not send (absent: still ours). The hand-off
    checked the same at its commit; this closes the window while a slow server greets (a
    reply applied by the poller meanwhile, a lease taken over). One statement per group,
    not per touch: the engine's send rate depends on it.
    """
    if not claims:
        return {}
    m, e = Message.__table__, Enrollment.__table__
    rows = {
        row[0]: row[1:]
        for row in s.connection().execute(
            select(m.c.id, m.c.status, m.c.worker, e.c.status, e.c.lease_owner, e.c.lease_attempt)
            .join(e, e.c.id == m.c.enrollment_id)
            .where(m.c.id.in_([c.id for c in claims]))
        )
    }
    out: dict[int, str] = {}
    for c in claims:
        row = rows.get(c.id)
        if row is None:
            out[c.id] = LEASE_LOST
            continue
        m_status, m_worker, e_status, owner, attempt = row
        if e_status != lifecycle.ACTIVE:
            out[c.id] = str(e_status)
        elif m_status != SENDING or m_worker != worker or owner != worker or attempt != c.attempt:
            out[c.id] = LEASE_LOST
    return out


# --- recording outcomes ---------------------------------------------------------------


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
    s: Session,
    touches: Sequence[SentTouch],
    *,
    now: datetime,
    mailbox: str,
    actor: str,
    moved: list[int] | None = None,
) -> int:
    """``mark_sent`` for a group in a few executemany statements (the engine's hot path).

    Same guards: a message row moves only from queued/sending/held; the enrollment only
    from steps_done == step - 1, and its next_send_at only while it is still active (a
    reply recorded meanwhile keeps its state). Returns how many rows became sent (their
    ids are added to ``moved`` when given). The
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
    if moved is not None:  # the caller's list of message ids that became sent here
        moved.extend(t.message_pk for t in todo)
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
    stages.advance_many(s, [t.prospect_id for t in todo], stages.CONTACTED, actor=actor, now=now)
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
    m, e = Message.__table__, Enrollment.__table__
    in_flight = m.c.status.in_(IN_FLIGHT)
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
    return open_messages, sent, advanced, completed, Event.__table__.insert()


_COMPLETED_REASON = "every step sent, no reply"
(
    _OPEN_MESSAGES,
    _MESSAGES_SENT,
    _ENROLLMENTS_ADVANCED,
    _COMPLETED,
    _EVENT_INSERT,
) = _hot_statements()
