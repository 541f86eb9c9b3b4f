"""Every notification goes out exactly once, however many workers poll and tick at once.

Real Dovecot and the SMTP fixture, SQLite and PostgreSQL; each worker is a thread with its
own ``Database`` (its own engine and connections), started together on a barrier. What
is counted is what the SMTP fixture received.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from sequencer.db.session import Database
from sequencer.inbound.poll import poll_mailbox
from sequencer.reporting import once
from tests.kit import Project, make_project, parse, reply_to

pytestmark = pytest.mark.servers

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
REPLIES = 20


def _kinds(mail: Any) -> Counter[str]:
    """Notifications the SMTP fixture received, by kind."""
    return Counter(
        str(parse(raw)["X-Sequencer-Notification"])
        for _f, _r, raw in mail.relay.messages
        if parse(raw)["X-Sequencer-Notification"]
    )


def _poll_together(p: Project, workers: int) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def run() -> None:
        db = Database(p.db.url, migrate=False)
        try:
            barrier.wait()
            result = poll_mailbox(db, p.config, p.sequences, p.clock, "rep")
            assert result.ok, result.error
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors


def _replies_waiting(p: Project, n: int) -> None:
    """n touches sent, the inbox polled once (the workers have been running), then n replies."""
    touches = []
    for i in range(n):
        prospect = p.mail.new_address(f"lead{i}")
        eid = p.enroll(prospect, name=f"Lead {i}")
        touches.append((prospect, p.send_touch(eid, prospect)))
    # Two pollers creating a folder's sync state at the same first poll collide on
    # PostgreSQL (the poller's business, not this test's): start from a polled inbox.
    assert poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep").ok
    for i, (prospect, touch) in enumerate(touches):
        p.mail.send(
            reply_to(touch, sender=prospect, to=p.rep, body=f"Reply number {i}"), prospect, [p.rep]
        )
    p.mail.wait_for(p.rep, n)


@pytest.mark.parametrize("workers", [2, 4])
def test_many_workers_send_each_alert_and_escalation_exactly_once(
    mail: Any, db: Database, tmp_path: Path, workers: int
) -> None:
    p = make_project(mail, db, ManualClock(T0), tmp_path)
    _replies_waiting(p, REPLIES)

    _poll_together(p, workers)
    assert _kinds(mail)["reply-alert"] == REPLIES
    assert _kinds(mail)["escalation"] == 0

    p.clock.advance(timedelta(hours=5))  # past reporting.reply_sla_hours (4)
    _poll_together(p, workers)
    _poll_together(p, workers)  # and again: nothing more goes out
    kinds = _kinds(mail)
    assert (kinds["reply-alert"], kinds["escalation"]) == (REPLIES, REPLIES)
    subjects = Counter(
        str(parse(raw)["Subject"])
        for _f, _r, raw in mail.relay.messages
        if parse(raw)["X-Sequencer-Notification"] == "escalation"
    )
    assert len(subjects) == REPLIES  # one per reply, not 20 of the same
    assert once.needing_attention(db, now=p.clock.now()) == []


def test_a_crash_mid_send_is_held_for_the_operator_not_sent_again(
    mail: Any, db: Database, tmp_path: Path
) -> None:
    p = make_project(mail, db, ManualClock(T0), tmp_path)
    sender = p.config.mailbox("rep")

    def crash(_m: Any, _msg: EmailMessage, _r: Any) -> None:
        raise KeyboardInterrupt  # the worker is killed mid-conversation

    def compose(now: datetime) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = p.rep, p.manager, "notice"
        msg["X-Sequencer-Notification"] = "test-notice"
        msg.set_content("hello\n")
        return msg

    args: dict[str, Any] = dict(
        key="test:1", kind="test-notice", sender=sender, recipients=[p.manager], compose=compose
    )
    with pytest.raises(KeyboardInterrupt):
        once.send_once(db, p.clock, send=crash, worker="dead", **args)
    # another worker, later than the lease: the claim is held, nothing is sent
    p.clock.advance(once.LEASE + timedelta(seconds=1))
    assert once.send_once(db, p.clock, worker="alive", **args).status == once.TAKEN
    [held] = once.needing_attention(db, now=p.clock.now())
    assert (held.status, held.key, held.recipients) == ("held", "test:1", (p.manager,))
    assert _kinds(mail)["test-notice"] == 0

    # the operator says "it never arrived": sent once, by the next try, and only once
    assert once.resolve(db, held.id, arrived=False)
    assert once.send_once(db, p.clock, worker="alive", **args).sent
    assert once.send_once(db, p.clock, worker="other", **args).status == once.TAKEN
    assert _kinds(mail)["test-notice"] == 1
    assert once.needing_attention(db, now=p.clock.now()) == []
