"""The manager report: one function, one dataclass tree, three renderings.

``build_report`` is the only way figures are produced: the CLI (table, JSON,
CSV, HTML), the daily digest and the web dashboard all call it, so a number
means the same thing everywhere. The database computes the aggregates
(``sequencer.db.reports``); this module sums the few aggregate rows into
per-sequence, per-rep and per-sequence-x-rep figures, takes the reply-time
percentiles from the replied enrollments' durations, and turns seconds into
hours and counts into rates.

Definitions (also in README, "Manager reports"):
- ``unenrolled`` enrollments are treated as never enrolled: they are counted in
  ``unenrolled`` and left out of every other figure.
- ``contacted``: at least one touch sent. Reply and bounce rates are per contacted.
- ``replies``: enrollments with a human reply (``replied_at``), whatever state they
  moved to later (a reply followed by an unsubscribe still counts as a reply).
- time to reply: from the last touch before the reply to the reply.
- ``finished``: every finished state; ``completion_rate`` = finished / enrolled.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.db import reports as q
from sequencer.db.session import Database

SCHEMA_VERSION = 1
# Event kinds that mean "this enrollment finished" (unenrolled is not a finish: it never counted).
FINISHED_EVENTS = tuple(
    lifecycle.EVENT_FOR[state] for state in lifecycle.STATES
    if state in lifecycle.FINISHED_STATES and state != lifecycle.UNENROLLED
)
LIST_LIMIT = 200
STATE_COLUMNS = (
    "active", "paused", "replied", "bounced", "unsubscribed", "completed", "stopped", "failed",
)
AGE_LABELS = ("<1d", "1-3d", "3-7d", "7-14d", "14-30d", "30d+")
NEXT_LABELS = {-2: "unscheduled", -1: "overdue", 0: "<1d", 1: "1-3d", 2: "3-7d", 3: "7d+"}
PIPELINE_LABELS = {
    "in_sequence": "In sequence (active + paused)",
    "replied": "Replied",
    "unanswered": "Replies not yet answered",
    "at_risk": "Finished without reply (at risk)",
    "closed": "Closed (bounced, unsubscribed, stopped, failed)",
}


@dataclass
class Duration:
    """Percentiles of a duration over ``n`` enrollments, in hours (None when n = 0)."""

    n: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None


@dataclass
class Figures:
    """The counts and rates of one group of enrollments (all, a sequence, a rep, or both)."""

    sequence_id: str | None = None
    sequence_name: str | None = None
    owner: str | None = None
    enrolled: int = 0
    active: int = 0
    paused: int = 0
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    completed: int = 0
    stopped: int = 0
    failed: int = 0
    unenrolled: int = 0
    contacted: int = 0
    replies: int = 0
    finished: int = 0
    reply_rate: float | None = None
    bounce_rate: float | None = None
    completion_rate: float | None = None
    # touched[i]: enrollments that got touch i+1 or later (the funnel).
    touched: list[int] = field(default_factory=list)
    # replies_by_touch[i]: replies that came after touch i+1.
    replies_by_touch: list[int] = field(default_factory=list)
    time_to_reply: Duration = field(default_factory=Duration)
    time_to_answer: Duration = field(default_factory=Duration)


@dataclass
class Variant:
    sequence_id: str
    step: int
    variant: str
    sent: int
    replies: int
    reply_rate: float | None


@dataclass
class Bucket:
    label: str
    count: int


@dataclass
class Lead:
    """One enrollment a manager may have to act on."""

    enrollment_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    sequence_id: str
    status: str
    reason: str | None
    step: int
    at: datetime | None
    age_hours: float | None
    wait_reason: str | None
    deal_value: float | None
    sla_breached: bool | None = None


@dataclass
class OverdueReason:
    reason: str
    overdue: int
    stalled: int


@dataclass
class Aging:
    active: int
    since_last_touch: list[Bucket]
    until_next_touch: list[Bucket]
    overdue: int
    stalled: int
    stalled_after_days: float
    overdue_by_reason: list[OverdueReason]
    stalled_leads: list[Lead]


@dataclass
class Replies:
    total: int
    answered: int
    unanswered: int
    sla_hours: float
    sla_breaches: int
    time_to_answer: Duration
    unanswered_replies: list[Lead]


@dataclass
class PipelineState:
    state: str
    label: str
    prospects: int
    value: float


@dataclass
class Activity:
    """What happened in [start, end): yesterday for the digest, since --since or 24 h otherwise."""

    start: datetime
    end: datetime
    enrolled: int
    touches_sent: int
    replies: int
    answered: int
    finished: int
    events: dict[str, int]


@dataclass
class SafetyCheck:
    ok: bool
    violations: int
    items: list[Lead]


@dataclass
class OverdueTask(Lead):
    """An open rep task past due, as a lead to act on plus which task it is.

    ``at`` is the task's due time, ``age_hours`` the hours overdue and ``sla_breached``
    whether that is past ``reporting.task_sla_hours`` (the lead is then at risk).
    """

    task_id: int | None = None
    title: str | None = None


@dataclass
class TaskFigures:
    """Rep tasks (README, "Rep workflow"): open ones, overdue now, and overdue past the SLA (at risk)."""

    open: int = 0
    overdue: int = 0
    at_risk: int = 0
    sla_hours: float = 0.0
    at_risk_items: list[Lead] = field(default_factory=list)
    # Every open task past due, most overdue first (the dashboard's "Rep tasks overdue").
    overdue_items: list[OverdueTask] = field(default_factory=list)


@dataclass
class RepSpeed:
    """Speed to lead of one rep: inbound message -> first touch or the rep's first manual email."""

    owner: str | None
    leads: int
    responded: int
    waiting: int
    median_minutes: float | None
    p90_minutes: float | None


