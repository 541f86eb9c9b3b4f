"""Named queries of the outbox: claiming due touches and reading Message rows.

Exactly-once rests on three things held by the database, not by luck:

* ``claim_due`` picks due enrollments, inserts their Message rows (status ``queued``,
  Message-ID fixed) and leases the enrollments in ONE transaction the caller commits
  before any SMTP. UNIQUE(enrollment, step) makes a second row for the same touch
  impossible, and an enrollment with a queued/sending/held row is never picked again.
* ``mark_attempting`` moves rows to ``sending`` (committed) just before the SMTP
  transaction starts, so after a crash a ``queued`` row is known never to have left
  (released and retried) while a ``sending`` row may have (reconciled against the
  Sent folder, else ``held`` for the operator). It is fenced: one statement moves only
  rows still this worker's (``lease_owner`` + ``lease_attempt``, the token each claim
  bumps) of enrollments still active, and returns their ids; only those are sent.
* Every later transition is guarded in its WHERE clause on the row's current status.

Message statuses: queued -> sending -> sent | deferred (retry later, same Message-ID)
| failed (never) | held (maybe sent; operator resolves). Row locks: PostgreSQL uses
``FOR UPDATE SKIP LOCKED`` so workers share the work; SQLite runs the same statements
inside one ``BEGIN IMMEDIATE`` write transaction (see db/session.py), which serialises
claims across processes. The later transitions live in ``sequencer.db.outbox_sent`` (sending,
sent) and ``sequencer.db.outbox_record`` (deferred, bounced, failed, held),
the per-mailbox pacing row in ``sequencer.db.mailbox_state``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.core.addresses import domain_of
from sequencer.db import store
from sequencer.db.models import Enrollment, Message, Prospect, Suppression

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
    retries: int = 0  # the enrollment's retries of this step so far (``core.outcome``)
    # The fencing token is (worker, attempt): the enrollment's lease_attempt this claim set.
    attempt: int = 0
    leased_mono: float = 0.0  # the claim's monotonic time: the lease is lost past it + lease


@dataclass
class ClaimResult:
    claims: list[Claim] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)  # reason -> count
    finished: dict[str, int] = field(default_factory=dict)  # state -> count
    scanned: int = 0


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
    its enrollment is stopped here, in the claim transaction, right before any send.
    The caller commits the session before sending anything.
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
            .where(Enrollment.__table__.c.id == bindparam("b_id"))
            .values(next_send_at=bindparam("next_send_at"), wait_reason=bindparam("wait_reason")),
            deferrals,
        )
    if leased:
        s.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(leased))
            .values(
                lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                lease_attempt=Enrollment.lease_attempt + 1,
            )
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
                retries=enrollment.retry_count,
                attempt=(enrollment.lease_attempt or 0) + 1,
            )
        )
    return result


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


__all__ = [
    "Claim",
    "ClaimResult",
    "Decision",
    "Defer",
    "Finish",
    "LEAVE",
    "SendTouch",
    "claim_due",
    "enrollment_with_prospect",
    "flag_awaiting_poll",
    "message",
    "outbox_rows",
]
