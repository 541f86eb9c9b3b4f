"""A/B steps: per step and variant, touches sent and replies, and whether the gap is chance.

The variant is recorded on each message when it is claimed (``outbound.claim``), so these
figures come from the messages themselves (``db.reports.variant_figures``). The statement
is a two-sided two-proportion z-test of the best variant against the runner-up: enough to
stop a manager from crowning a winner after twenty sends, not a full experiment design.
"""

from __future__ import annotations

import math
from itertools import groupby

from sequencer.reporting.model import StepFigures, Variant, VariantFigures

# Below this p-value the difference is called "more than chance" (the usual 5 %).
SIGNIFICANCE = 0.05


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def two_proportion_p(replies_a: int, sent_a: int, replies_b: int, sent_b: int) -> float | None:
    """Two-sided p-value that two reply rates differ only by chance (None without sends on both)."""
    if sent_a <= 0 or sent_b <= 0:
        return None
    pooled = (replies_a + replies_b) / (sent_a + sent_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / sent_a + 1 / sent_b))
    if se == 0:  # both 0 % or both 100 %: no difference at all
        return 1.0
    z = (replies_a / sent_a - replies_b / sent_b) / se
    return math.erfc(abs(z) / math.sqrt(2))


def verdict(variants: list[VariantFigures], p_value: float | None) -> str:
    """One plain sentence a manager can act on."""
    sent = [v for v in variants if v.sent]
    if len(sent) < 2:
        return "Only one variant sent so far: nothing to compare yet."
    best, runner = sorted(sent, key=lambda v: (-(v.reply_rate or 0.0), v.name))[:2]
    total = sum(v.sent for v in sent)
    rates = f"{best.name} {_pct(best.reply_rate)} vs {runner.name} {_pct(runner.reply_rate)}"
    if p_value is None or p_value >= SIGNIFICANCE:
        return f"{rates}: not yet more than chance at this sample size ({total} sent, p = {_p(p_value)})."
    return f"{rates}: {best.name} gets more replies, more than chance at this sample size ({total} sent, p = {_p(p_value)})."


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def _p(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def step_figures(rows: list[Variant]) -> list[StepFigures]:
    """Group the per-variant rows by sequence and step; a step's sent is its variants' sum."""
    out = []
    for (seq, step), group in groupby(rows, key=lambda v: (v.sequence_id, v.step)):
        variants = [VariantFigures(v.variant, v.sent, v.replies, v.reply_rate) for v in group]
        sent, replies = sum(v.sent for v in variants), sum(v.replies for v in variants)
        ranked = sorted((v for v in variants if v.sent), key=lambda v: (-(v.reply_rate or 0.0), v.name))
        p_value = (
            two_proportion_p(ranked[0].replies, ranked[0].sent, ranked[1].replies, ranked[1].sent)
            if len(ranked) >= 2
            else None
        )
        more = p_value is not None and p_value < SIGNIFICANCE
        out.append(
            StepFigures(
                sequence_id=seq, step=step, sent=sent, replies=replies, reply_rate=_rate(replies, sent),
                variants=variants, p_value=None if p_value is None else round(p_value, 4),
                more_than_chance=more, verdict=verdict(variants, p_value),
            )
        )
    return out


__all__ = ["SIGNIFICANCE", "step_figures", "two_proportion_p", "verdict"]
