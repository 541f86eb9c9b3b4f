"""The dashboard tests' known history and the helpers to drive the app over HTTP.

A small known history is written through the store's guarded transitions, as the
services would: two reps, one sequence, a reply waiting past the SLA, one within
it, a stalled lead, a held touch, a mailbox paused by an error, a lead with no
next step, and mail-borne text holding script payloads. Used by the HTTP tests
(``test_web*.py``) and the browser test.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.clock import ManualClock  # noqa: E402
from sequencer.config import Config  # noqa: E402
from sequencer.core import lifecycle  # noqa: E402
from sequencer.db.models import (  # noqa: E402
    Enrollment,
    Event,
    InboundMessage,
    MailboxState,
    Message,
    Prospect,
    SequenceRecord,
)
from sequencer.db.session import Database  # noqa: E402
from sequencer.db.store import record_event, transition  # noqa: E402
from sequencer.web.app import create_app  # noqa: E402
from sequencer.web.auth import WebAuth, hash_password  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
XSS_SUBJECT = "<script>alert('subject')</script>Re: Quote"
XSS_SNIPPET = "Sounds good <img src=x onerror=alert('snippet')> call me"
XSS_NAME = "<img src=x onerror=alert('name')>Mallory"
XSS_TASK = "<script>alert('task')</script>Call Gus"
_HASH: dict[str, str] = {}


def password_hash() -> str:
    """scrypt is slow on purpose: hash the test password once per session."""
    if "h" not in _HASH:
        _HASH["h"] = hash_password(PASSWORD)
    return _HASH["h"]


def web_config(db_url: str = "sqlite://") -> Config:
    return Config.model_validate(web_config_data(db_url))


def web_config_data(db_url: str) -> dict[str, Any]:
    """The config as a sequencer.yaml holds it (two reps' mailboxes, a 4 h reply SLA)."""
    box = {"smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"}}
    return {
        "database": db_url,
        "timezone": "Europe/Berlin",
        "mailboxes": [
            {"name": "alice", "address": "alice@sales.example", "owner": "alice", **box},
            {"name": "bob", "address": "bob@sales.example", "owner": "bob", **box},
        ],
        "reporting": {"reply_sla_hours": 4, "stalled_after_days": 2},
    }


class Seeder:
    """Writes prospects, touches, replies and transitions the way the services do."""

    def __init__(self, s: Any) -> None:
        self.s = s

    def enroll(
        self,
        who: str,
        owner: str,
        at: datetime,
        *,
        name: str | None = None,
        deal: str | None = None,
        tz: str | None = None,
    ) -> Enrollment:
        email = f"{who}@prospects.example"
        p = Prospect(
            email=email,
            display_email=email,
            name=name or who.title(),
            company=f"{who.title()} Ltd",
            owner=owner,
            timezone=tz,
            deal_value=Decimal(deal) if deal else None,
            fields={},
            created_at=at,
            updated_at=at,
        )
        self.s.add(p)
        self.s.flush()
        e = Enrollment(
            prospect_id=p.id,
            sequence_id="quote",
            mailbox=owner,
            owner=owner,
            status=lifecycle.ACTIVE,
            status_reason="enrolled",
            status_changed_at=at,
            steps_done=0,
            total_steps=3,
            next_send_at=at,
            token=secrets.token_hex(8),
            enrolled_at=at,
            thread_refs=[],
        )
        self.s.add(e)
        self.s.flush()
        record_event(self.s, now=at, kind="enrolled", actor=f"cli:{owner}", enrollment=e)
        return e

    def touch(
        self, e: Enrollment, at: datetime, *, wait_days: float = 3, status: str = "sent"
    ) -> Message:
        step = e.steps_done + 1
        m = Message(
            enrollment_id=e.id,
            step=step,
            message_id=f"<{e.id}.{step}@sales.example>",
            mailbox=e.mailbox,
            to_addr=e.prospect.email,
            subject="Your quote",
            status=status,
            claimed_at=at,
            sent_at=at if status == "sent" else None,
            attempts=1,
            error="connection lost after DATA; not found in Sent" if status == "held" else None,
        )
        self.s.add(m)
        if status == "sent":
            e.steps_done = step
            e.last_touch_at = at
            e.next_send_at = at + timedelta(days=wait_days)
            record_event(self.s, now=at, kind="sent", actor="sender", enrollment=e, step=step)
        self.s.flush()
        return m

    def reply(
        self,
        e: Enrollment,
        at: datetime,
        *,
        subject: str = "Re: Your quote",
        snippet: str = "Thanks, can we talk?",
    ) -> None:
        self.s.add(
            InboundMessage(
                mailbox=e.mailbox,
                folder="INBOX",
                uidvalidity=1,
                uid=e.id * 10 + e.steps_done,
                message_id=f"<reply.{e.id}@prospects.example>",
                from_addr=e.prospect.email,
                subject=subject,
                kind="reply",
                reason="human reply",
                refs=[],
                recipients=[],
                snippet=snippet,
                enrollment_id=e.id,
                received_at=at,
                applied=True,
                details={},
            )
        )
        transition(
            self.s,
            e,
            lifecycle.REPLIED,
            now=at,
            actor="poller",
            reason="human reply",
            step=e.steps_done,
            replied_at=at,
            replied_step=e.steps_done,
        )


