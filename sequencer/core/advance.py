"""How an enrollment moves on once its touch is known to have left.

A value of the core: the send path computes it (``outbound.touch.advance_after``) and
the database records it (``db.outbox_sent.mark_sent_many``), so the same step,
thread headers and next due time result whether the engine saw the server's 250 or
recovery / the operator confirmed the send later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Advance:
    """The enrollment after touch ``step`` was sent."""

    step: int
    next_send_at: datetime | None  # None: that was the last step -> completed
    thread_subject: str | None
    thread_root_id: str | None
    last_message_id: str
    thread_refs: list[str]


__all__ = ["Advance"]
