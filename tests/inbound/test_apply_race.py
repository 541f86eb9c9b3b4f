"""Two pollers applying the same stored messages: the loser of the race does nothing.

Real Dovecot, SQLite and PostgreSQL. The race is made certain rather than hoped for: the
second poller read the pending rows before the first one applied and committed them
(what two pollers started together do on PostgreSQL), then applies what it read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.db import inbound as inbound_q
from sequencer.db.models import Event, InboundMessage
from sequencer.db.session import Database
from sequencer.inbound import store as inbound_store
from sequencer.inbound.apply import apply_pending
from sequencer.inbound.context import own_addresses
from sequencer.mail.imap import ImapConnection
from tests.kit import make_project, reply_to

pytestmark = pytest.mark.servers

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_second_poller_applying_the_same_rows_is_a_no_op(
    mail: Any, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_project(mail, db, ManualClock(T0), tmp_path)
    for i in range(5):
        prospect = mail.new_address(f"lead{i}")
        touch = p.send_touch(p.enroll(prospect), prospect)
        mail.send(reply_to(touch, sender=prospect, to=p.rep, body="Yes, call me"), prospect, [p.rep])
    mail.wait_for(p.rep, 5)
    mailbox = p.config.mailbox("rep")
    with ImapConnection(mailbox) as connection:
        inbound_store.fetch_and_store(db, p.config, mailbox, connection, p.clock, own_addresses(p.config))
        sent_folder = connection.sent_folder()

    with db.session() as s:  # what the second poller read before the first one committed
        stale = inbound_q.pending_inbound(s, "rep", sent_folder, 500)
        s.expunge_all()
    assert len(stale) == 5

    first, _ = apply_pending(db, p.config, mailbox, p.sequences, p.clock.now(), sent_folder)
    assert (first.applied, first.replies, first.set_aside) == (5, 5, 0)

    reads = iter([stale, []])
    monkeypatch.setattr(inbound_q, "pending_inbound", lambda *a, **k: next(reads))
    other = Database(db.url, migrate=False)
    try:
        second, _ = apply_pending(other, p.config, mailbox, p.sequences, p.clock.now(), sent_folder)
    finally:
        other.dispose()
    assert (second.applied, second.replies, second.set_aside) == (0, 0, 0)
    with db.session() as s:
        errors = s.scalars(select(InboundMessage.error).where(InboundMessage.error.is_not(None))).all()
        replied = s.scalar(select(func.count()).select_from(Event).where(Event.kind == "replied"))
    assert errors == []  # nothing correctly applied is shown as "set aside"
    assert replied == 5