@dataclass
class SpeedToLead:
    leads: int = 0
    responded: int = 0
    waiting: int = 0
    median_minutes: float | None = None
    p90_minutes: float | None = None
    per_rep: list[RepSpeed] = field(default_factory=list)
    # inbound messages with no usable address: recorded, never dropped silently
    unusable: int = 0
    unusable_items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    schema_version: int
    generated_at: datetime
    timezone: str
    filters: dict[str, Any]
    totals: Figures
    sequences: list[Figures]
    reps: list[Figures]
    sequence_reps: list[Figures]
    variants: list[Variant]
    aging: Aging
    replies: Replies
    pipeline: list[PipelineState]
    activity: Activity
    safety: SafetyCheck
    tasks: TaskFigures = field(default_factory=TaskFigures)
    speed_to_lead: SpeedToLead = field(default_factory=SpeedToLead)

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    def to_json(self) -> str:
        """Stable JSON: keys in declaration order, times ISO-8601 UTC with Z, money as numbers."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_csv_rows(self) -> list[list[Any]]:
        """The figures table (total, each sequence, rep and pair), header row first."""
        rows: list[list[Any]] = [list(CSV_COLUMNS)]
        for scope, group in (
            ("total", [self.totals]),
            ("sequence", self.sequences),
            ("rep", self.reps),
            ("sequence_rep", self.sequence_reps),
        ):
            rows.extend(_csv_row(scope, fig) for fig in group)
        return rows

    def to_csv(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(self.to_csv_rows())
        return out.getvalue()


CSV_COLUMNS = (
    "scope", "sequence_id", "sequence_name", "owner", "enrolled", *STATE_COLUMNS, "unenrolled",
    "contacted", "replies", "finished", "reply_rate", "bounce_rate", "completion_rate",
    "median_hours_to_reply", "p90_hours_to_reply", "median_hours_to_answer", "p90_hours_to_answer",
    "touched", "replies_by_touch",
)


def _csv_row(scope: str, f: Figures) -> list[Any]:
    counts = [getattr(f, c) for c in ("enrolled", *STATE_COLUMNS, "unenrolled", "contacted", "replies", "finished")]
    return [
        scope, f.sequence_id or "", f.sequence_name or "", f.owner or "", *counts,
        *("" if v is None else v for v in (f.reply_rate, f.bounce_rate, f.completion_rate)),
        *("" if v is None else v for v in (f.time_to_reply.median_hours, f.time_to_reply.p90_hours)),
        *("" if v is None else v for v in (f.time_to_answer.median_hours, f.time_to_answer.p90_hours)),
        ";".join(map(str, f.touched)), ";".join(map(str, f.replies_by_touch)),
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# ---------------------------------------------------------------- building


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def nearest_rank(sorted_values: list[float], p: int) -> float:
    """The p-th percentile by nearest rank (``percentile_disc``): the value at rank ceil(p*n/100)."""
    return sorted_values[max(0, (len(sorted_values) * p + 99) // 100 - 1)]


def _duration(values: list[float]) -> Duration:
    if not values:
        return Duration()
    values.sort()
    return Duration(len(values), round(nearest_rank(values, 50) / 3600, 2), round(nearest_rank(values, 90) / 3600, 2))


def _percentiles(
    durations: list[tuple[str, str | None, float, float | None]],
) -> tuple[dict[tuple[Any, ...], Duration], dict[tuple[Any, ...], Duration]]:
    """Reply and answer times per total, sequence, rep and pair, keyed like ("rep", "alice")."""
    reply: dict[tuple[Any, ...], list[float]] = {}
    answer: dict[tuple[Any, ...], list[float]] = {}
    for seq, owner, to_reply, to_answer in durations:
        for key in (("total",), ("sequence", seq), ("rep", owner), ("pair", seq, owner)):
            reply.setdefault(key, []).append(to_reply)
            if to_answer is not None:
                answer.setdefault(key, []).append(to_answer)
    return {k: _duration(v) for k, v in reply.items()}, {k: _duration(v) for k, v in answer.items()}


def _add(fig: Figures, g: q.StatusGroup, steps: int) -> None:
    if g.status == lifecycle.UNENROLLED:
        fig.unenrolled += g.count
        return
    fig.enrolled += g.count
    if g.status in STATE_COLUMNS:
        setattr(fig, g.status, getattr(fig, g.status) + g.count)
    if g.status in lifecycle.FINISHED_STATES:
        fig.finished += g.count
    if g.steps_done >= 1:
        fig.contacted += g.count
    fig.replies += g.replies
    width = max(steps, g.steps_done, g.replied_step or 0)
    for lst in (fig.touched, fig.replies_by_touch):
        lst.extend([0] * (width - len(lst)))
    for i in range(g.steps_done):
        fig.touched[i] += g.count
    if g.replies and g.replied_step and g.replied_step >= 1:
        fig.replies_by_touch[g.replied_step - 1] += g.replies


def _finish(fig: Figures) -> Figures:
    fig.reply_rate = _rate(fig.replies, fig.contacted)
    fig.bounce_rate = _rate(fig.bounced, fig.contacted)
    fig.completion_rate = _rate(fig.finished, fig.enrolled)
    return fig


def _lead(row: q.LeadRow, now: datetime, sla: timedelta | None = None) -> Lead:
    age = round((now - row.at).total_seconds() / 3600, 2) if row.at else None
    return Lead(
        enrollment_id=row.enrollment_id, email=row.email, name=row.name, company=row.company,
        owner=row.owner, sequence_id=row.sequence_id, status=row.status, reason=row.status_reason,
        step=row.step, at=row.at, age_hours=age, wait_reason=row.wait_reason,
        deal_value=None if row.deal_value is None else float(row.deal_value),
        sla_breached=None if sla is None or row.at is None else now - row.at > sla,
    )


def default_window(now: datetime, since: datetime | None) -> tuple[datetime, datetime]:
    return (since or now - timedelta(days=1), now)


def local_day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` in the team's time zone, as UTC instants."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def build_report(
    db: Database,
    config: Config,
    *,
    now: datetime,
    sequence: str | None = None,
    owner: str | None = None,
    since: datetime | None = None,
    window: tuple[datetime, datetime] | None = None,
    list_limit: int = LIST_LIMIT,
) -> Report:
    """Everything a manager sees, as of ``now``, for the enrollments the filters select.

    ``since`` selects enrollments enrolled on or after it and is the default start
    of the activity window; ``window`` overrides that window (the digest passes
    yesterday in the team's time zone). Lists hold at most ``list_limit`` entries,
    oldest first; their totals are always exact.
    """
    f = q.ReportFilter(sequence=sequence, owner=owner, since=since)
    window = window or default_window(now, since)
    rep_cfg = config.reporting
    stalled_after = timedelta(days=rep_cfg.stalled_after_days)
    sla = timedelta(hours=rep_cfg.reply_sla_hours)
    with db.read_session() as s:
        groups = q.status_groups(s, f)
        names = q.sequence_records(s)
        durations = q.reply_durations(s, f)
        age, nxt = q.aging_histograms(s, f, now=now)
        overdue = q.overdue_by_reason(s, f, now=now, stalled_after=stalled_after)
        stalled = q.stalled_leads(s, f, now=now, stalled_after=stalled_after, limit=list_limit)
        unanswered_n, breaches = q.unanswered_counts(s, f, now=now, sla=sla)
        unanswered = q.unanswered_replies(s, f, limit=list_limit)
        pipeline = q.pipeline_value(s, f)
        variants = q.variant_figures(s, f)
        events = q.events_by_kind(s, f, window=window)
        replied_in_window, answered_in_window = q.reply_activity(s, f, window=window)
        unknown_states = sum(g.count for g in groups if g.status not in lifecycle.STATES)
        violation_count = q.safety_violation_count(s, f) + unknown_states
        violations = (
            q.safety_violations(s, f, limit=list_limit, unknown_states=bool(unknown_states))
            if violation_count
            else []
        )
        task_figures = _task_figures(s, f, now=now, sla_hours=rep_cfg.task_sla_hours, limit=list_limit)
        speed = _speed_to_lead(s, f, limit=list_limit)
    # An open task overdue past the SLA is a lead at risk: the lead-safety check fails on it.
    violation_count += task_figures.at_risk
    ttr, tta = _percentiles(durations)

    def steps_of(seq: str | None) -> int:
        return names.get(seq, ("", 0))[1] if seq else 0

    totals = Figures()
    per_seq: dict[str, Figures] = {}
    per_rep: dict[str | None, Figures] = {}
    per_pair: dict[tuple[str, str | None], Figures] = {}
    for g in groups:
        steps = steps_of(g.sequence_id)
        seq_fig = per_seq.setdefault(g.sequence_id, Figures(g.sequence_id, names.get(g.sequence_id, (None,))[0]))
        pair_fig = per_pair.setdefault(
            (g.sequence_id, g.owner), Figures(g.sequence_id, seq_fig.sequence_name, g.owner)
        )
        rep_fig = per_rep.setdefault(g.owner, Figures(owner=g.owner))
        for fig in (totals, seq_fig, rep_fig, pair_fig):
            _add(fig, g, steps)
    for key, fig in [(("total",), totals), *((("sequence", k), v) for k, v in per_seq.items()),
                     *((("rep", k), v) for k, v in per_rep.items()),
                     *((("pair", *k), v) for k, v in per_pair.items())]:
        fig.time_to_reply = ttr.get(key, Duration())
        fig.time_to_answer = tta.get(key, Duration())

    activity = Activity(
        start=window[0], end=window[1],
        enrolled=events.get("enrolled", 0),
        touches_sent=events.get("sent", 0),
        replies=replied_in_window,
        answered=answered_in_window,
        finished=sum(events.get(kind, 0) for kind in FINISHED_EVENTS),
        events=dict(sorted(events.items())),
    )
    active = totals.active
    overdue_total = sum(n for _, n, _ in overdue)
    stalled_total = sum(st for _, _, st in overdue)
    replies_answered = totals.time_to_answer.n
    return Report(
        schema_version=SCHEMA_VERSION,
        generated_at=now,
        timezone=config.timezone,
        filters={"sequence": sequence, "owner": owner, "since": since},
        totals=_finish(totals),
        sequences=[_finish(per_seq[k]) for k in sorted(per_seq)],
        reps=[_finish(per_rep[k]) for k in sorted(per_rep, key=lambda r: (r is None, r or ""))],
        sequence_reps=[
            _finish(per_pair[k]) for k in sorted(per_pair, key=lambda k: (k[0], k[1] is None, k[1] or ""))
        ],
        variants=[q_variant(*v) for v in variants],
        aging=Aging(
            active=active,
            since_last_touch=[Bucket(label, age.get(i, 0)) for i, label in enumerate(AGE_LABELS)],
            until_next_touch=[Bucket(label, nxt.get(i, 0)) for i, label in sorted(NEXT_LABELS.items())],
            overdue=overdue_total,
            stalled=stalled_total,
            stalled_after_days=rep_cfg.stalled_after_days,
            overdue_by_reason=[OverdueReason(r or "(no reason recorded)", n, st) for r, n, st in overdue],
            stalled_leads=[_lead(r, now) for r in stalled],
        ),
        replies=Replies(
            total=totals.replies,
            answered=replies_answered,
            unanswered=unanswered_n,
            sla_hours=rep_cfg.reply_sla_hours,
            sla_breaches=breaches,
            time_to_answer=totals.time_to_answer,
            unanswered_replies=[_lead(r, now, sla) for r in unanswered],
        ),
        pipeline=_pipeline(pipeline),
        activity=activity,
        safety=SafetyCheck(
            ok=violation_count == 0, violations=violation_count,
            items=[*(_lead(r, now) for r in violations), *task_figures.at_risk_items][:list_limit],
        ),
        tasks=task_figures,
        speed_to_lead=speed,
    )


def _task_figures(s: Any, f: q.ReportFilter, *, now: datetime, sla_hours: float, limit: int) -> TaskFigures:
    from sequencer.db import tasks as tq

    scope = {"owner": f.owner, "sequence": f.sequence}
    sla_cut = now - timedelta(hours=sla_hours)
    at_risk = tq.overdue_tasks(s, overdue_before=sla_cut, limit=limit, **scope)
    items = [
        Lead(
            enrollment_id=x.enrollment.id, email=x.prospect.display_email, name=x.prospect.name,
            company=x.prospect.company, owner=x.task.owner, sequence_id=x.enrollment.sequence_id,
            status=x.enrollment.status,
            reason=f"task {x.task.id} overdue past the {sla_hours:g} h SLA: {x.task.title}",
            step=x.task.step, at=x.task.due_at, age_hours=round((now - x.task.due_at).total_seconds() / 3600, 2),
            wait_reason=x.enrollment.wait_reason, deal_value=tq.deal_value(x.prospect.deal_value),
            sla_breached=True,
        )
        for x in at_risk
    ]
    overdue_items = [
        OverdueTask(
            enrollment_id=x.enrollment.id, email=x.prospect.display_email, name=x.prospect.name,
            company=x.prospect.company, owner=x.task.owner, sequence_id=x.enrollment.sequence_id,
            status=x.enrollment.status, reason=f"task {x.task.id} overdue: {x.task.title}",
            step=x.task.step, at=x.task.due_at, age_hours=round((now - x.task.due_at).total_seconds() / 3600, 2),
            wait_reason=x.enrollment.wait_reason, deal_value=tq.deal_value(x.prospect.deal_value),
            sla_breached=x.task.due_at < sla_cut, task_id=x.task.id, title=x.task.title,
        )
        for x in tq.overdue_tasks(s, overdue_before=now, limit=limit, **scope)
    ]
    far_future = now + timedelta(days=36500)
    return TaskFigures(
        open=tq.overdue_task_count(s, overdue_before=far_future, **scope),
        overdue=tq.overdue_task_count(s, overdue_before=now, **scope),
        at_risk=tq.overdue_task_count(s, overdue_before=sla_cut, **scope),
        sla_hours=sla_hours,
        at_risk_items=items,
        overdue_items=overdue_items,
    )


def _speed_to_lead(s: Any, f: q.ReportFilter, *, limit: int) -> SpeedToLead:
    """Inbound message -> first touch or the rep's first manual email, in minutes, per rep."""
    from sequencer.db import leads as tq

    leads = [
        lead for lead in tq.list_leads(s, since=f.since, statuses=("enrolled", "existing"), owner=f.owner, limit=100000)
        if lead.enrollment_id is not None
    ]
    first = tq.first_responses(s, [lead.enrollment_id for lead in leads if lead.enrollment_id is not None])
    per_rep: dict[str | None, list[float | None]] = {}
    for lead in leads:
        response = first.get(lead.enrollment_id)  # type: ignore[arg-type]
        minutes = None if response is None else max(0.0, (response[0] - lead.received_at).total_seconds() / 60)
        per_rep.setdefault(lead.owner, []).append(minutes)

    def figures(values: list[float | None]) -> tuple[int, int, float | None, float | None]:
        done = sorted(v for v in values if v is not None)
        if not done:
            return len(done), len(values) - len(done), None, None
        return len(done), len(values) - len(done), round(nearest_rank(done, 50), 1), round(nearest_rank(done, 90), 1)

    reps = []
    for owner in sorted(per_rep, key=lambda o: (o is None, o or "")):
        responded, waiting, median, p90 = figures(per_rep[owner])
        reps.append(RepSpeed(owner, len(per_rep[owner]), responded, waiting, median, p90))
    responded, waiting, median, p90 = figures([v for values in per_rep.values() for v in values])
    unusable = tq.list_leads(s, since=f.since, statuses=("no_address", "failed"), limit=limit)
    return SpeedToLead(
        leads=len(leads), responded=responded, waiting=waiting, median_minutes=median, p90_minutes=p90,
        per_rep=reps,
        unusable=tq.count_leads(s, statuses=("no_address", "failed"), since=f.since),
        unusable_items=[
            {"id": u.id, "received_at": u.received_at, "mailbox": u.mailbox, "from": u.from_addr,
             "subject": u.subject, "status": u.status, "reason": u.reason}
            for u in unusable
        ],
    )


def q_variant(sequence_id: str, step: int, variant: str, sent: int, replies: int) -> Variant:
    return Variant(sequence_id, step, variant, sent, replies, _rate(replies, sent))


def _pipeline(rows: dict[str, tuple[int, Decimal]]) -> list[PipelineState]:
    def get(*cats: str) -> tuple[int, float]:
        n = sum(rows.get(c, (0, Decimal(0)))[0] for c in cats)
        v = sum((rows.get(c, (0, Decimal(0)))[1] for c in cats), Decimal(0))
        return n, float(v)

    combos: Iterable[tuple[str, tuple[str, ...]]] = (
        ("in_sequence", ("in_sequence",)),
        ("replied", ("replied",)),
        ("unanswered", ("unanswered",)),
        ("at_risk", ("at_risk",)),
        ("closed", ("closed",)),
    )
    return [PipelineState(state, PIPELINE_LABELS[state], *get(*cats)) for state, cats in combos]


def figure_fields() -> list[str]:
    """Field names of ``Figures`` in JSON order (for documentation and the dashboard)."""
    return [f.name for f in fields(Figures)]
