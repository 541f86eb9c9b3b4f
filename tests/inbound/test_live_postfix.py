"""A real Postfix bounces real touches, and the poll acts on its DSNs as a careful person would.

The rep's mailbox sends through a private Postfix (``tests/mta.py``) that relays to a server
refusing like real receiving servers do (``tests/classify/samples/make/sink.py``): unknown
user 550 5.1.1 at RCPT, mailbox full 552 5.2.2 at RCPT, a policy block 554 5.7.1 at DATA,
greylisting 451 4.7.1 for ever. ``tick`` sends the touches; Postfix writes its DSNs itself
(bounces at once, a delay warning after seconds, an expiry when the queue lifetime runs
out) into the rep's Dovecot INBOX; ``poll`` reads them. Only the unknown user is bounced and
suppressed; the full mailbox, the policy block and the expiry after 4xx are soft (the next
touch waits); the delay warning stops, holds and counts nothing.

The other MTAs' DSNs are the saved real samples of ``test_real_mta.py``: Debian's MTA
packages conflict, so only Postfix can be installed next to the suite.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from sequencer.clock import ManualClock
from sequencer.db.models import Event, Suppression
from sequencer.db.session import Database
from sequencer.inbound.effects import SOFT_BOUNCE_DELAY
from sequencer.inbound.poll import inbound_messages
from tests.kit import World
from tests.mta import QUEUE_LIFETIME, Postfix
from tests.servers import MailEnv, ServerMissing

pytestmark = pytest.mark.servers

REMOTE = "fabrikam.example"  # relayed to the refusing sink
DSN_WAIT = QUEUE_LIFETIME + 20.0  # seconds: the longest Postfix needs, plus a slow machine


@pytest.fixture(scope="module")
def postfix(mail_session: MailEnv) -> Iterator[Postfix]:
    root = Path(tempfile.mkdtemp(prefix="seq-postfix-"))
    try:
        server = Postfix.start(
            root,
            lmtp_port=mail_session.dovecot.lmtp_port,
            auth_socket=mail_session.dovecot.root / "run" / "auth-client",
        )
    except ServerMissing as exc:  # the live MTA test must never go green by skipping
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"required test server missing: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def world(
    tmp_path: Path, db: Database, mail: MailEnv, clock: ManualClock, postfix: Postfix
) -> World:
    smtp = {"host": "127.0.0.1", "port": postfix.port, "security": "none"}
    return World(tmp_path, db, mail, clock, sequence="quote", smtp=smtp)


def wait_for_dsns(
    world: World, postfix: Postfix, done: Callable[[list[EmailMessage]], bool]
) -> list[EmailMessage]:
    """The rep's INBOX once ``done(messages)``, retrying Postfix's queue meanwhile."""
    deadline = time.monotonic() + DSN_WAIT
    while True:
        msgs = world.mail.fetch_all(world.rep)
        if done(msgs):
            return msgs
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Postfix DSNs did not arrive: {[m['Subject'] for m in msgs]}\n{postfix.log()[-3000:]}"
            )
        postfix.flush()
        time.sleep(0.3)


def subjects(msgs: list[EmailMessage]) -> list[str]:
    return sorted(str(m["Subject"]) for m in msgs)


def events(world: World, enrollment_id: int) -> list[str]:
    with world.db.session() as s:
        return list(s.scalars(select(Event.kind).where(Event.enrollment_id == enrollment_id)))


def suppressed(world: World) -> list[str]:
    with world.db.session() as s:
        return sorted(s.scalars(select(Suppression.value)))


def verdicts(world: World) -> dict[str, tuple[str | None, str]]:
    """Each failed recipient's (severity, trust) from the stored bounce verdicts, newest first."""
    found: dict[str, tuple[str | None, str]] = {}
    for row in inbound_messages(world.db, kinds=["bounce"]):
        for rcpt in row["recipients"]:
            found.setdefault(rcpt, (row["severity"], row["trust"]))
    return found


def test_postfix_dsns_act_on_the_enrollments_end_to_end(world: World, postfix: Postfix) -> None:
    tag = uuid.uuid4().hex[:8]
    addr = {k: f"{k}-{tag}@{REMOTE}" for k in ("nobody", "full", "policy", "grey", "fine")}
    eid = {k: world.enroll(a, name=f"{k.title()} Prospect") for k, a in addr.items()}

    sent = world.tick()
    assert sent.sent == 5, sent
    planned = {k: world.enrollment(e).next_send_at for k, e in eid.items()}

    # Three bounces at once (5xx at RCPT or DATA) and, seconds later, the delay warning.
    # The greylisted touch is put on hold as soon as its warning is in: its expiry waits for
    # the first poll instead of racing it, however slow the machine.
    msgs = wait_for_dsns(world, postfix, lambda m: len(m) >= 4)
    postfix.hold_deferred()
    assert subjects(msgs) == [
        "Delayed Mail (still being retried)",
        *["Undelivered Mail Returned to Sender"] * 3,
    ]
    result = world.poll()
    assert result.ok, result.error
    assert result.replies == 0 and result.notified == 0

    assert verdicts(world) == {
        addr["nobody"]: ("hard", "trusted"),
        addr["full"]: ("soft", "trusted"),
        addr["policy"]: ("soft", "trusted"),
        addr["grey"]: ("soft", "trusted"),
    }
    assert world.enrollment(eid["nobody"]).status == "bounced"
    assert suppressed(world) == [addr["nobody"]]
    for soft in ("full", "policy"):
        e = world.enrollment(eid[soft])
        assert e.status == "active" and "soft_bounce" in events(world, eid[soft]), soft
        assert e.next_send_at is not None and e.next_send_at >= world.clock.now() + SOFT_BOUNCE_DELAY
    grey = world.enrollment(eid["grey"])
    assert grey.status == "active" and grey.next_send_at == planned["grey"]  # nothing held
    assert "delivery_delayed" in events(world, eid["grey"])
    assert "soft_bounce" not in events(world, eid["grey"])
    fine = world.enrollment(eid["fine"])
    assert fine.status == "active" and fine.next_send_at == planned["fine"]

    # The greylisting never ends: Postfix gives up when the queue lifetime runs out.
    postfix.release_held()
    msgs = wait_for_dsns(world, postfix, lambda m: len(m) >= 5)
    assert subjects(msgs).count("Undelivered Mail Returned to Sender") == 4
    result = world.poll()
    assert result.ok, result.error
    assert result.replies == 0
    grey = world.enrollment(eid["grey"])
    assert grey.status == "active" and "soft_bounce" in events(world, eid["grey"])
    assert grey.next_send_at is not None and grey.next_send_at >= world.clock.now() + SOFT_BOUNCE_DELAY
    assert suppressed(world) == [addr["nobody"]]
    assert world.enrollment(eid["fine"]).status == "active"
