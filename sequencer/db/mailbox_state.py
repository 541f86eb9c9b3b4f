"""Named queries of a mailbox's shared sending state: pause, pacing, poll marks, counts.

One ``mailbox_state`` row per mailbox is what every worker agrees on: whether it is
paused, when it may send next (``next_send_allowed_at``), and up to when its inbox was
polled (follow-ups due before that are safe from the reply race; the poller writes it
through ``sequencer.db.inbound.record_poll``, the one watermark). The counts here are
what the daily limit, ``per_minute`` and ``sequencer status`` read. Nothing here
commits: the caller's session does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Event, MailboxState, Message
from sequencer.db.outbox import IN_FLIGHT


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


def pause_mailbox(
    s: Session,
    name: str,
    *,
    reason: str,
    now: datetime,
    kind: str | None = None,
    until: datetime | None = None,
    config_print: str | None = None,
) -> bool:
    """Pause the mailbox; returns True when this call started the pause.

    ``until``: when the engine tries it again by itself (a back-off, the provider's
    window); None: paused until the operator resumes it. A failed try counts in
    ``pause_failures`` (the back-off grows) until a send goes through. ``paused_at``
    stays the moment the pause began across the back-off's retries (the pause notice
    is keyed on it: one notice per pause, not per retry); only a send that goes
    through or the operator's resume ends the pause.
    """
    state = lock_mailbox_state(s, name)
    first = state.paused_at is None
    s.execute(
        update(MailboxState)
        .where(MailboxState.name == name)
        .values(
            paused_reason=reason,
            paused_at=now if first else MailboxState.paused_at,
            pause_kind=kind,
            paused_until=until,
            pause_failures=MailboxState.pause_failures + 1,
            paused_config=config_print,
        )
    )
    s.add(
        Event(
            at=now,
            kind="mailbox_paused",
            actor="sender",
            reason=reason,
            data={"mailbox": name, "kind": kind, "until": until.isoformat() if until else None},
        )
    )
    return first


def pause_in_force(state: MailboxState | None, now: datetime) -> bool:
    """Paused now: a pause without an end, or whose back-off/window has not run out."""
    if state is None or not state.paused_reason:
        return False
    return state.paused_until is None or now < state.paused_until


def try_again(s: Session, name: str, *, now: datetime, force: bool = False) -> None:
    """A pause whose back-off ran out: the mailbox is tried again (a failure re-pauses it
    for longer; a send that goes through ends the pause for good). ``force``: tried now
    whatever the back-off (the operator changed the mailbox's SMTP settings)."""
    cond = [MailboxState.name == name]
    if not force:
        cond += [MailboxState.paused_until.is_not(None), MailboxState.paused_until <= now]
    s.execute(update(MailboxState).where(*cond).values(paused_reason=None, paused_until=None))
    s.add(
        Event(
            at=now,
            kind="mailbox_retry",
            actor="sender",
            reason="SMTP settings changed" if force else None,
            data={"mailbox": name},
        )
    )


def sent_through(s: Session, name: str, *, now: datetime) -> None:
    """A send went through: a mailbox that had failed tries is healthy again."""
    result = s.execute(
        update(MailboxState)
        .where(MailboxState.name == name, MailboxState.pause_failures > 0)
        .values(pause_failures=0, pause_kind=None, paused_at=None, paused_config=None)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        s.add(
            Event(
                at=now, kind="mailbox_resumed", actor="sender", reason=None, data={"mailbox": name}
            )
        )


def unpause_mailbox(s: Session, name: str, *, now: datetime, actor: str) -> bool:
    result = s.execute(
        update(MailboxState)
        .where(MailboxState.name == name, MailboxState.paused_reason.is_not(None))
        .values(
            paused_reason=None,
            paused_at=None,
            paused_until=None,
            pause_kind=None,
            pause_failures=0,
            paused_config=None,
            # The deliverability guard counts afresh from the resume: the operator has
            # seen the figure; the same bounces must not pause the mailbox again.
            guard_since=now,
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        s.add(
            Event(at=now, kind="mailbox_resumed", actor=actor, reason=None, data={"mailbox": name})
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def due_now(s: Session, mailbox: str, now: datetime) -> int:
    """Active enrollments of the mailbox due now (what a paused mailbox did not attempt)."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(
                Enrollment.status == lifecycle.ACTIVE,
                Enrollment.mailbox == mailbox,
                Enrollment.next_send_at <= now,
            )
        )
        or 0
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


# --- status ---------------------------------------------------------------------------


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
