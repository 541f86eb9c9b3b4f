"""The dashboard over HTTP (Starlette's test client) on SQLite and PostgreSQL.

A small known history is written through the store's guarded transitions, as the
services would: two reps, one sequence, a reply waiting past the SLA, one within
it, a stalled lead, a held touch, a mailbox paused by an error, a lead with no
next step, and mail-borne text holding script payloads. The tests check what a
manager (or an attacker) would notice: redirects, refusals, escaping, figures
equal to ``sequencer report``, and actions recorded with the manager as actor.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.cli import main  # noqa: E402
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
from sequencer.reporting.model import CSV_COLUMNS  # noqa: E402
from sequencer.reporting.report import build_report  # noqa: E402
from sequencer.web.app import create_app  # noqa: E402
from sequencer.web.auth import COOKIE, WebAuth, hash_password  # noqa: E402

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


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def seeded(db: Database) -> dict[str, int]:
    return seed_history(db)


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


@pytest.fixture
def client(db: Database, seeded: dict[str, int]) -> TestClient:
    """Logged in as manager Morgan, with a password configured."""
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c)
    return c


def events(db: Database, enrollment_id: int, kind: str) -> list[Event]:
    with db.session() as s:
        return [e for e in s.query(Event).filter_by(enrollment_id=enrollment_id, kind=kind)]


# ---------------------------------------------------------------- authentication


def test_unauthenticated_requests_go_to_login_and_partials_tell_htmx(
    db: Database, seeded: dict[str, int]
) -> None:
    c = make_client(db, auth=WebAuth(token="t0ken-" + "x" * 20))
    r = c.get("/pipeline?rep=alice")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fpipeline%3Frep%3Dalice"
    r = c.get("/partial/home", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"].startswith("/login")
    assert c.get("/csv/figures.csv").status_code == 303
    assert "Dana" not in c.get("/leads/dana@prospects.example").text
    # scripts may fetch with the token as a bearer (GET only)
    r = c.get("/csv/figures.csv", headers={"Authorization": "Bearer t0ken-" + "x" * 20})
    assert r.status_code == 200 and r.text.startswith("scope,")


def test_login_sets_a_strict_httponly_signed_cookie_and_wrong_password_is_refused(
    db: Database, seeded: dict[str, int]
) -> None:
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    page = c.get("/login")
    r = c.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "Morgan", "secret": "wrong", "next": "/"},
    )
    assert r.status_code == 401 and "not right" in r.text
    assert c.get("/").status_code == 303
    r = c.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "Morgan", "secret": PASSWORD, "next": "/reps"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/reps"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert PASSWORD not in r.headers["set-cookie"]
    home = c.get("/")
    assert home.status_code == 200 and "Morgan" in home.text
    # a tampered cookie is no session at all
    c.cookies.set(COOKIE, c.cookies[COOKIE][:-2] + "xx")
    assert c.get("/").status_code == 303
    # logout ends the session
    c2 = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c2)
    r = c2.post("/logout", data={"csrf": csrf_of(c2.get("/").text)})
    assert r.status_code == 303
    assert c2.get("/").status_code == 303


def test_login_redirect_only_goes_to_paths_on_this_site(db: Database, seeded: dict[str, int]) -> None:
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    page = c.get("/login")
    r = c.post(
        "/login",
        data={
            "csrf": csrf_of(page.text),
            "name": "M",
            "secret": PASSWORD,
            "next": "//evil.example/phish",
        },
    )
    assert r.headers["location"] == "/"


def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, db: Database, seeded: dict[str, int]
) -> None:
    finn = seeded["finn"]
    for data in (
        {"enrollment_id": str(finn), "reason": "x"},
        {"enrollment_id": str(finn), "reason": "x", "csrf": "forged"},
    ):
        r = client.post("/actions/pause", data=data)
        assert r.status_code == 403
        assert "expired" in r.text
    # a token from another session does not work either
    other = make_client(db, auth=WebAuth(password_hash=password_hash()))
    r = client.post(
        "/actions/pause",
        data={"enrollment_id": str(finn), "reason": "x", "csrf": csrf_of(other.get("/login").text)},
    )
    assert r.status_code == 403
    with db.session() as s:
        assert s.get(Enrollment, finn).status == lifecycle.ACTIVE


# ---------------------------------------------------------------- pages


def test_home_puts_the_reply_over_the_sla_first_with_hours_waiting(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    table = r.text.split('id="unanswered"')[1].split("</section>")[0]
    rows = re.findall(r'<tr class="([^"]*)" data-enrollment', table)
    assert rows == ["breach", ""]
    assert table.index("Dana Whitfield") < table.index("Erin Cole")
    assert "30.0 h" in table and "1.0 h" in table
    assert 'id="unanswered-count">2<' in r.text
    text = r.text
    assert "outside the send window" in text  # finn is overdue, and why
    assert "connection lost after DATA" in text  # the held touch
    assert "authentication failed (535)" in text  # bob's mailbox is paused
    assert "Last poll:" in text and "alice" in text


def test_mail_borne_text_is_escaped_everywhere(client: TestClient) -> None:
    home = client.get("/").text
    assert "<img src=x onerror" not in home
    assert "&lt;img src=x onerror=alert(&#39;name&#39;)&gt;Mallory" in home
    lead = client.get("/leads/dana@prospects.example").text
    assert "<script>alert" not in lead and "<img src=x" not in lead
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;Re: Quote" in lead
    assert "Sounds good &lt;img src=x onerror=alert(&#39;snippet&#39;)&gt; call me" in lead
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in home.replace('<script src="/static/htmx.min.js" defer></script>', "")
    assert " style=" not in home and "<style" not in home


def test_filters_live_in_the_url_and_narrow_every_table(client: TestClient) -> None:
    r = client.get("/?rep=alice")
    unanswered = r.text.split('id="unanswered"')[1].split("</section>")[0]
    assert "Erin Cole" in unanswered and "Dana" not in unanswered
    assert '<option value="alice" selected>' in r.text
    assert "Gus" not in r.text.split('id="held"')[1]  # bob's held touch is filtered out
    assert 'hx-get="/partial/home?rep=alice"' in r.text and 'hx-trigger="every 30s"' in r.text
    partial = client.get("/partial/home?rep=alice")
    assert (
        partial.status_code == 200 and "<html" not in partial.text and "Erin Cole" in partial.text
    )
    assert client.get("/?since=yesterday").status_code == 400


def test_dashboard_figures_are_the_reports(client: TestClient, db: Database, tmp_path: Path) -> None:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db.url)))
    runner = CliRunner()
    for owner in (None, "bob"):
        args = ["--config", str(cfg), "--at", NOW.isoformat(), "report", "--format"]
        extra = ["--owner", owner] if owner else []
        cli_csv = runner.invoke(main, [*args, "csv", *extra])
        cli_json = runner.invoke(main, [*args, "json", *extra])
        assert cli_csv.exit_code == 0 and cli_json.exit_code == 0, cli_csv.output + cli_json.output
        ours = client.get("/csv/figures.csv" + (f"?rep={owner}" if owner else ""))
        assert ours.headers["content-type"].startswith("text/csv")
        assert ours.text == cli_csv.output
        figures = json.loads(cli_json.output)
        home = client.get("/" + (f"?rep={owner}" if owner else "")).text
        assert f'id="unanswered-count">{figures["replies"]["unanswered"]}<' in home
        reps = client.get("/reps" + (f"?rep={owner}" if owner else "")).text
        for rep in figures["reps"]:
            row = reps.split(f">{rep['owner']}</a></td>")[1].split("</tr>")[0]
            cells = re.findall(r'<td class="num">([^<]*)</td>', row)
            assert cells[:2] == [str(rep["active"]), str(rep["replies"])]
    sequences = list(csv.reader(io.StringIO(client.get("/csv/sequences.csv").text)))
    assert tuple(sequences[0]) == CSV_COLUMNS and {r[0] for r in sequences[1:]} == {"sequence"}


def test_pipeline_reps_sequence_and_lead_pages_render(client: TestClient, db: Database) -> None:
    pipe = client.get("/pipeline").text
    assert pipe.count('<svg class="chart"') >= 4  # value, aging, funnel, replies by touch
    # finished without reply: hal 4000; replies not yet answered: dana 3000 + erin 1000
    assert '<div class="card warn"><b>8,000.00</b> value at risk<br>' in pipe
    assert "<b>1</b> finished without reply" in pipe  # hal
    assert "Completed without reply" in pipe
    seq = client.get("/sequences/quote").text
    assert "Quote follow-up" in seq and "Steps" in seq
    lead = client.get("/leads/finn@prospects.example").text
    # next touch in the prospect's zone and in UTC: due 2026-02-27 09:00 UTC = 03:00 CST
    assert "Fri 27 Feb 2026 03:00 America/Chicago" in lead and "2026-02-27 09:00 UTC" in lead
    assert "Touch 1 sent" in lead and "by cli:alice" in lead
    for path in ("/leads/nobody@prospects.example", "/sequences/nope", "/no/such/page"):
        r = client.get(path)
        assert r.status_code == 404 and "Traceback" not in r.text and "<h1>" in r.text


def test_every_table_downloads_as_csv(client: TestClient) -> None:
    tables = [
        "unanswered",
        "stalled",
        "safety",
        "pipeline",
        "aging",
        "overdue",
        "held",
        "mailboxes",
        "variants",
        "reps",
        "sequence_reps",
        "totals",
    ]
    got = {}
    for table in tables:
        r = client.get(f"/csv/{table}.csv?rep=bob")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"], table
        got[table] = list(csv.reader(io.StringIO(r.text)))
        assert got[table] and got[table][0], table
    unanswered = got["unanswered"]
    assert [row[unanswered[0].index("email")] for row in unanswered[1:]] == [
        "dana@prospects.example"
    ]
    safety = got["safety"]  # payloads stay text (and a cell opening with = + - @ would be quoted)
    assert safety[1][safety[0].index("name")] == XSS_NAME
    assert [row[0] for row in got["held"][1:]] and got["held"][1][
        got["held"][0].index("owner")
    ] == "bob"
    assert tuple(got["reps"][0]) == CSV_COLUMNS and [r[3] for r in got["reps"][1:]] == ["bob"]
    assert client.get("/csv/secrets.csv").status_code == 404


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


def test_home_lists_overdue_rep_tasks_flags_sla_breaches_and_downloads_them(
    client: TestClient, db: Database, seeded: dict[str, int]
) -> None:
    seed_tasks(db, seeded)
    home = client.get("/").text
    section = home.split('id="tasks"')[1].split("</section>")[0]
    rows = re.findall(r'<tr class="([^"]*)" data-task="\d+">(.*?)</tr>', section, re.S)
    assert [cls for cls, _ in rows] == ["breach", ""]  # most overdue first; only gus's past the SLA
    gus, finn = (row for _, row in rows)
    assert (
        "&lt;script&gt;alert(&#39;task&#39;)&lt;/script&gt;Call Gus" in gus
        and "<script>" not in section
    )
    assert 'href="/leads/gus@prospects.example"' in gus and "<td>bob</td>" in gus
    assert "30.0 h" in gus and "breached" in gus
    assert "Call Finn about the quote" in finn and "2.0 h" in finn and "within" in finn
    assert "Send the proposal" not in section  # not due yet
    assert 'id="tasks-overdue-count">2<' in home

    alice = client.get("/?rep=alice").text.split('id="tasks"')[1].split("</section>")[0]
    assert "Call Finn" in alice and "Call Gus" not in alice
    assert "No rep task is overdue." in client.get("/?sequence=other").text

    report = build_report(db, web_config(db.url), now=NOW).to_dict()
    items = report["tasks"]["overdue_items"]
    table = list(csv.reader(io.StringIO(client.get("/csv/tasks.csv").text)))
    assert table[0] == list(items[0]) and "title" in table[0] and "sla_breached" in table[0]
    col = {name: i for i, name in enumerate(table[0])}
    assert [row[col["title"]] for row in table[1:]] == [XSS_TASK, "Call Finn about the quote"]
    assert [row[col["email"]] for row in table[1:]] == [i["email"] for i in items]
    assert table[1][col["sla_breached"]] == "True" and table[1][col["at"]] == "2026-03-01T03:00:00Z"
    bob_only = list(csv.reader(io.StringIO(client.get("/csv/tasks.csv?rep=bob").text)))
    assert [row[col["title"]] for row in bob_only[1:]] == [XSS_TASK]


# ---------------------------------------------------------------- actions


def test_pause_and_resume_are_recorded_with_the_manager_as_actor(
    client: TestClient, db: Database, seeded: dict[str, int]
) -> None:
    finn = seeded["finn"]
    lead = client.get("/leads/finn@prospects.example")
    token = csrf_of(lead.text)
    r = client.post(
        "/actions/pause",
        data={
            "csrf": token,
            "enrollment_id": str(finn),
            "reason": "on the phone with Finn",
            "next": "/leads/finn@prospects.example",
        },
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "Paused finn@prospects.example in quote: on the phone with Finn" in page
    with db.session() as s:
        e = s.get(Enrollment, finn)
        assert (e.status, e.status_reason) == ("paused", "on the phone with Finn")
    (ev,) = events(db, finn, "paused")
    assert ev.actor == "web:Morgan"
    # pausing needs a reason
    r = client.post(
        "/actions/pause", data={"csrf": token, "enrollment_id": str(seeded["gus"]), "reason": " "}
    )
    assert r.status_code == 400 and "reason" in r.text
    # pausing twice is refused as a conflict, not a crash
    r = client.post(
        "/actions/pause", data={"csrf": token, "enrollment_id": str(finn), "reason": "again"}
    )
    assert r.status_code == 409
    r = client.post(
        "/actions/resume", data={"csrf": token, "enrollment_id": str(finn), "reason": ""}
    )
    assert r.status_code == 303
    with db.session() as s:
        e = s.get(Enrollment, finn)
        assert e.status == "active" and e.next_send_at is not None and e.next_send_at >= NOW
    assert events(db, finn, "resumed")[0].actor == "web:Morgan"


def test_reassign_and_mark_handled_write_events(
    client: TestClient, db: Database, seeded: dict[str, int]
) -> None:
    token = csrf_of(client.get("/").text)
    dana = seeded["dana"]
    r = client.post(
        "/actions/reassign", data={"csrf": token, "enrollment_id": str(dana), "owner": "alice"}
    )
    assert r.status_code == 303
    with db.session() as s:
        e = s.get(Enrollment, dana)
        assert e.owner == "alice" and e.prospect.owner == "alice"
    (ev,) = events(db, dana, "owner_changed")
    assert (ev.actor, ev.data) == ("web:Morgan", {"from": "bob", "to": "alice"})
    r = client.post(
        "/actions/reassign", data={"csrf": token, "enrollment_id": str(dana), "owner": "mallory"}
    )
    assert r.status_code == 400
    r = client.post(
        "/actions/handled", data={"csrf": token, "enrollment_id": str(dana), "next": "/"}
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/?notice=")
    with db.session() as s:
        assert s.get(Enrollment, dana).answered_at == NOW
    assert events(db, dana, "reply_handled")[0].actor == "web:Morgan"
    home = client.get("/").text
    assert (
        'id="unanswered-count">1<' in home
        and "Dana Whitfield" not in home.split('id="unanswered"')[1].split("</section>")[0]
    )
    r = client.post("/actions/handled", data={"csrf": token, "enrollment_id": str(seeded["finn"])})
    assert r.status_code == 409


# ---------------------------------------------------------------- the command


def test_web_refuses_a_public_address_without_authentication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("SEQUENCER_WEB_PASSWORD_HASH", "SEQUENCER_WEB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(f"database: sqlite:///{tmp_path / 'x.db'}\n")
    r = CliRunner().invoke(main, ["--config", str(cfg), "web", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in r.output
    monkeypatch.setenv("SEQUENCER_WEB_PASSWORD_HASH", "not-a-hash")
    r = CliRunner().invoke(main, ["--config", str(cfg), "web", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 2 and "hash-password" in r.output
    monkeypatch.delenv("SEQUENCER_WEB_PASSWORD_HASH")
    monkeypatch.setenv("SEQUENCER_WEB_TOKEN", "short")
    r = CliRunner().invoke(main, ["--config", str(cfg), "web", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 2 and "shorter than 16" in r.output and "short\n" not in r.output


def test_hash_password_prints_a_verifiable_hash_and_never_the_password() -> None:
    from sequencer.web.auth import verify_password

    r = CliRunner().invoke(
        main, ["web", "hash-password", "--password-stdin"], input="s3cret pass\n"
    )
    assert r.exit_code == 0 and "s3cret" not in r.output
    encoded = r.output.strip()
    assert encoded.startswith("scrypt$") and verify_password("s3cret pass", encoded)
    assert not verify_password("s3cret pasS", encoded)


def test_behind_a_proxy_prefix_links_and_redirects_keep_the_prefix(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'prefix.db'}")
    try:
        app = create_app(web_config(), database, ManualClock(NOW), auth=WebAuth(token="t" * 24))
        c = TestClient(app, root_path="/dashboard", follow_redirects=False)
        r = c.get("/dashboard/pipeline?rep=alice")
        assert r.headers["location"] == "/dashboard/login?next=%2Fpipeline%3Frep%3Dalice"
        page = c.get(r.headers["location"])
        assert 'href="/dashboard/static/dashboard.css"' in page.text
        assert "path=/dashboard" in page.headers["set-cookie"].lower()
        r = c.post(
            "/dashboard/login",
            data={
                "csrf": csrf_of(page.text),
                "name": "M",
                "secret": "t" * 24,
                "next": "/pipeline?rep=alice",
            },
        )
        assert r.headers["location"] == "/dashboard/pipeline?rep=alice"
        assert 'hx-get="/dashboard/partial/pipeline?rep=alice"' in c.get(r.headers["location"]).text
    finally:
        database.dispose()


@pytest.mark.servers
def test_a_reply_delivered_by_mail_shows_after_a_poll_with_its_payload_inert(
    mail: Any, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    """Real SMTP delivery into Dovecot, the real poller, then the dashboard."""
    from sequencer.inbound.poll import poll_mailbox
    from tests.pollkit import make_project, reply_to

    p = make_project(mail, db, clock, tmp_path)
    prospect = mail.new_address("dana")
    eid = p.enroll(prospect)
    touch = p.send_touch(eid, prospect)
    assert mail.wait_for(prospect, 1)
    web = TestClient(
        create_app(p.config, db, clock, auth=WebAuth(), cache_seconds=0),
        base_url="http://127.0.0.1",
        follow_redirects=False,
    )
    assert "Every reply has been answered" in web.get("/").text
    clock.advance(timedelta(hours=6))
    mail.send(
        reply_to(touch, sender=prospect, to=p.rep, body=XSS_SNIPPET + "\n", subject=XSS_SUBJECT),
        prospect,
        [p.rep],
    )
    mail.wait_for(p.rep, 1)
    assert poll_mailbox(db, p.config, p.sequences, clock, "rep").ok
    home = web.get("/").text
    waiting = home.split('id="unanswered"')[1].split("</section>")[0]
    assert prospect in waiting and "0.0 h" in waiting and "within" in waiting
    clock.advance(timedelta(hours=5))  # nobody answers: past the 4 h SLA
    waiting = web.get("/").text.split('id="unanswered"')[1].split("</section>")[0]
    assert "5.0 h" in waiting and "breached" in waiting
    assert "Last poll:" in home and "never" not in home.split('id="freshness"')[1].split("</p>")[0]
    lead = web.get(f"/leads/{prospect}").text
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in lead
    assert "&lt;img src=x onerror=alert(&#39;snippet&#39;)&gt;" in lead
    assert "<script>alert" not in lead and "<img src=x" not in lead
