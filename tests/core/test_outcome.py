"""What a failed send means: pure decisions, no servers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sequencer.core.outcome import (
    Action,
    Network,
    PauseKind,
    Phase,
    SendFailure,
    enhanced_status,
    mailbox_backoff,
    outcome,
    retry_delay,
)


def test_greylisting_at_rcpt_is_retried_and_the_mailbox_goes_on() -> None:
    failure = SendFailure("rcpt", "451 4.7.1 Greylisted", code=451, enhanced="4.7.1")
    decided = outcome(failure, 0, max_retries=8)
    assert decided.action is Action.RETRY
    assert decided.reason == "451 4.7.1 Greylisted"
    assert decided.stop_mailbox is None


@pytest.mark.parametrize(
    ("network", "words"),
    [
        ("tls", "TLS certificate not trusted"),
        ("dns", "DNS lookup failed"),
        ("refused", "connection refused"),
    ],
)
def test_an_unreachable_server_pauses_the_mailbox_and_charges_no_lead(
    network: Network, words: str
) -> None:
    decided = outcome(SendFailure("connect", "cannot connect", network=network), 7, max_retries=8)
    assert decided.action is Action.PAUSE_MAILBOX
    assert decided.pause_kind is PauseKind.UNREACHABLE and decided.pause_for is None
    assert decided.reason == f"SMTP unreachable ({words}): cannot connect"
    assert decided.stop_mailbox == decided.reason


@pytest.mark.parametrize(
    ("code", "reply", "provider", "hours"),
    [
        (421, "4.7.0 Try again later, closing connection.", "Gmail", 1),
        (550, "5.4.5 Daily user sending quota exceeded.", "Gmail", 24),
        (452, "4.5.3 Your message has too many recipients.", "Gmail", 1),
        (554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException", "Microsoft 365", 24),
        (550, "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", "Microsoft 365", 24),
        (550, "5.7.511 Access denied, banned sender", "Microsoft 365", 24),
        (421, "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred", "Yahoo", 1),
    ],
)
@pytest.mark.parametrize("phase", ["mail", "rcpt", "data"])
def test_provider_quota_codes_pause_the_mailbox_for_the_window_never_bounce(
    code: int, reply: str, provider: str, hours: int, phase: Phase
) -> None:
    failure = SendFailure(phase, f"{code} {reply}", code=code, enhanced=enhanced_status(reply))
    decided = outcome(failure, 8, max_retries=8)
    assert decided.action is Action.PAUSE_MAILBOX and decided.pause_kind is PauseKind.QUOTA
    assert decided.pause_for == timedelta(hours=hours)
    assert decided.reason.startswith(provider)


def test_mailbox_backoff_doubles_up_to_an_hour() -> None:
    assert [mailbox_backoff(n).total_seconds() for n in range(8)] == [
        60, 120, 240, 480, 960, 1920, 3600, 3600
    ]


def test_retries_give_up_after_max_retries() -> None:
    failure = SendFailure("rcpt", "451 try later", code=451)
    assert outcome(failure, 7, max_retries=8).action is Action.RETRY
    decided = outcome(failure, 8, max_retries=8)
    assert decided.action is Action.FAIL
    assert decided.reason == "gave up after 8 retries: 451 try later"


def test_no_retries_configured_fails_at_the_first_temporary_error() -> None:
    assert outcome(SendFailure("rcpt", "421", code=421), 0, max_retries=0).action is Action.FAIL


def test_a_connection_lost_after_data_is_held_never_retried() -> None:
    failure = SendFailure("data", "server disconnected", maybe_delivered=True)
    decided = outcome(failure, 0, max_retries=8)
    assert decided.action is Action.HOLD
    assert "may have accepted it (server disconnected)" in decided.reason


def test_5xx_to_rcpt_bounces_and_5xx_after_data_fails_the_touch() -> None:
    bounce = outcome(SendFailure("rcpt", "550 5.1.1 unknown user", code=550), 0, max_retries=8)
    assert (bounce.action, bounce.reason) == (Action.BOUNCE, "550 5.1.1 unknown user")
    refused = outcome(SendFailure("data", "554 5.7.1 spam", code=554), 0, max_retries=8)
    assert refused.action is Action.FAIL
    assert refused.reason == "rejected by the server: 554 5.7.1 spam"


@pytest.mark.parametrize(
    "failure",
    [
        SendFailure("auth", "SMTP refused the login for rep@x: 535 bad credentials"),
        SendFailure("auth", "no password in SEQ_PASSWORD"),
        SendFailure("mail", "server refused sender rep@x: 553 not yours", code=553),
    ],
    ids=["login", "secret", "sender"],
)
def test_mailbox_faults_pause_the_mailbox_not_the_lead(failure: SendFailure) -> None:
    decided = outcome(failure, 0, max_retries=8)
    assert decided.action is Action.PAUSE_MAILBOX
    assert decided.reason == failure.detail


def test_a_touch_that_cannot_be_built_fails() -> None:
    decided = outcome(
        SendFailure("compose", "step 2 cannot be composed: bad header"), 0, max_retries=8
    )
    assert (decided.action, decided.reason) == (
        Action.FAIL,
        "step 2 cannot be composed: bad header",
    )


def test_backoff_doubles_from_the_base() -> None:
    assert [retry_delay(n, base_seconds=300) for n in range(4)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
    ]


def test_enhanced_status_is_read_from_the_reply_text() -> None:
    assert enhanced_status("5.4.5 Daily user sending quota exceeded") == "5.4.5"
    assert enhanced_status("Greylisted, try again") is None
