"""The report's deliverability figures: spam complaints, and bounces/complaints held for review.

Complaints are a warning about the sending mailbox (each one also stopped and suppressed
its complainant); the held ones are stops the trust rule refused to act on until a person
runs ``sequencer inbound confirm|reject`` (listed by ``sequencer inbound list --untrusted``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.config import Config
from sequencer.db import deliverability as q
from sequencer.db.reports import ReportFilter
from sequencer.reporting.model import Deliverability


def deliverability(
    s: Session, config: Config, f: ReportFilter, *, window: tuple[datetime, datetime]
) -> Deliverability:
    total, recent = q.complaint_counts(s, f, window=window)
    mailboxes = (
        [m.name for m in config.mailboxes if f.owner in (m.rep, m.name)] if f.owner else None
    )
    return Deliverability(total, recent, q.awaiting_review(s, mailboxes))


__all__ = ["deliverability"]
