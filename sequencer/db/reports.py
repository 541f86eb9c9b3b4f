"""Named aggregate queries behind the manager report, the digest and the dashboard.

Every figure is computed by the database (GROUP BY, CASE, window functions) and
comes back as a handful of aggregate rows, never as one row per enrollment, so
the report stays fast at a million enrollments. The SQL is plain enough to run
unchanged on SQLite (>= 3.25, window functions) and PostgreSQL; the only
dialect-specific piece is ``seconds_between`` below.

Lists (stalled leads, unanswered replies, lead-safety violations) are bounded
by ``limit`` and ordered oldest first; their totals are counted separately.
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
    delete,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from sequencer import lifecycle
from sequencer.db.models import (
    Enrollment,
    Event,
    JobRun,
    Message,
    Prospect,
    SequenceRecord,
    UtcDateTime,
)

E = Enrollment
DAY = 86400.0


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


def _at(value: datetime) -> ColumnElement[datetime]:
    """A bound instant typed so SQLite gets its stored text format and PostgreSQL a timestamptz."""
    return literal(value, UtcDateTime())


@dataclass(frozen=True)
class ReportFilter:
    """Which enrollments a report covers. ``since``: enrolled on or after (a cohort)."""

    sequence: str | None = None
    owner: str | None = None
    since: datetime | None = None

    def clauses(self, *, include_unenrolled: bool = False) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if not include_unenrolled:
            out.append(E.status != lifecycle.UNENROLLED)
        if self.sequence is not None:
            out.append(E.sequence_id == self.sequence)
        if self.owner is not None:
            out.append(E.owner == self.owner)
        if self.since is not None:
            out.append(E.enrolled_at >= _at(self.since))
        return out


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _between(col: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(col >= _at(start), col < _at(end))


def safety_violation() -> ColumnElement[bool]:
    """An enrollment nobody is looking after: the lead-safety invariant, as SQL."""
    no_reason = or_(E.status_reason.is_(None), E.status_reason == "")
    return or_(
        and_(E.status == lifecycle.ACTIVE, E.next_send_at.is_(None)),
        and_(E.status != lifecycle.ACTIVE, no_reason),
        not_(E.status.in_(lifecycle.STATES)),
    )


# ---------------------------------------------------------------- status counts


@dataclass(frozen=True)
class StatusGroup:
    """One aggregate row: enrollments of one (sequence, owner, status, steps done, reply step)."""

    sequence_id: str
    owner: str | None
    status: str
    steps_done: int
    replied_step: int | None  # set only for rows counting replies
    count: int
    replies: int
    violations: int
    enrolled_in_window: int
    replied_in_window: int
    answered_in_window: int
    finished_in_window: int


def status_groups(
    s: Session, f: ReportFilter, *, window: tuple[datetime, datetime]
) -> list[StatusGroup]:
    """One scan of enrollments; every count in the report is a sum over these rows.

    Unenrolled enrollments are included here (status ``unenrolled``) so the report
    can show how many there were; callers leave them out of completion figures.
    """
    start, end = window
    has_reply = E.replied_at.is_not(None)
    reply_step = case((has_reply, E.replied_step), else_=None)
    stmt = (
        select(
            E.sequence_id,
            E.owner,
            E.status,
            E.steps_done,
            reply_step,
            func.count(),
            _flag(has_reply),
            _flag(safety_violation()),
            _flag(_between(E.enrolled_at, start, end)),
            _flag(_between(E.replied_at, start, end)),
            _flag(_between(E.answered_at, start, end)),
            _flag(and_(E.status.in_(lifecycle.FINISHED_STATES), _between(E.finished_at, start, end))),
        )
        .where(*f.clauses(include_unenrolled=True))
        .group_by(E.sequence_id, E.owner, E.status, E.steps_done, reply_step)
    )
    return [StatusGroup(*row) for row in s.execute(stmt)]


def sequence_records(s: Session) -> dict[str, tuple[str, int]]:
    """Sequence id -> (name, total steps), as last loaded."""
    rows = s.execute(select(SequenceRecord.id, SequenceRecord.name, SequenceRecord.total_steps))
    return {r[0]: (r[1], r[2]) for r in rows}


# ---------------------------------------------------------------- percentiles

GroupKey = tuple[Any, ...]


def percentiles(
    s: Session,
    value: ColumnElement[float],
    where: list[ColumnElement[bool]],
    group_by: list[Any],
    ps: tuple[int, ...] = (50, 90),
) -> dict[GroupKey, tuple[int, dict[int, float]]]:
    """Nearest-rank percentiles (``percentile_disc``) of ``value`` per group, in SQL.

    The p-th percentile of n sorted values is the value at rank ceil(p * n / 100),
    written as integer arithmetic so both databases agree. Only two rows per group
    come back, whatever the number of rows behind them.
    """
    partition = group_by or None
    inner = (
        select(
            *group_by,
            value.label("v"),
            func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*where)
        .subquery()
    )
    keys = [inner.c[i] for i in range(len(group_by))]
    # constants inlined so PostgreSQL sees integer arithmetic, parenthesised for the division
    ranks = [(inner.c.n * literal_column(str(p)) + literal_column("99")).self_group().op("/")(literal_column("100")) for p in ps]
    stmt = select(*keys, inner.c.n, inner.c.rn, inner.c.v).where(or_(*(inner.c.rn == r for r in ranks)))
    out: dict[GroupKey, tuple[int, dict[int, float]]] = {}
    for row in s.execute(stmt):
        key = tuple(row[: len(keys)])
        n, rn, v = row[len(keys) :]
        _, found = out.setdefault(key, (n, {}))
        for p in ps:
            if rn == (n * p + 99) // 100:
                found[p] = float(v)
    return out


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


def reply_latency_percentiles(
    s: Session, f: ReportFilter, group_by: list[Any]
) -> dict[GroupKey, tuple[int, dict[int, float]]]:
    return percentiles(s, reply_latency(), [*f.clauses(), E.replied_at.is_not(None)], group_by)


def answer_time_percentiles(
    s: Session, f: ReportFilter, group_by: list[Any]
) -> dict[GroupKey, tuple[int, dict[int, float]]]:
    """How long reps took to answer a reply (answered_at - replied_at), per group."""
    value = seconds_between(E.answered_at, E.replied_at)
    where = [*f.clauses(), E.replied_at.is_not(None), E.answered_at.is_not(None)]
    return percentiles(s, value, where, group_by)


# ---------------------------------------------------------------- aging

AGE_EDGES_DAYS = (1, 3, 7, 14, 30)  # buckets: <1, 1-3, 3-7, 7-14, 14-30, 30+
NEXT_EDGES_DAYS = (1, 3, 7)  # buckets: overdue, <1, 1-3, 3-7, 7+, unscheduled


def _bucket(seconds: ColumnElement[float], edges: tuple[int, ...]) -> ColumnElement[int]:
    whens = [(seconds < edge * DAY, i) for i, edge in enumerate(edges)]
    return case(*whens, else_=len(edges))


def aging_histograms(
    s: Session, f: ReportFilter, *, now: datetime
) -> tuple[dict[int, int], dict[int, int]]:
    """Active enrollments by days since the last touch and by days until the next one.

    Bucket indexes follow AGE_EDGES_DAYS / NEXT_EDGES_DAYS; for the next touch,
    -1 is overdue and -2 is "no next touch scheduled" (a safety violation).
    """
    since_touch = _bucket(seconds_between(_at(now), func.coalesce(E.last_touch_at, E.enrolled_at)), AGE_EDGES_DAYS)
    until = seconds_between(E.next_send_at, _at(now))
    until_next = case(
        (E.next_send_at.is_(None), -2),
        (until < 0, -1),
        else_=_bucket(until, NEXT_EDGES_DAYS),
    )
    where = [*f.clauses(), E.status == lifecycle.ACTIVE]
    age: dict[int, int] = {}
    nxt: dict[int, int] = {}
    for a, n, count in s.execute(select(since_touch, until_next, func.count()).where(*where).group_by(since_touch, until_next)):
        age[a] = age.get(a, 0) + count
        nxt[n] = nxt.get(n, 0) + count
    return age, nxt


def overdue_by_reason(
    s: Session, f: ReportFilter, *, now: datetime, stalled_after: timedelta
) -> list[tuple[str | None, int, int]]:
    """(wait_reason, overdue, stalled) for active enrollments whose next touch is past due."""
    stalled = E.next_send_at < _at(now - stalled_after)
    stmt = (
        select(E.wait_reason, func.count(), _flag(stalled))
        .where(*f.clauses(), E.status == lifecycle.ACTIVE, E.next_send_at < _at(now))
        .group_by(E.wait_reason)
        .order_by(func.count().desc(), E.wait_reason)
    )
    return [(r[0], r[1], r[2]) for r in s.execute(stmt)]


@dataclass(frozen=True)
class LeadRow:
    """One enrollment in a list (stalled, unanswered, violation): what a manager acts on."""

    enrollment_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    sequence_id: str
    status: str
    status_reason: str | None
    step: int  # the touch concerned: next touch for stalled, replied touch for replies
    at: datetime | None  # due time (stalled), reply time (unanswered), status change (violation)
    wait_reason: str | None
    deal_value: Decimal | None


def _lead_rows(s: Session, where: list[ColumnElement[bool]], at: Any, step: Any, order: Any, limit: int) -> list[LeadRow]:
    stmt = (
        select(
            E.id, Prospect.display_email, Prospect.name, Prospect.company, E.owner, E.sequence_id,
            E.status, E.status_reason, step, at, E.wait_reason, Prospect.deal_value,
        )
        .join(Prospect, Prospect.id == E.prospect_id)
        .where(*where)
        .order_by(order, E.id)
        .limit(limit)
    )
    return [
        LeadRow(*row[:11], deal_value=None if row[11] is None else Decimal(str(row[11])))
        for row in s.execute(stmt)
    ]


def stalled_leads(
    s: Session, f: ReportFilter, *, now: datetime, stalled_after: timedelta, limit: int
) -> list[LeadRow]:
    """Active enrollments whose next touch is overdue by more than ``stalled_after``, oldest first."""
    where = [*f.clauses(), E.status == lifecycle.ACTIVE, E.next_send_at < _at(now - stalled_after)]
    return _lead_rows(s, where, E.next_send_at, E.steps_done + 1, E.next_send_at, limit)


# ---------------------------------------------------------------- replies


def _unanswered(f: ReportFilter) -> list[ColumnElement[bool]]:
    return [*f.clauses(), E.status == lifecycle.REPLIED, E.answered_at.is_(None)]


def unanswered_counts(s: Session, f: ReportFilter, *, now: datetime, sla: timedelta) -> tuple[int, int]:
    """(unanswered replies, of which older than the SLA)."""
    breach = E.replied_at < _at(now - sla)
    row = s.execute(select(func.count(), _flag(breach)).where(*_unanswered(f))).one()
    return row[0], row[1] or 0


def unanswered_replies(s: Session, f: ReportFilter, *, limit: int) -> list[LeadRow]:
    """Replies still waiting for the rep's answer, oldest first."""
    return _lead_rows(s, _unanswered(f), E.replied_at, func.coalesce(E.replied_step, 0), E.replied_at, limit)


