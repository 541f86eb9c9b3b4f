"""The deliverability guard's thresholds: the figure, and a young mailbox on the same scale."""

from __future__ import annotations

from sequencer.core.deliverability import Health, verdict


def decide(**kw: int) -> str | None:
    base = dict(bounces=0, touches=100, window=100, complaints=0, sent_in_window=1000)
    h = Health(**{**base, **kw}, window_days=30)
    return verdict(h, max_bounce_rate=0.03, max_complaint_rate=0.003)


def test_bounce_rate_over_the_threshold_pauses_with_the_figure() -> None:
    assert decide(bounces=3) is None, "3% is not over 3%"
    assert decide(bounces=4) == (
        "deliverability: hard-bounce rate 4.0% (4 in the last 100 touches, "
        "over a window of 100) is over 3.0%"
    )


def test_a_young_mailbox_is_judged_over_the_whole_window() -> None:
    assert decide(bounces=3, touches=5) is None
    assert decide(bounces=4, touches=10) is not None


def test_complaints_over_gmail_s_rate_pause() -> None:
    assert decide(complaints=3, sent_in_window=1000) is None, "0.3% is not over 0.3%"
    reason = decide(complaints=1, sent_in_window=200)
    assert reason is not None and "spam-complaint rate 0.50%" in reason
    assert decide(complaints=1, sent_in_window=0) is not None
