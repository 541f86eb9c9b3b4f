"""The dashboard's actions, the `sequencer web` command and live mail, over HTTP on both databases.

Actions are recorded with the manager as actor; the command refuses a public address
without authentication and keeps a proxy prefix in links; a reply delivered by real
mail shows after a poll with its payload inert.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.cli import main  # noqa: E402
from sequencer.clock import ManualClock  # noqa: E402
from sequencer.db.models import Enrollment  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from sequencer.web.app import create_app  # noqa: E402
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.web.history import (  # noqa: E402
    NOW,
    XSS_SNIPPET,
    XSS_SUBJECT,
    csrf_of,
    events,
    web_config,
)

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
    assert (ev.actor, ev.data) == ("web:Morgan", {"from": "bob", "to": "alice", "tasks": 0})
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
        c = TestClient(
            app, base_url="http://127.0.0.1", root_path="/dashboard", follow_redirects=False
        )
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
    from tests.kit import make_project, reply_to

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
