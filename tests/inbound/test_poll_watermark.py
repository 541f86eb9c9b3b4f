"""The poll watermark the sender waits for: taken before the fetch, only ever forward.

A follow-up goes out only when the mailbox was polled after it fell due
(``mailbox_state.last_poll_at``); these tests check the watermark cannot claim mail
the poll has not read, on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.db.inbound import record_poll
from sequencer.db.models import Enrollment, MailboxState
from sequencer.inbound.poll import poll_mailbox
from sequencer.mail.imap import ImapConnection
from sequencer.mail.imap_fetch import FolderBatch, FolderCursor
from tests.kit import Project, make_project, reply_to

pytestmark = pytest.mark.servers


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:  # type: ignore[no-untyped-def]
    return make_project(mail, db, clock, tmp_path)


def _watermark(p: Project) -> Any:
    with p.db.session() as s:
        state = s.get(MailboxState, "rep")
        return state.last_poll_at if state else None


def _touches_to(p: Project, address: str) -> int:
    return sum(1 for _sender, rcpts, _raw in p.mail.relay.messages if address in rcpts)


def test_a_reply_landing_during_a_poll_holds_the_follow_up_until_the_next_poll(
    project: Project,
) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    started = p.clock.now()
    with p.db.session() as s:  # touch 2 falls due one minute into the poll
        row = s.get(Enrollment, eid)
        assert row is not None
        row.next_send_at = started + timedelta(minutes=1)

    class ReplyLandsAfterTheInboxWasRead(ImapConnection):
        def fetch_new(self, folder: str, cursor: FolderCursor, **kw: Any) -> Iterator[FolderBatch]:
            yield from super().fetch_new(folder, cursor, **kw)
            if folder == "INBOX":
                body = "Please hold off, we signed with someone else."
                p.mail.send(
                    reply_to(touch1, sender=prospect, to=p.rep, body=body), prospect, [p.rep]
                )
                p.clock.advance(timedelta(minutes=5))  # a slow poll: touch 2 is due by its end

    with ReplyLandsAfterTheInboxWasRead(p.config.mailbox("rep")) as connection:
        first = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep", poller=connection)
    assert first.ok and first.replies == 0  # this poll never read the reply
    assert _watermark(p) == started  # so it vouches only for what landed before it began

    cfg = ["--config", str(p.config_file()), "--at", p.clock.now().isoformat()]
    held = CliRunner().invoke(main, [*cfg, "tick", "--no-poll", "--json"])
    assert held.exit_code == 0, held.output
    assert _touches_to(p, prospect) == 1  # touch 2 waits for a poll that covers its due time
    assert p.enrollment(eid).status == "active"

    ticked = CliRunner().invoke(main, [*cfg, "tick", "--json"])  # polls first, then sends
    assert ticked.exit_code == 0, ticked.output
    assert p.enrollment(eid).status == "replied"
    assert _touches_to(p, prospect) == 1  # the reply stopped touch 2 for good


def test_the_watermark_only_moves_forward_and_a_failure_keeps_it(project: Project) -> None:
    p = project
    early, late = p.clock.now(), p.clock.now() + timedelta(minutes=10)
    with p.db.session() as s:
        record_poll(s, "rep", now=late, error=None)
    with p.db.session() as s:  # an older poll that finishes after a newer one
        record_poll(s, "rep", now=early, error=None)
    assert _watermark(p) == late
    with p.db.session() as s:
        record_poll(s, "rep", now=None, error="IMAP unreachable")
    with p.db.session() as s:
        state = s.get(MailboxState, "rep")
        assert state is not None
        assert (state.last_poll_at, state.last_poll_error) == (late, "IMAP unreachable")
    with p.db.session() as s:
        record_poll(s, "rep", now=late + timedelta(minutes=1), error=None)
    with p.db.session() as s:
        state = s.get(MailboxState, "rep")
        assert state is not None
        assert (state.last_poll_at, state.last_poll_error) == (late + timedelta(minutes=1), None)


def _cursor(db: Any) -> tuple[int, int, int | None]:
    from sequencer.db.inbound import folder_cursor

    with db.session() as s:
        row = folder_cursor(s, "rep", "INBOX")
        assert row is not None
        return row.uidvalidity, row.last_uid, row.highestmodseq


def test_two_pollers_saving_a_new_folder_cursor_at_once_both_succeed(postgres, clock) -> None:  # type: ignore[no-untyped-def]
    """Two workers' first poll of a folder: both saw no cursor, both write one.

    The second used to fail its whole store transaction (a unique violation on
    folder_state), so that poll recorded nothing it had fetched. PostgreSQL only: on
    SQLite a poll's store transaction holds the one write lock from its first read.
    """
    from sequencer.db.inbound import folder_cursor, save_folder_cursor
    from sequencer.db.session import Database

    db = Database(postgres.fresh_database())
    now = clock.now()
    with db.session() as first, db.session() as second:
        assert folder_cursor(first, "rep", "INBOX") is None
        assert folder_cursor(second, "rep", "INBOX") is None
        save_folder_cursor(first, "rep", "INBOX", uidvalidity=7, last_uid=120, highestmodseq=520, now=now)
        first.commit()
        save_folder_cursor(second, "rep", "INBOX", uidvalidity=7, last_uid=100, highestmodseq=500, now=now)
    # the slower poller read less: the cursor keeps the furthest point either reached
    assert _cursor(db) == (7, 120, 520)
    db.dispose()


def test_the_folder_cursor_only_moves_forward_until_uidvalidity_changes(db, clock) -> None:  # type: ignore[no-untyped-def]
    from sequencer.db.inbound import save_folder_cursor

    now = clock.now()
    for last_uid, modseq in ((50, 300), (80, 310), (60, 305)):
        with db.session() as s:
            save_folder_cursor(s, "rep", "INBOX", uidvalidity=7, last_uid=last_uid, highestmodseq=modseq, now=now)
    assert _cursor(db) == (7, 80, 310)
    with db.session() as s:  # the server renumbered the folder: start over from its cursor
        save_folder_cursor(s, "rep", "INBOX", uidvalidity=9, last_uid=3, highestmodseq=None, now=now)
    assert _cursor(db) == (9, 3, None)
