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

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.db import counted
from sequencer.db import report_leads as lists
from sequencer.db import reports as q
from sequencer.db.intents import coming_back, intent_counts
from sequencer.db.session import Database
from sequencer.reporting import ab, rep_work, stages
from sequencer.reporting.deliverability import deliverability
from sequencer.reporting.model import (
    STATE_COLUMNS,
    Activity,
    Aging,
    Bucket,
    ComingBack,
    Duration,
    Figures,
    Headline,
    IntentCount,
    Lead,
    OverdueReason,
    PipelineState,
    Replies,
    Report,
    SafetyCheck,
    Variant,
    nearest_rank,
)

SCHEMA_VERSION = 1
# Event kinds that mean "this enrollment finished" (unenrolled is not a finish: it never counted).
FINISHED_EVENTS = tuple(
    lifecycle.EVENT_FOR[state] for state in lifecycle.STATES
    if state in lifecycle.FINISHED_STATES and state != lifecycle.UNENROLLED
)
LIST_LIMIT = 200
AGE_LABELS = ("<1d", "1-3d", "3-7d", "7-14d", "14-30d", "30d+")
NEXT_LABELS = {-2: "unscheduled", -1: "overdue", 0: "<1d", 1: "1-3d", 2: "3-7d", 3: "7d+"}
PIPELINE_LABELS = {
    "in_sequence": "In sequence (active + paused)",
    "replied": "Replied",
    "unanswered": "Replies not yet answered",
    "at_risk": "Finished without reply (at risk)",
    "closed": "Closed (bounced, unsubscribed, stopped, failed)",
}

# ---------------------------------------------------------------- building


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


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


def _lead(row: lists.LeadRow, now: datetime, sla: timedelta | None = None) -> Lead:
    age = round((now - row.at).total_seconds() / 3600, 2) if row.at else None
    return Lead(
        enrollment_id=row.enrollment_id, email=row.email, name=row.name, company=row.company,
        owner=row.owner, sequence_id=row.sequence_id, status=row.status, reason=row.status_reason,
        step=row.step, at=row.at, age_hours=age, wait_reason=row.wait_reason,
        deal_value=None if row.deal_value is None else float(row.deal_value),
        sla_breached=None if sla is None or row.at is None else now - row.at > sla,
    )


def default_window(now: datetime, since: datetime | None, until: datetime | None = None) -> tuple[datetime, datetime]:
    end = min(until, now) if until is not None else now
    return (since or end - timedelta(days=1), end)


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
    until: datetime | None = None,
) -> Report:
    """Everything a manager sees, as of ``now``, for the enrollments the filters select.

    ``since``/``until`` select enrollments enrolled in [since, until) and are the
    default activity window; ``window`` overrides that window (the digest passes
    yesterday in the team's time zone). Lists hold at most ``list_limit`` entries,
    oldest first; their totals are always exact. Reads only: one read-only session,
    so every figure comes from the same snapshot; nothing is committed.
    """
    f = q.ReportFilter(sequence=sequence, owner=owner, since=since, until=until)
    window = window or default_window(now, since, until)
    rep_cfg = config.reporting
    stalled_after = timedelta(days=rep_cfg.stalled_after_days)
    sla = timedelta(hours=rep_cfg.reply_sla_hours)
    with db.read_session() as s:
        groups = counted.status_groups(s, f)
        names = q.sequence_records(s)
        durations = q.reply_durations(s, f)
        age, nxt = q.aging_histograms(s, f, now=now)
        overdue = q.overdue_by_reason(s, f, now=now, stalled_after=stalled_after)
        stalled = lists.stalled_leads(s, f, now=now, stalled_after=stalled_after, limit=list_limit)
        unanswered_n, breaches = q.unanswered_counts(s, f, now=now, sla=sla)
        unanswered = lists.unanswered_replies(s, f, limit=list_limit)
        pipeline = counted.pipeline_value(s, f)
        variants = q.variant_figures(s, f)
        events = q.events_by_kind(s, f, window=window)
        replied_in_window, answered_in_window = q.reply_activity(s, f, window=window)
        unknown_states = sum(g.count for g in groups if g.status not in lifecycle.STATES)
        violation_count = lists.safety_violation_count(s, f) + unknown_states
        violations = (
            lists.safety_violations(s, f, limit=list_limit, unknown_states=bool(unknown_states))
            if violation_count
            else []
        )
        task_figures = rep_work.task_figures(s, f, now=now, sla_hours=rep_cfg.task_sla_hours, limit=list_limit)
        speed = rep_work.speed_to_lead(s, f, limit=list_limit)
        stage_figs, rotting = stages.stage_figures(
            s, f, now=now, thresholds=rep_cfg.rotting_days, limit=list_limit
        )
        sending = deliverability(s, config, f, window=window)
        intent_rows = [IntentCount(*row) for row in intent_counts(s, f)]
        back = _coming_back(coming_back(s, f))
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
    variant_rows = [q_variant(*v) for v in variants]
    pipeline_states = _pipeline(pipeline)
    value = {p.state: p.value for p in pipeline_states}
    _finish(totals)
    headline = Headline(
        enrolled=totals.enrolled,
        in_sequence=totals.active + totals.paused,
        replies=totals.replies,
        reply_rate=totals.reply_rate,
        unanswered=unanswered_n,
        sla_breaches=breaches,
        stalled=stalled_total,
        tasks_overdue=task_figures.overdue,
        value_at_risk=round(value.get("at_risk", 0.0) + value.get("unanswered", 0.0), 2),
        rotting=sum(st.rotting for st in stage_figs),
    )
    return Report(
        schema_version=SCHEMA_VERSION,
        generated_at=now,
        timezone=config.timezone,
        filters={"sequence": sequence, "owner": owner, "since": since, "until": until},
        totals=totals,
        sequences=[_finish(per_seq[k]) for k in sorted(per_seq)],
        reps=[_finish(per_rep[k]) for k in sorted(per_rep, key=lambda r: (r is None, r or ""))],
        sequence_reps=[
            _finish(per_pair[k]) for k in sorted(per_pair, key=lambda k: (k[0], k[1] is None, k[1] or ""))
        ],
        variants=variant_rows,
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
        pipeline=pipeline_states,
        activity=activity,
        safety=SafetyCheck(
            ok=violation_count == 0, violations=violation_count,
            items=[*(_lead(r, now) for r in violations), *task_figures.at_risk_items][:list_limit],
        ),
        tasks=task_figures,
        speed_to_lead=speed,
        steps=ab.step_figures(variant_rows),
        headline=headline,
        stages=stage_figs,
        rotting_leads=rotting,
        deliverability=sending,
        intents=intent_rows,
        coming_back=back,
    )


def _coming_back(rows: list[tuple[datetime | None, Decimal | None]]) -> list[ComingBack]:
    months: dict[str, tuple[int, float]] = {}
    for at, value in rows:
        key = at.strftime("%Y-%m") if at else "unscheduled"
        n, total = months.get(key, (0, 0.0))
        months[key] = (n + 1, total + float(value or 0))
    return [ComingBack(k, n, round(v, 2)) for k, (n, v) in sorted(months.items())]


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
