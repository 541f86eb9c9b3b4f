"""What each dashboard page shows, gathered from the services the CLI uses.

Every figure comes from ``sequencer.reporting.report.build_report`` (the same function behind
``sequencer report``), a lead's history from ``sequencer.people.timeline.timeline``, and the
outbox and mailbox status from the named queries of ``sequencer.db.outbox`` and
``sequencer.db.mailbox_state``; this
module only picks, filters and arranges them for a page. Functions are synchronous
(the app runs them in a worker thread) and take ``now`` from the app's clock.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.db import reports as report_queries
from sequencer.db.session import Database
from sequencer.errors import NotFound, SequenceError, UserError
from sequencer.people import timeline as timelines
from sequencer.reporting.report import CSV_COLUMNS, Figures, Lead, OverdueTask, Report, build_report
from sequencer.web import charts

log = logging.getLogger(__name__)
T = TypeVar("T")
HELD = "held"
MAX_FILTER_LEN = 100


# ---------------------------------------------------------------- filters


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
                return date.fromisoformat(value)
            except ValueError:
                raise UserError(f"filter {key}={value!r} is not a date like 2026-03-02") from None

        f = cls(rep=text("rep"), sequence=text("sequence"), since=day("since"), until=day("until"))
        if f.since and f.until and f.until < f.since:
            raise UserError("filter until is before since")
        return f

    def query(self, **override: Any) -> str:
        """``?rep=...&sequence=...`` for links; empty when no filter is set."""
        values = {**{k: v for k, v in asdict(self).items()}, **override}
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
    """The report the pages show: exactly ``sequencer report`` with the same filters."""
    since, window = f.instants(now)
    return build_report(
        db, config, now=now, sequence=f.sequence, owner=f.rep, since=since, window=window
    )


class PageCache:
    """Recent page data per (page, filters), so many polling browsers cost one report every few seconds.

    Data younger than ``max_age`` seconds is served as is; older data is still served
    while one background thread builds its successor (stale-while-revalidate), so only
    the first request for a view waits for ``build_report``. Pages say when their
    figures were computed (``Report.generated_at``). ``max_age`` 0 turns caching off.
    Manager actions call ``clear()`` so their effect shows on the next request.
    """

    def __init__(self, max_age: float, max_entries: int = 128) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._guard = threading.Lock()
        self._generation = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        if self.max_age <= 0:
            return build()
        with self._guard:
            entry = self._entries.get(key)
            lock = self._locks.setdefault(key, threading.Lock())
            if entry and monotonic() - entry[0] >= self.max_age and key not in self._refreshing:
                self._refreshing.add(key)
                threading.Thread(
                    target=self._refresh, args=(key, build, self._generation), daemon=True
                ).start()
        if entry:
            return entry[1]  # type: ignore[no-any-return]
        with lock:  # the first request for a view builds it once; the others wait for it
            with self._guard:
                entry = self._entries.get(key)
                generation = self._generation
            if entry:
                return entry[1]  # type: ignore[no-any-return]
            value = build()
            self._store(key, value, generation)
            return value

    def _refresh(self, key: Hashable, build: Callable[[], Any], generation: int) -> None:
        try:
            self._store(key, build(), generation)
        except Exception:  # the older data stays; the next request tries again
            log.exception("refreshing dashboard data failed")
        finally:
            with self._guard:
                self._refreshing.discard(key)

    def _store(self, key: Hashable, value: Any, generation: int) -> None:
        with self._guard:
            if generation != self._generation:
                return  # cleared meanwhile: this data may predate a manager's action
            if len(self._entries) >= self.max_entries and key not in self._entries:
                del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
            self._entries[key] = (monotonic(), value)

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._generation += 1


# ---------------------------------------------------------------- mailboxes and outbox


@dataclass(frozen=True)
class MailboxStatus:
    name: str
    address: str | None
    paused_reason: str | None
    paused_at: datetime | None
    last_poll_at: datetime | None
    last_poll_error: str | None


@dataclass(frozen=True)
class HeldTouch:
    """A touch that may or may not have gone out: held for the operator, never re-sent blindly."""

    message_pk: int
    enrollment_id: int
    email: str
    owner: str | None
    sequence_id: str
    step: int
    mailbox: str
    subject: str
    claimed_at: datetime
    error: str | None


def mailbox_statuses(db: Database, config: Config) -> list[MailboxStatus]:
    """Every configured mailbox (and any the database knows of), with pause and poll times."""
    from sequencer.db import mailbox_state

    with db.read_session() as s:
        states = mailbox_state.mailbox_states(s)
    names = [m.name for m in config.mailboxes] + sorted(
        set(states) - {m.name for m in config.mailboxes}
    )
    address = {m.name: m.address for m in config.mailboxes}
    out = []
    for name in names:
        st = states.get(name)
        out.append(
            MailboxStatus(
                name=name,
                address=address.get(name),
                paused_reason=st.paused_reason if st else None,
                paused_at=st.paused_at if st else None,
                last_poll_at=st.last_poll_at if st else None,
                last_poll_error=st.last_poll_error if st else None,
            )
        )
    return out


def held_touches(db: Database, f: Filters, limit: int = 200) -> list[HeldTouch]:
    from sequencer.db import outbox

    with db.read_session() as s:
        rows = outbox.outbox_rows(s, [HELD], limit=limit)
    return [
        HeldTouch(
            m.id,
            e.id,
            m.to_addr,
            e.owner,
            e.sequence_id,
            m.step,
            m.mailbox,
            m.subject,
            m.claimed_at,
            m.error,
        )
        for m, e in rows
        if (f.rep is None or e.owner == f.rep)
        and (f.sequence is None or e.sequence_id == f.sequence)
    ]


# ---------------------------------------------------------------- pages


@dataclass
class HomePage:
    report: Report
    held: list[HeldTouch]
    mailboxes: list[MailboxStatus]

    @property
    def paused_mailboxes(self) -> list[MailboxStatus]:
        return [m for m in self.mailboxes if m.paused_reason]

    @property
    def unanswered(self) -> list[Lead]:
        """Breaches of the reply SLA first, then the longest waiting."""
        rows = self.report.replies.unanswered_replies
        return sorted(rows, key=lambda r: (not r.sla_breached, -(r.age_hours or 0)))


def home(db: Database, config: Config, now: datetime, f: Filters) -> HomePage:
    return HomePage(
        report_for(db, config, now, f), held_touches(db, f), mailbox_statuses(db, config)
    )


def funnel_stages(fig: Figures) -> list[tuple[str, int]]:
    """enrolled -> touch 1..n -> replied / completed without reply / bounced / unsubscribed."""
    stages = [("Enrolled", fig.enrolled)]
    stages += [(f"Touch {i + 1}", n) for i, n in enumerate(fig.touched)]
    stages += [
        ("Replied", fig.replies),
        ("Completed without reply", fig.completed),
        ("Bounced", fig.bounced),
        ("Unsubscribed", fig.unsubscribed),
    ]
    return stages


@dataclass
class SequenceFunnel:
    figures: Figures
    funnel: Markup
    replies_by_touch: Markup


@dataclass
class PipelinePage:
    report: Report
    funnels: list[SequenceFunnel]
    value_chart: Markup
    aging_chart: Markup
    value_at_risk: float


def _funnel(fig: Figures) -> SequenceFunnel:
    name = fig.sequence_name or fig.sequence_id or "all sequences"
    return SequenceFunnel(
        fig,
        charts.funnel(funnel_stages(fig), title=f"Funnel of {name}"),
        charts.hbars(
            [(f"Touch {i + 1}", n) for i, n in enumerate(fig.replies_by_touch)],
            title=f"Replies by touch number, {name}",
            colors=[charts.GOOD],
        ),
    )


def pipeline(db: Database, config: Config, now: datetime, f: Filters) -> PipelinePage:
    r = report_for(db, config, now, f)
    value = {p.state: p.value for p in r.pipeline}
    colors = {
        "in_sequence": charts.BAR,
        "replied": charts.GOOD,
        "unanswered": charts.WARN,
        "at_risk": charts.BAD,
        "closed": charts.MUTED,
    }
    return PipelinePage(
        report=r,
        funnels=[_funnel(fig) for fig in r.sequences],
        value_chart=charts.hbars(
            [(p.label, p.value) for p in r.pipeline],
            title="Pipeline value by state",
            colors=[colors.get(p.state, charts.BAR) for p in r.pipeline],
        ),
        aging_chart=charts.histogram(
            [(b.label, b.count) for b in r.aging.since_last_touch],
            title="Active leads by days since the last touch",
        ),
        value_at_risk=value.get("at_risk", 0.0) + value.get("unanswered", 0.0),
    )


@dataclass(frozen=True)
class RepRow:
    owner: str | None
    active: int
    replies: int
    median_hours_to_answer: float | None
    unanswered: int
    sla_breaches: int
    completed_without_reply: int
    figures: Figures


@dataclass
class RepsPage:
    report: Report
    rows: list[RepRow]
    chart: Markup


def reps(db: Database, config: Config, now: datetime, f: Filters) -> RepsPage:
    r = report_for(db, config, now, f)
    since, _ = f.instants(now)
    sla = timedelta(hours=config.reporting.reply_sla_hours)
    rows = []
    with db.read_session() as s:
        for fig in r.reps:
            # Unanswered replies per rep: the report's own named query, scoped to the rep.
            scope = report_queries.ReportFilter(sequence=f.sequence, owner=fig.owner, since=since)
            unanswered, breaches = report_queries.unanswered_counts(s, scope, now=now, sla=sla)
            rows.append(
                RepRow(
                    fig.owner,
                    fig.active,
                    fig.replies,
                    fig.time_to_answer.median_hours,
                    unanswered,
                    breaches,
                    fig.completed,
                    fig,
                )
            )
    chart = charts.hbars(
        [(row.owner or "(no owner)", row.unanswered) for row in rows],
        title="Unanswered replies per rep",
        colors=[charts.WARN],
    )
    return RepsPage(r, rows, chart)


@dataclass(frozen=True)
class NextTouch:
    enrollment_id: int
    sequence_id: str
    step: str
    utc: datetime
    local: datetime
    zone: str


@dataclass
class LeadPage:
    timeline: timelines.ProspectTimeline
    next_touches: list[NextTouch]
    zone: str
    owners: list[str]


def lead(db: Database, config: Config, now: datetime, email: str) -> LeadPage:
    tl = timelines.timeline(db, email, now=now)
    zone_name = tl.timezone or config.timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ValueError, KeyError):
        zone_name, zone = "UTC", ZoneInfo("UTC")
    nxt = [
        NextTouch(
            e.enrollment_id,
            e.sequence_id,
            e.step,
            e.next_send_at,
            e.next_send_at.astimezone(zone),
            zone_name,
        )
        for e in tl.enrollments
        if e.status in lifecycle.OPEN_STATES and e.next_send_at is not None
    ]
    return LeadPage(tl, nxt, zone_name, known_reps(config))


@dataclass(frozen=True)
class StepRow:
    number: int
    name: str | None
    wait: str
    subject: str | None
    variants: list[str]
    sent: int
    replies: int
    reply_rate: float | None


@dataclass
class SequencePage:
    sequence_id: str
    name: str
    report: Report
    figures: Figures
    steps: list[StepRow]
    variants: list[Any]
    funnel: SequenceFunnel
    definition_error: str | None


def sequence(
    db: Database, config: Config, now: datetime, sequence_id: str, f: Filters
) -> SequencePage:
    r = report_for(db, config, now, Filters(f.rep, sequence_id, f.since, f.until))
    figs = [fig for fig in r.sequences if fig.sequence_id == sequence_id]
    loaded, error = _load_sequence(config, sequence_id)
    if not figs and loaded is None:
        raise NotFound(f"no sequence {sequence_id!r} in the database or in {config.sequences_path}")
    fig = figs[0] if figs else Figures(sequence_id, loaded.name if loaded else None)
    count = max(len(fig.touched), len(loaded.steps) if loaded else 0)
    steps = []
    for i in range(count):
        step = loaded.steps[i] if loaded and i < len(loaded.steps) else None
        sent = fig.touched[i] if i < len(fig.touched) else 0
        replies = fig.replies_by_touch[i] if i < len(fig.replies_by_touch) else 0
        steps.append(
            StepRow(
                number=i + 1,
                name=step.name if step else None,
                wait=str(step.wait) if step else "",
                subject=step.subject if step else None,
                variants=[v.name for v in step.variants] if step and len(step.variants) > 1 else [],
                sent=sent,
                replies=replies,
                reply_rate=round(replies / sent, 4) if sent else None,
            )
        )
    return SequencePage(
        sequence_id=sequence_id,
        name=fig.sequence_name or (loaded.name if loaded else sequence_id),
        report=r,
        figures=fig,
        steps=steps,
        variants=[v for v in r.variants if v.sequence_id == sequence_id],
        funnel=_funnel(fig),
        definition_error=error,
    )


def load_sequences(config: Config) -> dict[str, Any]:
    """The sequence files, as ``sequencer resume`` loads them (needed to reschedule)."""
    from sequencer.core.sequence_files import load_sequences as load
    from sequencer.core.templates import TemplateStore

    return load(
        config.sequences_path,
        TemplateStore(config.templates_path),
        [m.name for m in config.mailboxes],
    )


def _load_sequence(config: Config, sequence_id: str) -> tuple[Any | None, str | None]:
    try:
        return load_sequences(config).get(sequence_id), None
    except SequenceError as exc:
        return None, f"the sequence files could not be read: {len(exc.problems)} problem(s)"


def known_reps(config: Config) -> list[str]:
    """Reps a lead may be handed to: the owners of the configured mailboxes."""
    return sorted({m.rep for m in config.mailboxes})


# ---------------------------------------------------------------- CSV

FIGURE_SCOPES = {
    "figures": None,
    "totals": "total",
    "sequences": "sequence",
    "reps": "rep",
    "sequence_reps": "sequence_rep",
}
LEAD_TABLES = ("unanswered", "stalled", "safety")
LEAD_COLUMNS = tuple(f.name for f in fields(Lead))
CSV_TABLES = (
    *FIGURE_SCOPES,
    *LEAD_TABLES,
    "tasks",
    "pipeline",
    "aging",
    "variants",
    "overdue",
    "held",
    "mailboxes",
)


def csv_table(db: Database, config: Config, now: datetime, f: Filters, table: str) -> str:
    """One dashboard table as CSV; figure tables use exactly ``report --format csv``'s columns."""
    if table not in CSV_TABLES:
        raise NotFound(f"no table {table!r} (known: {', '.join(CSV_TABLES)})")
    if table == "held":
        return _csv(fields_of(HeldTouch), (asdict(h) for h in held_touches(db, f)))
    if table == "mailboxes":
        return _csv(fields_of(MailboxStatus), (asdict(m) for m in mailbox_statuses(db, config)))
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
    if table == "overdue":
        return _csv(
            ("reason", "overdue", "stalled"), (asdict(o) for o in r.aging.overdue_by_reason)
        )
    return _csv(
        ("sequence_id", "step", "variant", "sent", "replies", "reply_rate"),
        (asdict(v) for v in r.variants),
    )


def fields_of(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


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


__all__ = [
    "CSV_COLUMNS",
    "CSV_TABLES",
    "Filters",
    "HomePage",
    "LeadPage",
    "PipelinePage",
    "RepsPage",
    "SequencePage",
    "csv_table",
    "home",
    "lead",
    "pipeline",
    "report_for",
    "reps",
    "sequence",
]
