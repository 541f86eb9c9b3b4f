"""A mailbox's sending budget: daily limit, per-minute rate, spacing. Pure, no fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sequencer.core.pacing import Counts, Limits, allowance, day_start, next_day_start, spacing_gap

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FAST = Limits(
    daily_limit=100, per_minute=30, min_spacing_seconds=0, max_spacing_seconds=0, batch_size=50
)
SPACED = Limits(
    daily_limit=100, per_minute=2, min_spacing_seconds=40, max_spacing_seconds=90, batch_size=50
)


def counts(today: int = 0, minute: int = 0, next_at: datetime | None = None) -> Counts:
    return Counts(sent_today=today, sent_last_minute=minute, next_send_allowed_at=next_at)


def test_unspaced_mailbox_may_claim_what_is_left_of_this_minute() -> None:
    a = allowance(NOW, counts(minute=12), FAST)
    assert a.touches == 18 and a.may_claim()


def test_the_batch_size_caps_one_claim() -> None:
    fast = Limits(
        daily_limit=1000,
        per_minute=1000,
        min_spacing_seconds=0,
        max_spacing_seconds=0,
        batch_size=50,
    )
    assert allowance(NOW, counts(), fast).touches == 50


def test_a_spent_minute_claims_nothing_until_it_rolls() -> None:
    a = allowance(NOW, counts(minute=30), FAST)
    assert a.touches == 0 and not a.may_claim()


def test_the_daily_limit_caps_the_claim_and_a_spent_limit_still_claims_to_defer() -> None:
    assert allowance(NOW, counts(today=97), FAST).touches == 3
    spent = allowance(NOW, counts(today=100), FAST)
    assert spent.touches == 0 and spent.daily_left == 0
    assert spent.may_claim(), "the pass moves today's remaining touches to tomorrow morning"


def test_a_spaced_mailbox_sends_one_at_a_time_and_waits_out_its_gap() -> None:
    free = allowance(NOW, counts(), SPACED)
    assert free.touches == 1 and free.may_claim() and not free.claim_again(1)
    waiting = allowance(NOW, counts(next_at=NOW + timedelta(seconds=5)), SPACED)
    assert waiting.paced and not waiting.may_claim()
    assert waiting.may_claim(dry_run=True), "a dry run shows what is due regardless of the gap"


def test_claim_again_only_while_the_whole_allowance_was_used() -> None:
    a = allowance(NOW, counts(), FAST)
    assert a.claim_again(30) and not a.claim_again(29) and not a.claim_again(0)


def test_spacing_gap_spans_min_to_max_and_respects_the_rate() -> None:
    assert spacing_gap(SPACED, 0.0) == timedelta(seconds=40)
    assert spacing_gap(SPACED, 0.5) == timedelta(seconds=65)
    slow = Limits(
        daily_limit=100, per_minute=1, min_spacing_seconds=10, max_spacing_seconds=20, batch_size=50
    )
    assert spacing_gap(slow, 0.9) == timedelta(seconds=60)


def test_the_day_starts_at_local_midnight() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # already Tuesday 00:30 in Berlin
    assert day_start(late, berlin) == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert next_day_start(late, berlin) == datetime(2026, 3, 4, 0, 0, tzinfo=berlin)
