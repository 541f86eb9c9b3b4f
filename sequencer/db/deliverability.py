"""Counts behind the report's deliverability figures: spam complaints and stops awaiting review.

A complaint is recorded once, as a ``complaint`` event on the enrollment the report was
about (``inbound/complaints.py``), so counting those events counts complaints under the
report's filters. Untrusted bounces and complaints (``inbound/trust.py``) acted on nobody;
they are counted per mailbox from the stored verdicts. Read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sequencer.db.models import Event, InboundMessage
from sequencer.db.reports import E, ReportFilter, count_if, instant


def complaint_counts(
    s: Session, f: ReportFilter, *, window: tuple[datetime, datetime]
) -> tuple[int, int]:
    """(all time, in ``window``) complaint events on the enrollments ``f`` selects."""
    in_window = count_if(and_(Event.at >= instant(window[0]), Event.at < instant(window[1])))
    stmt = select(func.count(), in_window).where(Event.kind == "complaint")
    if f != ReportFilter():
        stmt = stmt.join(E, E.id == Event.enrollment_id).where(*f.clauses(include_unenrolled=True))
    total, recent = s.execute(stmt).one()
    return int(total or 0), int(recent or 0)


def awaiting_review(s: Session, mailboxes: Sequence[str] | None = None) -> int:
    """Untrusted bounces and complaints nobody has confirmed or rejected yet."""
    stmt = select(func.count(InboundMessage.id)).where(InboundMessage.trust == "untrusted")
    if mailboxes is not None:
        stmt = stmt.where(InboundMessage.mailbox.in_(list(mailboxes)))
    return int(s.scalar(stmt) or 0)


__all__ = ["awaiting_review", "complaint_counts"]
