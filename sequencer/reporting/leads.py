"""The Leads page's reads: prospects searched, filtered, sorted and paged; what a bulk action names.

The filters mean what the figures that link here mean: ``stage`` and ``rotting`` are the
report's stage figures (``reporting.rotting_days``), ``waiting`` is the home page's
"replies waiting for an answer", ``rep`` the prospect's owner. Reads only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from sequencer.config import Config
from sequencer.db import lead_list as q
from sequencer.db.lead_list import SORTS, LeadQuery, LeadRow
from sequencer.db.session import Database

PER_PAGE = 50
MAX_CSV_ROWS = 10_000
CSV_COLUMNS = (
    "email", "name", "company", "owner", "stage", "stage_since", "deal_value", "sequence_id", "status",
    "steps_done", "last_touch_at", "next_send_at", "replied_at", "answered_at",
)


@dataclass
class LeadsResult:
    query: LeadQuery
    rows: list[LeadRow]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def find(db: Database, config: Config, query: LeadQuery, *, now: datetime) -> LeadsResult:
    with db.read_session() as s:
        rows, total = q.find_leads(s, query, now=now, thresholds=config.reporting.rotting_days)
    return LeadsResult(query, rows, total)


def rows_csv(rows: list[LeadRow]) -> str:
    """The rows shown, as CSV (mail-borne text that looks like a formula is quoted)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([_cell(getattr(r, c)) for c in CSV_COLUMNS])
    return out.getvalue()


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


@dataclass(frozen=True)
class Named:
    enrollment_id: int
    email: str
    sequence_id: str
    status: str
    owner: str | None


def named(db: Database, enrollment_ids: list[int]) -> list[Named]:
    with db.read_session() as s:
        return [Named(*row) for row in q.leads_by_enrollment(s, enrollment_ids)]


__all__ = ["CSV_COLUMNS", "MAX_CSV_ROWS", "PER_PAGE", "SORTS", "LeadQuery", "LeadRow", "LeadsResult",
           "Named", "find", "named", "rows_csv"]
