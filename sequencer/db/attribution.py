"""Named queries that find which enrollment an inbound message is about, and act on it.

Attribution (``inbound/attribution.py``) and the effects (``inbound/effects.py``,
``inbound/filing.py``) read and write enrollments only through these. None of them
commit: they run inside the apply phase's savepoint, one message at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Event, Message, Prospect


def touches_by_message_ids(s: Session, message_ids: Sequence[str]) -> dict[str, Message]:
    ids = [m for m in message_ids if m]
    if not ids:
        return {}
    return {m.message_id: m for m in s.scalars(select(Message).where(Message.message_id.in_(ids)))}


PREFETCH_CHUNK = 500  # ids per IN list (well under every backend's bound-parameter limit)


def prefetch_touches(
    s: Session, message_ids: Iterable[str]
) -> tuple[dict[str, Message], list[Enrollment]]:
    """For many messages at once: which of ``message_ids`` are our touches (by Message-ID),
    and the touches' enrollments, each with its prospect, so the effects that follow read
    both from the session instead of one query each (``touches_by_message_ids``, then
    ``enrollment`` and ``prospect`` per message).
    """
    ids = sorted({m for m in message_ids if m})
    touches: dict[str, Message] = {}
    for i in range(0, len(ids), PREFETCH_CHUNK):
        part = ids[i : i + PREFETCH_CHUNK]
        touches.update(
            (m.message_id, m) for m in s.scalars(select(Message).where(Message.message_id.in_(part)))
        )
    wanted = sorted({m.enrollment_id for m in touches.values()})
    owners: list[Enrollment] = []
    for i in range(0, len(wanted), PREFETCH_CHUNK):
        owners += s.scalars(
            select(Enrollment)
            .options(joinedload(Enrollment.prospect))
            .where(Enrollment.id.in_(wanted[i : i + PREFETCH_CHUNK]))
        )
    return touches, owners


ThreadKeys = tuple[int, str, int, str | None, str | None]
"""(enrollment id, mailbox, prospect id, thread_root_id, last_message_id)"""


def prefetch_threads(s: Session, message_ids: Iterable[str]) -> list[ThreadKeys]:
    """The thread keys of every enrollment (any mailbox) whose thread started with (or last
    continued from) one of ``message_ids``, in id order: ``enrollments_by_thread_ids`` and
    the thread half of ``touch_ids_sent_to_prospect`` for many messages at once. Plain
    columns: most of the time no enrollment object is needed at all."""
    ids = sorted({m for m in message_ids if m})
    e = Enrollment
    found: dict[int, ThreadKeys] = {}
    for i in range(0, len(ids), PREFETCH_CHUNK):
        part = ids[i : i + PREFETCH_CHUNK]
        for row in s.execute(
            select(e.id, e.mailbox, e.prospect_id, e.thread_root_id, e.last_message_id).where(
                or_(e.thread_root_id.in_(part), e.last_message_id.in_(part))
            )
        ):
            found[row[0]] = tuple(row)  # type: ignore[assignment]
    return [found[k] for k in sorted(found)]


def last_enrollment_id(s: Session) -> int:
    """The newest enrollment's id (0 if none): whether an effect added enrollments."""
    return int(s.scalar(select(func.max(Enrollment.id))) or 0)


def enrollments_by_thread_ids(
    s: Session, mailbox: str, message_ids: Sequence[str]
) -> dict[str, Enrollment]:
    """Enrollments whose thread started with (or last continued from) one of these ids.

    Catches replies to a filed email (touch 0), which is not one of our Message rows.
    """
    ids = [m for m in message_ids if m]
    if not ids:
        return {}
    out: dict[str, Enrollment] = {}
    rows = s.scalars(
        select(Enrollment).where(
            Enrollment.mailbox == mailbox,
            or_(Enrollment.thread_root_id.in_(ids), Enrollment.last_message_id.in_(ids)),
        )
    )
    for e in rows:
        for key in (e.thread_root_id, e.last_message_id):
            if key in ids:
                out.setdefault(key, e)
    return out


def enrollment(s: Session, enrollment_id: int) -> Enrollment | None:
    return s.get(Enrollment, enrollment_id)


def enrollment_by_token(s: Session, token: str) -> Enrollment | None:
    return s.scalars(select(Enrollment).where(Enrollment.token == token)).first()


def prospect(s: Session, prospect_id: int) -> Prospect | None:
    return s.get(Prospect, prospect_id)


def recent_enrollments_of_address(
    s: Session, email: str, *, mailbox: str, finished_since: datetime
) -> list[Enrollment]:
    """The address's open enrollments in this mailbox, then recently finished ones; newest first."""
    return list(
        s.scalars(
            select(Enrollment)
            .join(Prospect, Prospect.id == Enrollment.prospect_id)
            .where(
                Prospect.email == email.lower(),
                Enrollment.mailbox == mailbox,
                or_(
                    Enrollment.status.in_(lifecycle.OPEN_STATES),
                    Enrollment.finished_at >= finished_since,
                ),
            )
            .order_by(Enrollment.status.in_(lifecycle.OPEN_STATES).desc(), Enrollment.id.desc())
        )
    )


def open_enrollments_of_prospect(s: Session, prospect_id: int) -> list[Enrollment]:
    return list(
        s.scalars(
            select(Enrollment)
            .where(
                Enrollment.prospect_id == prospect_id, Enrollment.status.in_(lifecycle.OPEN_STATES)
            )
            .order_by(Enrollment.id)
        )
    )


def enrollment_with_thread_root(s: Session, mailbox: str, message_id: str) -> list[Enrollment]:
    return list(
        s.scalars(
            select(Enrollment).where(
                Enrollment.mailbox == mailbox, Enrollment.thread_root_id == message_id
            )
        )
    )


def count_events(s: Session, enrollment_id: int, kind: str, *, step: int | None = None) -> int:
    stmt = select(func.count(Event.id)).where(
        Event.enrollment_id == enrollment_id, Event.kind == kind
    )
    if step is not None:
        stmt = stmt.where(Event.step == step)
    return int(s.scalar(stmt) or 0)


def update_enrollment(s: Session, enrollment_id: int, **values: Any) -> None:
    """Plain field updates that are not state changes (thread ids, next_send_at, answered_at)."""
    s.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


__all__ = [
    "count_events",
    "enrollment",
    "enrollment_by_token",
    "enrollment_with_thread_root",
    "enrollments_by_thread_ids",
    "last_enrollment_id",
    "open_enrollments_of_prospect",
    "ThreadKeys",
    "prefetch_threads",
    "prefetch_touches",
    "prospect",
    "recent_enrollments_of_address",
    "touches_by_message_ids",
    "update_enrollment",
]
