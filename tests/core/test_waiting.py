"""`show EMAIL` says what the next touch waits for: the first thing that holds it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sequencer.core.waiting import waits_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def why(**kw: Any) -> str:
    base: dict[str, Any] = dict(
        status="active", status_reason="enrolled", next_send_at=NOW, wait_reason=None,
        paused_until=None, mailbox="sam", mailbox_paused=None, mailbox_paused_until=None, now=NOW,
    )
    return waits_for(**{**base, **kw})


def test_each_reason_has_its_sentence() -> None:
    assert why() == "nothing: due now, it goes at the next tick"
    assert why(wait_reason="awaiting poll").startswith("an inbox poll of sam")
    assert why(wait_reason="task: Send the proposal") == "a rep's task (Send the proposal)"
    assert why(
        wait_reason="limit", next_send_at=NOW + timedelta(days=1)
    ) == "the daily limit: 2026-03-03 09:00 UTC"
    assert why(wait_reason="window", next_send_at=NOW + timedelta(hours=1)).startswith(
        "the send window"
    )
    assert why(status="replied", status_reason="reply received", next_send_at=None) == (
        "nothing: the enrollment is replied (reply received)"
    )


def test_a_paused_mailbox_comes_before_the_touch_s_own_wait() -> None:
    text = why(wait_reason="awaiting poll", mailbox_paused="Gmail daily sending limit exceeded")
    assert text == (
        "the mailbox sam to resume (until `sequencer outbox unpause sam`): "
        "Gmail daily sending limit exceeded"
    )
