"""For ``show EMAIL``: what each enrollment's next touch waits for (``core.waiting``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.core.waiting import waits_for
from sequencer.db import mailbox_state
from sequencer.db.session import Database
from sequencer.db.unit import reading
from sequencer.people.timeline import EnrollmentRow


def next_touch_waits(
    target: Session | Database, rows: Iterable[EnrollmentRow], *, now: datetime
) -> dict[int, str]:
    """enrollment id -> one sentence, reading the mailboxes' pauses once."""
    with reading(target) as s:
        states = mailbox_state.mailbox_states(s)
    out: dict[int, str] = {}
    for r in rows:
        st = states.get(r.mailbox)
        in_force = mailbox_state.pause_in_force(st, now)
        out[r.enrollment_id] = waits_for(
            status=r.status,
            status_reason=r.status_reason,
            next_send_at=r.next_send_at,
            wait_reason=r.wait_reason,
            paused_until=r.paused_until,
            mailbox=r.mailbox,
            mailbox_paused=st.paused_reason if st is not None and in_force else None,
            mailbox_paused_until=st.paused_until if st is not None and in_force else None,
            now=now,
        )
    return out


__all__ = ["next_touch_waits"]