# ---------------------------------------------------------------- safety


def safety_violations(s: Session, f: ReportFilter, *, limit: int) -> list[LeadRow]:
    """Enrollments breaking the lead-safety invariant (unenrolled ones included: they need a reason too)."""
    where = [*f.clauses(include_unenrolled=True), safety_violation()]
    return _lead_rows(s, where, E.status_changed_at, E.steps_done, E.status_changed_at, limit)


# ---------------------------------------------------------------- pipeline

PIPELINE_CATEGORY = case(
    (E.status.in_((lifecycle.ACTIVE, lifecycle.PAUSED)), "in_sequence"),
    (and_(E.status == lifecycle.REPLIED, E.answered_at.is_(None)), "unanswered"),
    (E.status == lifecycle.REPLIED, "replied_answered"),
    (E.status == lifecycle.COMPLETED, "at_risk"),
    else_="closed",
)


def pipeline_value(s: Session, f: ReportFilter) -> dict[str, tuple[int, Decimal]]:
    """Prospects and the sum of their deal values, by where their latest enrollment stands.

    A prospect counts once, in the state of their most recent enrollment, so a lead
    re-enrolled after finishing a sequence is "in sequence", not "at risk" as well.
    """
    latest = select(func.max(E.id)).where(E.status != lifecycle.UNENROLLED).group_by(E.prospect_id)
    stmt = (
        select(PIPELINE_CATEGORY, func.count(), func.sum(Prospect.deal_value))
        .join(Prospect, Prospect.id == E.prospect_id)
        .where(*f.clauses(), E.id.in_(latest))
        .group_by(PIPELINE_CATEGORY)
    )
    return {
        cat: (n, Decimal(str(total or 0)).quantize(Decimal("0.01"))) for cat, n, total in s.execute(stmt)
    }


