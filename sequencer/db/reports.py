"""Named aggregate queries behind the manager report, the digest and the dashboard.

Every count is computed by the database (GROUP BY, conditional SUM(CASE ...))
and comes back as a handful of aggregate rows. The one exception is the reply
durations: percentiles are not additive, so the median per sequence, rep and
pair needs each reply's duration; those come from the replied enrollments only,
four narrow columns off a partial covering index.

Speed at a million enrollments comes from the indexes of migration 0003: each
query reads one index (covering where it matters) instead of the table, and no
query sorts the whole table (SQLite's GROUP BY sorts unless an index already
delivers the group order, hence conditional sums where the groups are fixed).
Conditions that select a partial index are written exactly as the index's
WHERE clause, with inlined constants, so SQLite can prove the index applies.

The SQL runs unchanged on SQLite and PostgreSQL; the only dialect-specific
piece is ``seconds_between``. The lists behind some totals (stalled leads,
unanswered replies, lead-safety violations) are ``sequencer.db.report_leads``; the
once-a-day job claims are ``sequencer.db.job_runs``. Every function here reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from sequencer.core import lifecycle
from sequencer.db.models import (
    Enrollment,
    Event,
    Message,
    Prospect,
    SequenceRecord,
    UtcDateTime,
)

E = Enrollment


class seconds_between(FunctionElement[float]):  # noqa: N801 (reads as SQL)
    """``a - b`` in seconds, as a float, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"((julianday({compiler.process(a, **kw)}) - julianday({compiler.process(b, **kw)})) * 86400.0)"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(a, **kw)} - {compiler.process(b, **kw)}))"


def instant(value: datetime) -> ColumnElement[datetime]:
    """A bound instant typed so SQLite gets its stored text format and PostgreSQL a timestamptz."""
    return literal(value, UtcDateTime())


