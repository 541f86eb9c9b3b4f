"""Leads coming back (the dashboard's Coming back page), read alone without the whole report.

The figures are the report's ``coming_back`` (``sequencer report``): the same query
(``db.intents.coming_back``) summed by the same function, so the page, the report and
the Leads page's ``coming_back=YYYY-MM`` filter (``db.lead_list``) agree. A month is the
UTC month of the re-engagement's next touch, as in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sequencer.db import intents as q
from sequencer.db.reports import ReportFilter
from sequencer.db.session import Database
from sequencer.reporting.model import ComingBack
from sequencer.reporting.report import _coming_back as by_month


@dataclass
class ComingBackView:
    """Every month with leads coming back, and the totals."""

    months: list[ComingBack] = field(default_factory=list)

    @property
    def leads(self) -> int:
        return sum(m.leads for m in self.months)

    @property
    def value(self) -> float:
        return round(sum(m.value for m in self.months), 2)


def coming_back(db: Database, *, sequence: str | None = None, owner: str | None = None,
                since: datetime | None = None) -> ComingBackView:
    """The report's coming-back months for the same filters (``since``: the enrolled cohort)."""
    with db.read_session() as s:
        rows = q.coming_back(s, ReportFilter(sequence=sequence, owner=owner, since=since))
    return ComingBackView(by_month(rows))


__all__ = ["ComingBackView", "coming_back"]
