"""How many touches a mailbox may claim now: daily limit, per-minute rate, spacing.

Pure: the caller reads the counts (under the mailbox's lock, so workers share one
budget) and the clock, and draws the random spacing; this module only does the
arithmetic, so the policy is tested without a database.

- ``daily_limit`` counts touches since midnight in the mailbox's zone (``day_start``);
- ``per_minute`` is a sliding window: touches sent or in flight in the last 60 s;
- with ``max_spacing_seconds`` > 0 one touch goes at a time, the next not before a
  random gap between ``min_spacing_seconds`` and ``max_spacing_seconds`` (and never
  closer than ``60 / per_minute``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A claim scans this many due enrollments beyond its allowance, so those it cannot send
# now (outside their window, over the limit) are deferred in the same pass.
SCAN_AHEAD = 50


@dataclass(frozen=True)
class Limits:
    daily_limit: int
    per_minute: float
    min_spacing_seconds: float
    max_spacing_seconds: float
    batch_size: int

    @property
    def spaced(self) -> bool:
        return self.max_spacing_seconds > 0


@dataclass(frozen=True)
class Counts:
    """What the mailbox has used: since local midnight, in the last minute, and its pace."""

    sent_today: int
    sent_last_minute: int
    next_send_allowed_at: datetime | None


@dataclass(frozen=True)
class Allowance:
    """``touches`` may be claimed now; ``daily_left`` <= 0 means today's limit is spent."""

    touches: int
    daily_left: int
    paced: bool  # the spacing gap since the last touch has not passed yet
    spaced: bool
    batch_size: int

    def may_claim(self, *, dry_run: bool = False) -> bool:
        """Whether a claim pass is worth it. With the daily limit spent it is: the pass
        moves the due touches to the next morning. A dry run ignores the spacing gap."""
        if self.daily_left <= 0:
            return True
        if self.paced and not dry_run:
            return False
        return self.touches > 0

    @property
    def scan(self) -> int:
        """How many due enrollments one claim reads."""
        return self.touches + SCAN_AHEAD if self.touches else self.batch_size

    def claim_again(self, claimed: int) -> bool:
        """After a claim of ``claimed`` touches: may another claim follow at once?"""
        return claimed > 0 and claimed >= self.touches and not self.spaced


def allowance(now: datetime, counts: Counts, limits: Limits) -> Allowance:
    """The mailbox's budget at ``now``."""
    daily_left = limits.daily_limit - counts.sent_today
    paced = counts.next_send_allowed_at is not None and counts.next_send_allowed_at > now
    rate_left = max(1, int(limits.per_minute)) - counts.sent_last_minute
    wanted = 1 if limits.spaced else rate_left
    touches = max(0, min(wanted, rate_left, daily_left, limits.batch_size))
    return Allowance(touches, daily_left, paced, limits.spaced, limits.batch_size)


def spacing_gap(limits: Limits, draw: float) -> timedelta:
    """The gap after a spaced touch; ``draw`` is a uniform random number in [0, 1)."""
    lo = min(limits.min_spacing_seconds, limits.max_spacing_seconds)
    spread = lo + (limits.max_spacing_seconds - lo) * draw
    return timedelta(seconds=max(60.0 / limits.per_minute, spread))


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of ``now``'s day in ``tz``, in UTC: where the daily limit starts counting."""
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time.min, tz).astimezone(UTC)


def next_day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The next midnight in ``tz`` (an aware local time): where a spent limit resets."""
    local = now.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time.min, tz)


__all__ = [
    "SCAN_AHEAD",
    "Allowance",
    "Counts",
    "Limits",
    "allowance",
    "day_start",
    "next_day_start",
    "spacing_gap",
]