def seed_history(db: Database) -> dict[str, int]:
    """The known history; returns enrollment ids by prospect handle."""
    ids: dict[str, int] = {}
    with db.session() as s:
        s.add(
            SequenceRecord(
                id="quote",
                name="Quote follow-up",
                total_steps=3,
                definition={},
                digest="x",
                loaded_at=NOW - timedelta(days=30),
            )
        )
        h = Seeder(s)
        # dana (bob): replied 30 h ago to touch 1, unanswered: over the 4 h SLA; mail holds payloads
        dana = h.enroll("dana", "bob", NOW - timedelta(days=5), name="Dana Whitfield", deal="3000")
        h.touch(dana, NOW - timedelta(days=5))
        h.reply(dana, NOW - timedelta(hours=30), subject=XSS_SUBJECT, snippet=XSS_SNIPPET)
        # erin (alice): replied 1 h ago, within the SLA
        erin = h.enroll("erin", "alice", NOW - timedelta(days=4), name="Erin Cole", deal="1000")
        h.touch(erin, NOW - timedelta(days=4))
        h.touch(erin, NOW - timedelta(days=1))
        h.reply(erin, NOW - timedelta(hours=1))
        # finn (alice): active, touch 2 due 3 days ago: stalled, waiting for the send window
        finn = h.enroll(
            "finn",
            "alice",
            NOW - timedelta(days=9),
            name="Finn Berg",
            deal="2500",
            tz="America/Chicago",
        )
        h.touch(finn, NOW - timedelta(days=9), wait_days=6)
        finn.wait_reason = "outside the send window"
        # gus (bob): active, next touch tomorrow; a touch held for the operator
        gus = h.enroll("gus", "bob", NOW - timedelta(days=2), name="Gus Ward", deal="800")
        h.touch(gus, NOW - timedelta(days=2), wait_days=3)
        h.touch(gus, NOW - timedelta(hours=3), status="held")
        # hal (alice): completed without reply (value at risk)
        hal = h.enroll("hal", "alice", NOW - timedelta(days=20), name="Hal Moss", deal="4000")
        for days in (20, 17, 14):
            h.touch(hal, NOW - timedelta(days=days))
        transition(
            s,
            hal,
            lifecycle.COMPLETED,
            now=NOW - timedelta(days=11),
            actor="sender",
            reason="all touches sent",
        )
        # mallory (bob): a name carrying a payload; active with no next touch (safety violation)
        mal = h.enroll("mallory", "bob", NOW - timedelta(days=1), name=XSS_NAME)
        mal.next_send_at = None
        s.add(MailboxState(name="alice", last_poll_at=NOW - timedelta(minutes=5)))
        s.add(
            MailboxState(
                name="bob",
                last_poll_at=NOW - timedelta(hours=2),
                paused_reason="authentication failed (535)",
                paused_at=NOW - timedelta(hours=2),
                last_poll_error="authentication failed (535)",
            )
        )
        s.flush()
        ids.update(dana=dana.id, erin=erin.id, finn=finn.id, gus=gus.id, hal=hal.id, mallory=mal.id)
    return ids


def seed_tasks(db: Database, ids: dict[str, int]) -> None:
    """Open task steps as the tasks service writes them: gus's (bob) 30 h past due, over the
    24 h task SLA, titled with a payload; finn's (alice) 2 h past due; hal's not yet due."""
    from sequencer.db import tasks as task_queries

    with db.session() as s:
        for who, title, due in (
            ("gus", XSS_TASK, NOW - timedelta(hours=30)),
            ("finn", "Call Finn about the quote", NOW - timedelta(hours=2)),
            ("erin", "Send the proposal", NOW + timedelta(hours=5)),
        ):
            e = s.get(Enrollment, ids[who])
            task_queries.create_task(
                s,
                enrollment_id=e.id,
                step=e.steps_done + 1,
                owner=e.owner,
                title=title,
                kind="call",
                due_at=due,
                now=due - timedelta(days=1),
            )


# ---------------------------------------------------------------- clients and checks


def make_client(
    db: Database, *, auth: WebAuth | None = None, clock: ManualClock | None = None
) -> TestClient:
    app = create_app(
        web_config(db.url), db, clock or ManualClock(NOW), auth=auth or WebAuth(), cache_seconds=0
    )
    return TestClient(
        app, base_url="http://127.0.0.1", raise_server_exceptions=False, follow_redirects=False
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found[1]


def login(client: TestClient, secret: str = PASSWORD, name: str = "Morgan") -> None:
    page = client.get("/login")
    r = client.post(
        "/login", data={"csrf": csrf_of(page.text), "name": name, "secret": secret, "next": "/"}
    )
    assert r.status_code == 303, r.text


def events(db: Database, enrollment_id: int, kind: str) -> list[Event]:
    with db.session() as s:
        return [e for e in s.query(Event).filter_by(enrollment_id=enrollment_id, kind=kind)]


def stage_at(db: Database, who: str, stage: str, days_ago: float) -> None:
    """Move ``who``'s deal to ``stage`` by hand, ``days_ago`` before NOW."""
    from sequencer.people.stages import move_stage

    with db.session() as s:
        pid = s.query(Prospect.id).filter(Prospect.email == f"{who}@prospects.example").scalar()
    move_stage(db, pid, stage, "manager", NOW - timedelta(days=days_ago))
