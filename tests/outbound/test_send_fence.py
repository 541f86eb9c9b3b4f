"""The last check before MAIL FROM: a reply applied while the tick waits on SMTP stops the touch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequencer.clock import ManualClock
from sequencer.db.models import Event
from sequencer.db.session import Database
from sequencer.outbound import fence
from tests.kit import World, reply_to
from tests.kit.proxy import GreetingProxy

pytestmark = pytest.mark.servers


def test_a_reply_applied_during_a_slow_greeting_stops_the_follow_up(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However long the engine trusts a group's "still ours" check, a greeting it had to
    # wait for makes it look again: the outcome cannot depend on how slow the poll is.
    monkeypatch.setattr(fence, "FRESH_SECONDS", 3600.0)
    proxy = GreetingProxy(mail.smtp_port)
    try:
        world = World(
            tmp_path,
            db,
            mail,
            clock,
            sequence="quote",
            smtp={"host": "127.0.0.1", "port": proxy.port, "security": "none"},
        )
        prospect = mail.new_address("dana")
        eid = world.enroll(prospect)
        assert world.tick().sent == 1
        [touch] = mail.wait_for(prospect, 1)
        mail.send(
            reply_to(touch["Message-ID"], sender=prospect, to=world.rep, body="Let's talk."),
            prospect,
            [world.rep],
        )
        mail.wait_for(world.rep, 1)
        due = world.enrollment(eid).next_send_at
        assert due is not None
        clock.set(due + timedelta(minutes=1))
        # The follow-up is claimed (the reply is not applied yet); while the tick waits for
        # the server's greeting, the real poller applies the reply.
        proxy.on_connect = world.poll
        result = world.tick()
        assert proxy.hook_error is None
        assert world.enrollment(eid).status == "replied"
        assert result.sent == 0
        assert result.withdrawn == {"replied": 1}
        assert len(mail.fetch_all(prospect)) == 1
        with db.session() as s:
            reasons = list(s.scalars(select(Event.reason).where(Event.kind == "send_withdrawn")))
        assert reasons == ["replied"]
    finally:
        proxy.close()
