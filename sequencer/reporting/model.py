"""The report's value tree: what ``build_report`` returns and how it renders as JSON and CSV.

Plain dataclasses, no database: the CLI, the digest, the HTML report and the dashboard
all read these, so a field means the same thing everywhere. ``to_json`` is a stable
interface (INTERFACES.md): keys in declaration order, times ISO-8601 UTC with Z.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

STATE_COLUMNS = (
    "active", "paused", "replied", "bounced", "unsubscribed", "completed", "stopped", "failed",
)


def format_money(value: float) -> str:
    """The one money format of every place a figure is shown: 33,000.00."""
    return f"{value:,.2f}"


def nearest_rank(sorted_values: list[float], p: int) -> float:
    """The p-th percentile by nearest rank (``percentile_disc``): the value at rank ceil(p*n/100).

    The one percentile definition of every figure (reply times, speed to lead).
    """
    return sorted_values[max(0, (len(sorted_values) * p + 99) // 100 - 1)]


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
class VariantFigures:
    """One variant of an A/B step: touches sent with it and replies to them."""

    name: str
    sent: int
    replies: int
    reply_rate: float | None


@dataclass
class StepFigures:
    """An A/B step: its variants (whose ``sent`` add up to the step's) and the chance test."""

    sequence_id: str
    step: int
    sent: int
    replies: int
    reply_rate: float | None
    variants: list[VariantFigures]
    p_value: float | None
    more_than_chance: bool
    verdict: str


@dataclass
class StageFigures:
    """One deal stage: prospects and value in it now, how long they sit, how many rot.

    ``median_days``/``p90_days``: time in the stage so far of the prospects in it now
    (nearest rank). ``conversion``: of the deals that reached this stage, the share that
    got further (deals still open or won; a lost deal's last stage is not known).
    """

    stage: str
    prospects: int
    value: float
    rotting: int
    rotting_value: float
    rotting_after_days: float | None
    median_days: float | None
    p90_days: float | None
    conversion: float | None


@dataclass
class RottingLead:
    """A prospect over its stage's threshold (``reporting.rotting_days``)."""

    prospect_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    stage: str
    stage_since: datetime
    days_in_stage: float
    rotting_after_days: float
    deal_value: float | None


@dataclass
class Headline:
    """The summary cards, defined once: the dashboard, every report format and the digest print these.

    ``value_at_risk``: deal value of prospects whose latest enrollment finished without a
    reply plus those whose reply is still unanswered (README, "Manager reports").
    """

    enrolled: int = 0
    in_sequence: int = 0
    replies: int = 0
    reply_rate: float | None = None
    unanswered: int = 0
    sla_breaches: int = 0
    stalled: int = 0
    tasks_overdue: int = 0
    value_at_risk: float = 0.0
    rotting: int = 0


@dataclass(frozen=True)
class IntentCount:
    """Replies of one intent to one step of one sequence, by one rep."""

    sequence: str
    step: int | None
    owner: str | None
    intent: str
    replies: int


@dataclass(frozen=True)
class ComingBack:
    """Leads re-engaged in one month (``YYYY-MM``) and their deal value."""

    month: str
    leads: int
    value: float


@dataclass
class Deliverability:
    """``complaints``: spam complaints, all time, on the report's enrollments;
    ``complaints_in_window``: those in the activity window; ``awaiting_review``: untrusted
    bounces/complaints of the report's mailboxes (the owner filter's, else all) that acted
    on nobody yet, listed by ``review_command``."""

    complaints: int = 0
    complaints_in_window: int = 0
    awaiting_review: int = 0
    review_command: str = "sequencer inbound list --untrusted"


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
    steps: list[StepFigures] = field(default_factory=list)
    headline: Headline = field(default_factory=Headline)
    stages: list[StageFigures] = field(default_factory=list)
    rotting_leads: list[RottingLead] = field(default_factory=list)
    deliverability: Deliverability = field(default_factory=Deliverability)
    # Replies by intent (README, "Reply intent"): per sequence, the touch replied to, and rep.
    intents: list[IntentCount] = field(default_factory=list)
    # "Not now" leads planned to come back, by month of their first re-engagement touch (UTC).
    coming_back: list[ComingBack] = field(default_factory=list)

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

    def to_csv(self, table: str = "figures") -> str:
        """``figures`` (default), ``variants`` (one row per A/B step and variant) or ``headline``."""
        rows = {"figures": self.to_csv_rows, "variants": self.variant_rows, "headline": self.headline_rows}[table]()
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    def variant_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [list(VARIANT_COLUMNS)]
        for st in self.steps:
            for v in st.variants:
                rows.append([st.sequence_id, st.step, v.name, v.sent, v.replies, _blank(v.reply_rate),
                             st.sent, _blank(st.p_value), st.more_than_chance, st.verdict])
        return rows

    def headline_rows(self) -> list[list[Any]]:
        h = asdict(self.headline)
        return [list(h), [_blank(v) for v in h.values()]]


CSV_COLUMNS = (
    "scope", "sequence_id", "sequence_name", "owner", "enrolled", *STATE_COLUMNS, "unenrolled",
    "contacted", "replies", "finished", "reply_rate", "bounce_rate", "completion_rate",
    "median_hours_to_reply", "p90_hours_to_reply", "median_hours_to_answer", "p90_hours_to_answer",
    "touched", "replies_by_touch",
)


VARIANT_COLUMNS = (
    "sequence_id", "step", "variant", "sent", "replies", "reply_rate", "step_sent", "p_value",
    "more_than_chance", "verdict",
)
CSV_TABLES = ("figures", "variants", "headline")


def _blank(v: Any) -> Any:
    return "" if v is None else v


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
