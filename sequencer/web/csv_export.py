"""Every dashboard table as CSV: what the manager sees, in a spreadsheet, safely.

Figure tables use exactly ``sequencer report --format csv``'s columns; lead lists the
report's ``Lead`` fields. Text that came by mail stays text: a cell opening with a
formula character is quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from sequencer.config import Config
from sequencer.errors import NotFound
from sequencer.reporting import dashboard as reads
from sequencer.reporting.dashboard import Database, HeldTouch, MailboxStatus
from sequencer.reporting.model import Lead, OverdueTask, RottingLead, StageFigures
from sequencer.web.filters import Filters, report_for
from sequencer.web.pages import held_touches

FIGURE_SCOPES = {
    "figures": None,
    "totals": "total",
    "sequences": "sequence",
    "reps": "rep",
    "sequence_reps": "sequence_rep",
}
LEAD_TABLES = ("unanswered", "stalled", "safety")
CSV_TABLES = (
    *FIGURE_SCOPES,
    *LEAD_TABLES,
    "tasks",
    "pipeline",
    "aging",
    "variants",
    "rotting",
    "stages",
    "overdue",
    "held",
    "mailboxes",
)


def fields_of(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


LEAD_COLUMNS = fields_of(Lead)


def csv_table(db: Database, config: Config, now: datetime, f: Filters, table: str) -> str:
    """One dashboard table as CSV (reads only)."""
    if table not in CSV_TABLES:
        raise NotFound(f"no table {table!r} (known: {', '.join(CSV_TABLES)})")
    if table == "held":
        return _csv(fields_of(HeldTouch), (asdict(h) for h in held_touches(db, f)))
    if table == "mailboxes":
        return _csv(fields_of(MailboxStatus), (asdict(m) for m in reads.mailbox_statuses(db, config)))
    r = report_for(db, config, now, f)
    if table in FIGURE_SCOPES:
        scope = FIGURE_SCOPES[table]
        rows = r.to_csv_rows()
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(
            [rows[0], *(row for row in rows[1:] if scope is None or row[0] == scope)]
        )
        return out.getvalue()
    if table in LEAD_TABLES:
        leads = {
            "unanswered": r.replies.unanswered_replies,
            "stalled": r.aging.stalled_leads,
            "safety": r.safety.items,
        }[table]
        return _csv(LEAD_COLUMNS, (asdict(lead) for lead in leads))
    if table == "tasks":
        return _csv(fields_of(OverdueTask), (asdict(t) for t in r.tasks.overdue_items))
    if table == "pipeline":
        return _csv(("state", "label", "prospects", "value"), (asdict(p) for p in r.pipeline))
    if table == "aging":
        return _csv(("label", "count"), (asdict(b) for b in r.aging.since_last_touch))
    if table == "rotting":
        return _csv(fields_of(RottingLead), (asdict(x) for x in r.rotting_leads))
    if table == "stages":
        return _csv(fields_of(StageFigures), (asdict(x) for x in r.stages))
    if table == "overdue":
        return _csv(("reason", "overdue", "stalled"), (asdict(o) for o in r.aging.overdue_by_reason))
    return _csv(
        ("sequence_id", "step", "variant", "sent", "replies", "reply_rate"),
        (asdict(v) for v in r.variants),
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value)
    # A cell opening with = + - @ is a formula in spreadsheets; mail-borne text must stay text.
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return value


def _csv(columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> str:
    cols = list(columns)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(cols)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in cols])
    return out.getvalue()
