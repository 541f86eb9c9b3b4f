"""What each dashboard page shows, gathered from the services the CLI uses.

Every figure comes from ``sequencer.reporting.report.build_report`` (the same function
behind ``sequencer report``), the outbox and mailbox status and the sequence files from
``sequencer.reporting.dashboard``, and a lead's history from
``sequencer.people.handling.lead_view``; this module only picks, filters and arranges
them for a page. Functions are synchronous (the app runs them in a worker thread), take
``now`` from the app's clock, and only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup

from sequencer.config import Config
from sequencer.errors import NotFound
from sequencer.people import intent_correct
from sequencer.people.handling import LeadView, lead_view
from sequencer.reporting import dashboard as reads
from sequencer.reporting.dashboard import Database, HeldTouch, MailboxStatus
from sequencer.reporting.model import Figures, Lead, Report, StepFigures, Variant
from sequencer.reporting.reps import RepFigures, rep_figures
from sequencer.web import charts
from sequencer.web.filters import Filters, report_for

REPS_PERIOD_DAYS = 28  # the Reps page's period when no date filter is set


def held_touches(db: Database, f: Filters) -> list[HeldTouch]:
    return reads.held_touches(db, owner=f.rep, sequence=f.sequence)


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
    return HomePage(report_for(db, config, now, f), held_touches(db, f), reads.mailbox_statuses(db, config))


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
    stage_chart: Markup = Markup("")


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


PIPELINE_COLORS = {
    "in_sequence": charts.BAR,
    "replied": charts.GOOD,
    "unanswered": charts.WARN,
    "at_risk": charts.BAD,
    "closed": charts.MUTED,
}


def pipeline(db: Database, config: Config, now: datetime, f: Filters) -> PipelinePage:
    r = report_for(db, config, now, f)
    return PipelinePage(
        report=r,
        funnels=[_funnel(fig) for fig in r.sequences],
        value_chart=charts.hbars(
            [(p.label, p.value) for p in r.pipeline],
            title="Pipeline value by state",
            colors=[PIPELINE_COLORS.get(p.state, charts.BAR) for p in r.pipeline],
        ),
        aging_chart=charts.histogram(
            [(b.label, b.count) for b in r.aging.since_last_touch],
            title="Active leads by days since the last touch",
        ),
        value_at_risk=r.headline.value_at_risk,
        stage_chart=charts.hbars(
            [(st.stage, st.prospects) for st in r.stages],
            title="Deals per stage",
            colors=[charts.BAR],
        ),
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
    period: tuple[datetime, datetime] | None = None
    figures: list[RepFigures] = field(default_factory=list)
    trend_chart: Markup = Markup("")


def reps(db: Database, config: Config, now: datetime, f: Filters) -> RepsPage:
    r = report_for(db, config, now, f)
    since, _ = f.instants(now)
    unanswered = reads.unanswered_by_rep(
        db, config, [fig.owner for fig in r.reps], now=now, sequence=f.sequence, since=since
    )
    rows = [
        RepRow(
            fig.owner,
            fig.active,
            fig.replies,
            fig.time_to_answer.median_hours,
            *unanswered[fig.owner],
            fig.completed,
            fig,
        )
        for fig in r.reps
    ]
    chart = charts.hbars(
        [(row.owner or "(no owner)", row.unanswered) for row in rows],
        title="Unanswered replies per rep",
        colors=[charts.WARN],
    )
    _, window = f.instants(now)
    start, end = window if f.since or f.until else (now - timedelta(days=REPS_PERIOD_DAYS), now)
    figs = rep_figures(db, config, r, now=now, start=start, end=end, sequence=f.sequence, owner=f.rep)
    trend = charts.hbars(
        [(x.owner or "(no owner)", x.touches_sent) for x in figs],
        title=f"Touches sent per rep, {start:%d %b} – {end:%d %b}",
        colors=[charts.BAR],
    )
    return RepsPage(r, rows, chart, (start, end), figs, trend)


@dataclass
class LeadPage(LeadView):
    """The lead view plus which enrollments still wait for an answer (Mark handled only there)
    and the enrollment whose reply the "Reply intent" form corrects (``intent_correct.target_of``)."""

    unanswered: frozenset[int] = frozenset()
    intent_target: int | None = None
    intent_now: str | None = None
    intent_choices: tuple[str, ...] = intent_correct.CHOICES


def lead(db: Database, config: Config, now: datetime, email: str) -> LeadPage:
    view = lead_view(db, config, email, now=now)
    waiting = reads.unanswered_enrollments(db, [e.enrollment_id for e in view.timeline.enrollments])
    target, current = (None, None)
    if view.timeline.enrollments:
        target, current = intent_correct.target_of(db, email)
    return LeadPage(view.timeline, view.next_touches, view.zone, view.owners, waiting, target, current)


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
    is_task: bool = False
    task: str | None = None


@dataclass
class SequencePage:
    sequence_id: str
    name: str
    report: Report
    figures: Figures
    steps: list[StepRow]
    variants: list[Variant]
    funnel: SequenceFunnel
    ab_steps: list[StepFigures]
    definition_error: str | None


def sequence(db: Database, config: Config, now: datetime, sequence_id: str, f: Filters) -> SequencePage:
    r = report_for(db, config, now, Filters(f.rep, sequence_id, f.since, f.until))
    figs = [fig for fig in r.sequences if fig.sequence_id == sequence_id]
    loaded, error = reads.sequence_definition(config, sequence_id, now=now)
    if not figs and loaded is None:
        raise NotFound(f"no sequence {sequence_id!r} in the database or in {config.sequences_path}")
    fig = figs[0] if figs else Figures(sequence_id, loaded.name if loaded else None)
    defined = loaded.steps if loaded else []
    steps = []
    for i in range(max(len(fig.touched), len(defined))):
        step = defined[i] if i < len(defined) else None
        sent = fig.touched[i] if i < len(fig.touched) else 0
        replies = fig.replies_by_touch[i] if i < len(fig.replies_by_touch) else 0
        steps.append(
            StepRow(
                number=i + 1,
                name=step.name if step else None,
                wait=step.wait if step else "",
                subject=step.subject if step else None,
                variants=step.variants if step else [],
                sent=sent,
                replies=replies,
                reply_rate=round(replies / sent, 4) if sent and not (step and step.is_task) else None,
                is_task=bool(step and step.is_task),
                task=step.task if step else None,
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
        ab_steps=[st for st in r.steps if st.sequence_id == sequence_id],
        definition_error=error,
    )
