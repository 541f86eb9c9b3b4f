"""How the poller talks IMAP: constant cost when idle, reconnects, UIDVALIDITY, IDLE."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from sequencer.db.models import FolderState, InboundMessage
from sequencer.inbound.poll import poll_mailbox
from sequencer.mail.imap import ImapConnection
from sequencer.mail.imap_fetch import FolderCursor
from tests.kit import Project, fill_maildir, make_project, reply_to

pytestmark = pytest.mark.servers


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:
    return make_project(mail, db, clock, tmp_path)


def poll(p: Project):  # type: ignore[no-untyped-def]
    result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert result.ok, result.error
    return result


@pytest.fixture(scope="module")
def filled_inboxes(mail_session) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """A 20-message and a 20,000-message inbox, filled once for both database backends."""
    out = {}
    for size in (20, 20_000):
        out[size] = mail_session.new_address(f"rep{size}")
        fill_maildir(mail_session, out[size], size)
    return out


def test_idle_poll_costs_the_same_commands_for_20_and_20000_messages(
    mail, db, clock, tmp_path: Path, filled_inboxes: dict[int, str]
) -> None:
    costs = {}
    for size, rep in filled_inboxes.items():
        p = make_project(mail, db, clock, tmp_path / str(size), rep=rep)
        first = poll(p)  # first sync: a bounded window of the newest mail, never all of it
        assert first.fetched <= 500
        idle = [poll(p).imap_commands for _ in range(2)]
        assert idle[0] == idle[1]
        costs[size] = idle[0]
        with db.session() as s:
            s.execute(FolderState.__table__.delete())  # the next project starts clean
    assert costs[20] == costs[20_000]
    assert costs[20] <= 6  # LOGIN, ENABLE CONDSTORE, LIST (Sent), EXAMINE INBOX, EXAMINE Sent


def test_new_mail_after_a_server_restart_is_not_missed(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    with ImapConnection(p.config.mailbox("rep"), backoff_seconds=0.2) as poller:
        assert poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep", poller=poller).ok
        p.mail.dovecot.restart()
        # Dovecot keeps running sessions across a restart; cut ours as a network loss would.
        import socket

        poller._client.socket().shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        p.mail.send(
            reply_to(touch1, sender=prospect, to=p.rep, body="Back online, yes."), prospect, [p.rep]
        )
        p.mail.wait_for(p.rep, 1)
        result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep", poller=poller)
        assert result.ok and result.replies == 1
        assert poller.reconnects >= 1
    assert p.enrollment(eid).status == "replied"


def test_unreachable_server_fails_the_poll_with_a_reason(project: Project) -> None:
    from tests.servers import free_port

    p = project
    broken = p.config.model_copy(
        update={
            "mailboxes": [
                p.config.mailboxes[0].model_copy(
                    update={
                        "imap": p.config.mailboxes[0].imap.model_copy(update={"port": free_port()})
                    }  # type: ignore[union-attr]
                )
            ]
        }
    )
    poller = ImapConnection(broken.mailbox("rep"), retries=2, backoff_seconds=0.01)
    result = poll_mailbox(p.db, broken, p.sequences, p.clock, "rep", poller=poller)
    assert not result.ok and "unreachable" in (result.error or "")
    from sequencer.db.models import MailboxState

    with p.db.session() as s:
        state = s.get(MailboxState, "rep")
        assert (
            state is not None
            and state.last_poll_at is None
            and "unreachable" in (state.last_poll_error or "")
        )


def test_uidvalidity_change_rescans_without_applying_anything_twice(project: Project) -> None:
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch1 = p.send_touch(eid, prospect)
    p.mail.send(reply_to(touch1, sender=prospect, to=p.rep, body="Yes."), prospect, [p.rep])
    p.mail.wait_for(p.rep, 1)
    poll(p)
    p.mail.wait_for(p.rep, 2)  # the alert
    poll(p)
    with p.db.session() as s:  # as if the server had rebuilt the folder
        for row in s.scalars(select(FolderState)):
            row.uidvalidity = 1
    again = poll(p)
    assert again.fetched >= 2 and again.stored == 0 and again.applied == 0
    with p.db.session() as s:
        assert (
            len(s.scalars(select(InboundMessage).where(InboundMessage.kind == "reply")).all()) == 1
        )


def test_only_new_uids_are_fetched(project: Project) -> None:
    p = project
    with ImapConnection(p.config.mailbox("rep")) as poller:
        since = p.clock.now().date()
        [empty] = list(poller.fetch_new("INBOX", FolderCursor(), since=since))
        p.mail.dovecot.deliver(p.rep, b"From: a@x.example\r\nSubject: one\r\n\r\nhi\r\n")
        p.mail.dovecot.deliver(p.rep, b"From: b@x.example\r\nSubject: two\r\n\r\nhi\r\n")
        [batch] = list(poller.fetch_new("INBOX", empty.cursor, since=since))
        assert [m.uid for m in batch.messages] == [1, 2] and not batch.rescan
        before = poller.commands
        [idle] = list(poller.fetch_new("INBOX", batch.cursor, since=since))
        assert idle.messages == () and poller.commands - before == 1  # EXAMINE only


def test_idle_returns_when_mail_arrives_and_times_out_otherwise(project: Project) -> None:
    p = project
    with ImapConnection(p.config.mailbox("rep")) as poller:
        started = time.monotonic()
        assert poller.wait_for_mail(0.5) is False
        assert time.monotonic() - started >= 0.4
        timer = threading.Timer(
            0.3,
            p.mail.dovecot.deliver,
            args=(p.rep, b"From: a@x.example\r\nSubject: hi\r\n\r\nhi\r\n"),
        )
        timer.start()
        started = time.monotonic()
        assert poller.wait_for_mail(10) is True
        assert time.monotonic() - started < 5
        timer.join()
