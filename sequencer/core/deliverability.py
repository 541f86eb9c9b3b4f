"""The deliverability guard's decision: is this mailbox hurting its own reputation?

Pure: the counts come from the database (``db.mailbox_health``), the thresholds from
``config.deliverability``. Two signals, each with the denominator that keeps a young
mailbox from being judged on a handful of touches in its favour:

- hard bounces among the mailbox's last ``window`` touches, divided by ``window`` (not
  by the touches sent so far): 4 hard bounces in a mailbox's first 10 touches are 4%
  at the default window of 100, over the 3% default, and pause it; 3 are not;
- spam complaints received over the rolling window divided by the touches sent in it
  (at least 1), so a single complaint on a few hundred touches is over Gmail's 0.3%.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Health:
    """What the guard counted for one mailbox (shown in the pause reason)."""

    bounces: int  # hard bounces among the last ``window`` touches
    touches: int  # touches among those (at most ``window``)
    window: int
    complaints: int  # complaints received in the rolling window
    sent_in_window: int  # touches sent in the rolling window
    window_days: float


def bounce_rate(h: Health) -> float:
    return h.bounces / max(h.touches, h.window, 1)


def complaint_rate(h: Health) -> float:
    return h.complaints / max(h.sent_in_window, 1)


def verdict(h: Health, *, max_bounce_rate: float, max_complaint_rate: float) -> str | None:
    """Why the mailbox must pause now (with the figure), or None while it is healthy."""
    if h.bounces and bounce_rate(h) > max_bounce_rate:
        return (
            f"deliverability: hard-bounce rate {bounce_rate(h):.1%} "
            f"({h.bounces} in the last {h.touches} touches, over a window of {h.window}) "
            f"is over {max_bounce_rate:.1%}"
        )
    if h.complaints and complaint_rate(h) > max_complaint_rate:
        return (
            f"deliverability: spam-complaint rate {complaint_rate(h):.2%} "
            f"({h.complaints} complaint(s) on {h.sent_in_window} touches in "
            f"{h.window_days:g} days) is over {max_complaint_rate:.2%}"
        )
    return None


__all__ = ["Health", "bounce_rate", "complaint_rate", "verdict"]