# ---------------------------------------------------------------- variants and activity


def variant_figures(s: Session, f: ReportFilter) -> list[tuple[str, int, str, int, int]]:
    """(sequence, step, variant, touches sent, replies to that touch) for A/B steps."""
    replied_here = and_(E.replied_at.is_not(None), E.replied_step == Message.step)
    stmt = (
        select(E.sequence_id, Message.step, Message.variant, func.count(), _flag(replied_here))
        .join(E, E.id == Message.enrollment_id)
        .where(*f.clauses(), Message.variant.is_not(None), Message.status == "sent")
        .group_by(E.sequence_id, Message.step, Message.variant)
        .order_by(E.sequence_id, Message.step, Message.variant)
    )
    return [tuple(r) for r in s.execute(stmt)]  # type: ignore[misc]


def touches_sent(s: Session, f: ReportFilter, *, window: tuple[datetime, datetime]) -> int:
    stmt = select(func.count()).select_from(Message).where(
        Message.status == "sent", _between(Message.sent_at, *window)
    )
    if f != ReportFilter():
        stmt = stmt.join(E, E.id == Message.enrollment_id).where(*f.clauses(include_unenrolled=True))
    return s.execute(stmt).scalar_one()


def events_by_kind(s: Session, f: ReportFilter, *, window: tuple[datetime, datetime]) -> dict[str, int]:
    """The audit trail in a time window, counted per event kind."""
    stmt = select(Event.kind, func.count()).where(_between(Event.at, *window)).group_by(Event.kind)
    if f != ReportFilter():
        stmt = stmt.join(E, E.id == Event.enrollment_id).where(*f.clauses(include_unenrolled=True))
    return {kind: n for kind, n in s.execute(stmt)}


# ---------------------------------------------------------------- once-a-day jobs


def claim_job_run(s: Session, job: str, period: str, *, now: datetime, worker: str | None) -> None:
    """Insert the (job, period) row; raises IntegrityError when another worker claimed it first.

    The primary key does the arbitration, so it holds across processes and machines.
    """
    s.add(JobRun(job=job, period=period, at=now, worker=worker))
    s.flush()


def release_job_run(s: Session, job: str, period: str) -> None:
    """Give a claimed period back (its run failed), so a later attempt may claim it."""
    s.execute(delete(JobRun).where(JobRun.job == job, JobRun.period == period))