@dataclass(frozen=True)
class ReportFilter:
    """Which enrollments a report covers. ``since``/``until``: enrolled in [since, until) (a cohort)."""

    sequence: str | None = None
    owner: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self, *, include_unenrolled: bool = False) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if not include_unenrolled:
            out.append(E.status != lifecycle.UNENROLLED)
        if self.sequence is not None:
            out.append(E.sequence_id == self.sequence)
        if self.owner is not None:
            out.append(E.owner == self.owner)
        if self.since is not None:
            out.append(E.enrolled_at >= instant(self.since))
        if self.until is not None:
            out.append(E.enrolled_at < instant(self.until))
        return out


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _between(col: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(col >= instant(start), col < instant(end))


# ---------------------------------------------------------------- status counts


@dataclass(frozen=True)
class StatusGroup:
    """One aggregate row: enrollments of one (sequence, owner, status, steps done, reply step)."""

    sequence_id: str
    owner: str | None
    status: str
    steps_done: int
    replied_step: int | None
    count: int
    replies: int


def status_groups(s: Session, f: ReportFilter) -> list[StatusGroup]:
    """One pass over ``ix_enrollments_report``, already in GROUP BY order: no sort, no table reads.

    Every count in the report is a sum over these few rows. Unenrolled enrollments
    are included (status ``unenrolled``) so the report can say how many there were;
    callers leave them out of the other figures.
    """
    has_reply = E.replied_at.is_not(None)
    keys: list[Any] = [E.sequence_id, E.owner, E.status, E.steps_done, E.replied_step]
    if (f.since is not None or f.until is not None) and s.get_bind().dialect.name == "sqlite":
        # A cohort is a range of ix_enrollments_cohort (0015). SQLite's planner, without
        # statistics, would rather walk ix_enrollments_report for its GROUP BY order and
        # look up every row's enrolled_at; grouping by expressions (same values) frees it.
        keys = [E.sequence_id.concat(""), E.owner.concat(""), E.status.concat(""), E.steps_done + 0,
                E.replied_step + 0]
    stmt = (
        select(*keys, func.count(), count_if(has_reply))
        .where(*f.clauses(include_unenrolled=True))
        .group_by(*keys)
    )
    return [StatusGroup(*row) for row in s.execute(stmt)]


def sequence_records(s: Session) -> dict[str, tuple[str, int]]:
    """Sequence id -> (name, total steps), as last loaded."""
    rows = s.execute(select(SequenceRecord.id, SequenceRecord.name, SequenceRecord.total_steps))
    return {r[0]: (r[1], r[2]) for r in rows}


# ---------------------------------------------------------------- reply durations


def reply_latency() -> ColumnElement[float]:
    """Seconds from the touch that drew the reply (the last one before it) to the reply.

    Falls back to the enrollment time when no touch precedes the reply (a prospect
    answering the rep's own first email filed into a sequence).
    """
    touch = case(
        (and_(E.last_touch_at.is_not(None), E.last_touch_at <= E.replied_at), E.last_touch_at),
        else_=E.enrolled_at,
    )
    return seconds_between(E.replied_at, touch)


def replied_only(f: ReportFilter) -> list[ColumnElement[bool]]:
    # ``replied_at IS NOT NULL`` literally: the condition of the partial index ix_enrollments_replied
    return [E.replied_at.is_not(None), *f.clauses()]


def reply_durations(s: Session, f: ReportFilter) -> list[tuple[str, str | None, float, float | None]]:
    """(sequence, owner, seconds to reply, seconds to the rep's answer or None) per reply.

    Percentiles are not additive, so the medians per sequence, rep and pair need the
    individual durations: only replied enrollments, four narrow columns, read from
    the partial covering index ix_enrollments_replied (10% of a large table).
    """
    answer = seconds_between(E.answered_at, E.replied_at)
    stmt = select(E.sequence_id, E.owner, reply_latency(), answer).where(*replied_only(f))
    return [(r[0], r[1], float(r[2]), None if r[3] is None else float(r[3])) for r in s.execute(stmt)]


def reply_activity(s: Session, f: ReportFilter, *, window: tuple[datetime, datetime]) -> tuple[int, int]:
    """(replies received, replies answered) inside the window."""
    stmt = select(count_if(_between(E.replied_at, *window)), count_if(_between(E.answered_at, *window))).where(
        *replied_only(f)
    )
    row = s.execute(stmt).one()
    return row[0] or 0, row[1] or 0


# ---------------------------------------------------------------- aging

AGE_EDGES_DAYS = (1, 3, 7, 14, 30)  # buckets: <1, 1-3, 3-7, 7-14, 14-30, 30+
NEXT_EDGES_DAYS = (1, 3, 7)  # buckets: overdue, <1, 1-3, 3-7, 7+, unscheduled


def active_only() -> ColumnElement[bool]:
    # inlined constant: the condition of the partial index ix_enrollments_active
    return E.status == literal_column(f"'{lifecycle.ACTIVE}'")


def _cumulative(counts: list[int]) -> dict[int, int]:
    """Counts of "within edge k" (cumulative) -> counts per bucket, the last bucket open-ended."""
    total, *within = counts
    out, previous = {}, 0
    for k, n in enumerate([*within, total]):
        out[k] = n - previous
        previous = n
    return out


def aging_histograms(
    s: Session, f: ReportFilter, *, now: datetime
) -> tuple[dict[int, int], dict[int, int]]:
    """Active enrollments by days since the last touch and by days until the next one.

    Bucket indexes follow AGE_EDGES_DAYS / NEXT_EDGES_DAYS; for the next touch,
    -1 is overdue and -2 is "no next touch scheduled" (a safety violation).
    One pass over the partial covering index ix_enrollments_active; bucket edges are
    instants computed here, so each row costs a few comparisons, no date arithmetic.
    """
    touched = func.coalesce(E.last_touch_at, E.enrolled_at)
    nxt = E.next_send_at
    cols = [
        func.count(),
        *(count_if(touched > instant(now - timedelta(days=d))) for d in AGE_EDGES_DAYS),
        count_if(nxt.is_(None)),
        count_if(nxt < instant(now)),
        *(count_if(nxt < instant(now + timedelta(days=d))) for d in NEXT_EDGES_DAYS),
    ]
    row = [v or 0 for v in s.execute(select(*cols).where(active_only(), *f.clauses())).one()]
    total = row[0]
    age = _cumulative([total, *row[1 : 1 + len(AGE_EDGES_DAYS)]])
    unscheduled, overdue, *within = row[1 + len(AGE_EDGES_DAYS) :]
    scheduled = _cumulative([total - unscheduled - overdue, *(n - overdue for n in within)])
    return age, {-2: unscheduled, -1: overdue, **scheduled}


def overdue_by_reason(
    s: Session, f: ReportFilter, *, now: datetime, stalled_after: timedelta
) -> list[tuple[str | None, int, int]]:
    """(wait_reason, overdue, stalled) for active enrollments whose next touch is past due."""
    stalled = E.next_send_at < instant(now - stalled_after)
    stmt = (
        select(E.wait_reason, func.count(), count_if(stalled))
        .where(active_only(), *f.clauses(), E.next_send_at < instant(now))
        .group_by(E.wait_reason)
        .order_by(func.count().desc(), E.wait_reason)
    )
    return [(r[0], r[1], r[2]) for r in s.execute(stmt)]


# ---------------------------------------------------------------- replies


def unanswered_only(f: ReportFilter) -> list[ColumnElement[bool]]:
    return [*replied_only(f), E.status == lifecycle.REPLIED, E.answered_at.is_(None)]


def unanswered_counts(s: Session, f: ReportFilter, *, now: datetime, sla: timedelta) -> tuple[int, int]:
    """(unanswered replies, of which older than the SLA)."""
    breach = E.replied_at < instant(now - sla)
    row = s.execute(select(func.count(), count_if(breach)).where(*unanswered_only(f))).one()
    return row[0], row[1] or 0


def unanswered_counts_by_owner(
    s: Session, f: ReportFilter, *, now: datetime, sla: timedelta
) -> dict[str | None, tuple[int, int]]:
    """``unanswered_counts`` for every owner in one pass (the Reps page asked once per rep,
    each a scan of every reply: 1.7 s at 1M)."""
    breach = E.replied_at < instant(now - sla)
    stmt = select(E.owner, func.count(), count_if(breach)).where(*unanswered_only(f)).group_by(E.owner)
    return {owner: (n, b or 0) for owner, n, b in s.execute(stmt)}


# ---------------------------------------------------------------- pipeline

# The pipeline's categories by the status of a prospect's latest enrollment (the counters in
# sequencer.db.counted map their status keys with the same table).
PIPELINE_STATUSES: dict[str, tuple[str, ...]] = {
    "in_sequence": (lifecycle.ACTIVE, lifecycle.PAUSED),
    "replied": (lifecycle.REPLIED,),
    "at_risk": (lifecycle.COMPLETED,),
    "closed": (lifecycle.BOUNCED, lifecycle.UNSUBSCRIBED, lifecycle.STOPPED, lifecycle.FAILED),
}
PIPELINE_CATEGORIES: dict[str, ColumnElement[bool]] = {
    cat: E.status.in_(states) for cat, states in PIPELINE_STATUSES.items()
}


def _latest() -> ColumnElement[bool]:
    """No later enrollment of the same prospect (an index seek on ix_enrollments_prospect_status)."""
    later = aliased(Enrollment)
    return ~(
        select(literal_column("1"))
        .where(later.prospect_id == E.prospect_id, later.id > E.id, later.status != lifecycle.UNENROLLED)
        .exists()
    )


def pipeline_value(s: Session, f: ReportFilter) -> dict[str, tuple[int, Decimal]]:
    """Prospects and the sum of their deal values, by where their latest enrollment stands.

    A prospect counts once, in the state of their most recent enrollment, so a lead
    re-enrolled after finishing a sequence is "in sequence", not "at risk" as well.
    Categories: in_sequence, replied, at_risk, closed, and unanswered (a subset of
    replied). One pass over ix_enrollments_prospect_status with conditional sums
    (no GROUP BY sort), prospects read in id order; unanswered replies come from
    the replied enrollments' partial index.
    """
    cols = []
    for condition in PIPELINE_CATEGORIES.values():
        cols += [count_if(condition), func.sum(case((condition, Prospect.deal_value), else_=None))]
    stmt = select(*cols).select_from(E).join(Prospect, Prospect.id == E.prospect_id).where(*f.clauses(), _latest())
    row = list(s.execute(stmt).one())
    unanswered = (
        select(func.count(), func.sum(Prospect.deal_value))
        .select_from(E)
        .join(Prospect, Prospect.id == E.prospect_id)
        .where(*unanswered_only(f), _latest())
    )
    row += list(s.execute(unanswered).one())
    out: dict[str, tuple[int, Decimal]] = {}
    for i, cat in enumerate([*PIPELINE_CATEGORIES, "unanswered"]):
        n, total = row[2 * i] or 0, row[2 * i + 1]
        out[cat] = (n, Decimal(str(total or 0)).quantize(Decimal("0.01")))
    return out


# ---------------------------------------------------------------- variants and activity


def variant_figures(s: Session, f: ReportFilter) -> list[tuple[str, int, str, int, int]]:
    """(sequence, step, variant, touches sent, replies to that touch) for A/B steps."""
    replied_here = and_(E.replied_at.is_not(None), E.replied_step == Message.step)
    stmt = (
        select(E.sequence_id, Message.step, Message.variant, func.count(), count_if(replied_here))
        .join(E, E.id == Message.enrollment_id)
        .where(Message.variant.is_not(None), Message.status == "sent", *f.clauses())
        .group_by(E.sequence_id, Message.step, Message.variant)
        .order_by(E.sequence_id, Message.step, Message.variant)
    )
    return [tuple(r) for r in s.execute(stmt)]  # type: ignore[misc]


def events_by_kind(s: Session, f: ReportFilter, *, window: tuple[datetime, datetime]) -> dict[str, int]:
    """The audit trail in a time window, counted per event kind."""
    stmt = select(Event.kind, func.count()).where(_between(Event.at, *window)).group_by(Event.kind)
    if f != ReportFilter():
        stmt = stmt.join(E, E.id == Event.enrollment_id).where(*f.clauses(include_unenrolled=True))
    return {kind: n for kind, n in s.execute(stmt)}
