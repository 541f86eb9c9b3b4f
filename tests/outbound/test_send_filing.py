"""An enrollment made by filing continues the rep's own email thread from its first touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from sequencer.clock import ManualClock
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.people.enroll import enroll
from tests.kit import World

pytestmark = pytest.mark.servers

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday morning


def file_an_email(db: Database, world: World, clock: ManualClock, prospect: str) -> EmailMessage:
    """The rep emails the prospect by hand (touch 0); the email is then filed into a sequence.

    What the poller's filing sets is reproduced here from the email as the prospect
    received it: the thread root, the last Message-ID, References and the subject.
    """
    filed = EmailMessage()
    filed["From"] = world.rep
    filed["To"] = prospect
    filed["Subject"] = "Quote 1042 for Acme"
    filed["Message-ID"] = make_msgid(domain=world.rep.split("@")[1])
    filed.set_content("Hi Dana,\n\nattached is the quote we discussed.\n")
    world.mail.send(filed, world.rep, [prospect])
    [received] = world.mail.wait_for(prospect, 1)
    root = received["Message-ID"]
    r = enroll(
        db,
        world.config,
        world.sequences,
        email=prospect,
        sequence_id="quote",
        name="Dana Whitfield",
        company="Acme",
        owner="rep0",
        now=clock.now(),
        source="filing",
    )
    assert r.enrollment_id is not None
    with db.session() as s:
        s.execute(
            update(Enrollment)
            .where(Enrollment.id == r.enrollment_id)
            .values(
                thread_root_id=root,
                last_message_id=root,
                thread_refs=[root],
                thread_subject=str(received["Subject"]),
            )
        )
    return received


def test_first_touch_of_a_filed_email_replies_in_its_thread(
    db: Database, mail: Any, tmp_path: Path
) -> None:
    clock = ManualClock(T0)
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("dana")
    filed = file_an_email(db, world, clock, prospect)
    root = filed["Message-ID"]

    assert world.tick().sent == 1
    inbox = mail.wait_for(prospect, 2)
    first = next(m for m in inbox if m["Message-ID"] != root)
    assert first["Subject"] == "Re: Quote 1042 for Acme"  # not the step's own subject
    assert first["In-Reply-To"] == root
    assert first["References"].split() == [root]
    e = world.enrollment(_eid(db, prospect))
    assert e.thread_root_id == root, "the filed email stays the root of the thread"
    assert e.thread_refs == [root, first["Message-ID"]]

    # The next touch threads under both, still on the filed email's subject.
    clock.set(T0 + timedelta(days=7))
    assert world.tick().sent == 1
    second = next(
        m for m in mail.wait_for(prospect, 3) if m["Message-ID"] not in (root, first["Message-ID"])
    )
    assert second["Subject"] == "Re: Quote 1042 for Acme"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"].split() == [root, first["Message-ID"]]
    assert world.enrollment(e.id).thread_root_id == root


def test_a_filed_enrollment_waits_for_a_poll_like_any_follow_up(
    db: Database, mail: Any, tmp_path: Path
) -> None:
    """The prospect may already have answered the filed email: no touch before the inbox is read."""
    clock = ManualClock(T0)
    world = World(tmp_path, db, mail, clock, sequence="quote")
    prospect = mail.new_address("dana")
    file_an_email(db, world, clock, prospect)

    result = world.tick(poll=False)
    assert result.sent == 0 and result.deferred == {}
    assert world.enrollment(_eid(db, prospect)).wait_reason == "awaiting poll"
    assert world.tick().sent == 1


def _eid(db: Database, prospect: str) -> int:
    from sqlalchemy import select

    from sequencer.db.models import Prospect

    with db.session() as s:
        eid = s.scalar(
            select(Enrollment.id).join(Prospect).where(Prospect.email == prospect.lower())
        )
    assert eid is not None
    return eid
