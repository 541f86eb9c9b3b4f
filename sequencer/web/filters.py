"""The dashboard's filters: rep, sequence and date range, read from the URL and written back.

A view is a URL, so a manager can bookmark it; the same filters select the same
enrollments as ``sequencer report --sequence/--owner/--since``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sequencer.config import Config
from sequencer.errors import UserError
from sequencer.reporting.dashboard import Database
from sequencer.reporting.report import Report, build_report

MAX_FILTER_LEN = 100
MAX_PARAM_LEN = 1000  # notice (an action's message) and next (a path on this site)
MAX_PARAMS = 20
# Days outside this range are no sales history; beyond year 9999 they overflow (was a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2200, 12, 31)


@dataclass(frozen=True)
class Filters:
    """Rep, sequence and date range, from (and back into) the URL so a view can be bookmarked.

    ``since`` selects enrollments enrolled on or after that day (the report's cohort)
    and starts the activity window; ``until`` ends the activity window (exclusive of
    the following day). Days are UTC days, as for ``sequencer report --since``.
    """

    rep: str | None = None
    sequence: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        """The filters in a query string; every query parameter of every route is checked here.

        Raises UserError (a 400 page with the message) for an over-long value, too many
        parameters, a malformed date or one outside 1900-2200.
        """
        keys = list(params.keys())
        if len(keys) > MAX_PARAMS:
            raise UserError(f"the address has more than {MAX_PARAMS} parameters")
        for key in keys:
            if len(key) > MAX_FILTER_LEN or len(params.get(key) or "") > MAX_PARAM_LEN:
                raise UserError(f"parameter {key[:MAX_FILTER_LEN]} is longer than {MAX_PARAM_LEN} characters")

        def text(key: str) -> str | None:
            value = (params.get(key) or "").strip()
            if len(value) > MAX_FILTER_LEN:
                raise UserError(f"filter {key} is longer than {MAX_FILTER_LEN} characters")
            return value or None

        def day(key: str) -> date | None:
            value = text(key)
            if value is None:
                return None
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise UserError(f"filter {key}={value!r} is not a date like 2026-03-02") from None
            if not FIRST_DAY <= day <= LAST_DAY:
                raise UserError(f"filter {key}={value} must be a day between 1900 and 2200")
            return day

        f = cls(rep=text("rep"), sequence=text("sequence"), since=day("since"), until=day("until"))
        if f.since and f.until and f.until < f.since:
            raise UserError("filter until is before since")
        return f

    def query(self, **override: Any) -> str:
        """``?rep=...&sequence=...`` for links; empty when no filter is set."""
        values = {**asdict(self), **override}
        pairs = [(k, str(v)) for k, v in values.items() if v not in (None, "")]
        return "?" + urlencode(pairs) if pairs else ""

    @property
    def active(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def instants(self, now: datetime) -> tuple[datetime | None, tuple[datetime, datetime] | None]:
        """(cohort start, activity window) as UTC instants, for ``build_report``.

        Days start at midnight UTC, as ``sequencer report --since DATE`` reads them, so a
        bookmarked view and the command line select the same enrollments.
        """
        since = datetime.combine(self.since, time(0), UTC) if self.since else None
        if self.until is None:
            return since, None
        end = datetime.combine(self.until + timedelta(days=1), time(0), UTC)
        end = min(end, now)
        start = since or end - timedelta(days=1)
        return since, (start, max(start, end))


def report_for(db: Database, config: Config, now: datetime, f: Filters) -> Report:
    """The report the pages show: exactly ``sequencer report`` with the same filters (reads only)."""
    since, window = f.instants(now)
    return build_report(db, config, now=now, sequence=f.sequence, owner=f.rep, since=since, window=window)
