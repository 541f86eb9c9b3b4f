"""The lead page's intent correction and the Coming back page, over a real reply.

A prospect's "not now, try me in March" goes out and comes back through the real SMTP
fixture, Dovecot and poller (tests/people/test_reply_intent.py's world); the rep then
corrects the intent on the lead page: the same code as ``sequencer intent`` re-plans it
and keeps the correction on the timeline. Another rep cannot; a form without the
session's CSRF token does nothing. The Coming back page shows the report's figures per
month, each linking to exactly the leads behind it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.clock import ManualClock  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from sequencer.people import users  # noqa: E402
from sequencer.web.app import create_app  # noqa: E402
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.people.test_reply_intent import enrollments_of, intent_world, send_and_reply  # noqa: E402
from tests.web.history import csrf_of  # noqa: E402

pytestmark = pytest.mark.servers

PW = {"mona": "manager-password-1", "rep0": "rep-zero-password", "rep1": "rep-one-password"}


def sign_in(app: Any, name: str) -> TestClient:
    c = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False, follow_redirects=False)
    page = c.get("/login")
    r = c.post("/login", data={"csrf": csrf_of(page.text), "name": name, "secret": PW[name], "next": "/"})
    assert r.status_code == 303, r.text
    return c


def team_app(world: Any, db: Database, clock: ManualClock) -> Any:
    now = clock.now()
    users.add_user(db, "mona", role="manager", rep=None, password=PW["mona"], now=now)
    users.add_user(db, "rep0", role="rep", rep="rep0", password=PW["rep0"], now=now)
    users.add_user(db, "rep1", role="rep", rep="rep1", password=PW["rep1"], now=now)
    return create_app(world.config, db, clock, auth=WebAuth(), cache_seconds=0)


def intent_form(html: str) -> dict[str, str]:
    form = re.search(r'<form[^>]*id="intent-form".*?</form>', html, re.S)
    assert form, "no intent form on the lead page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0]))
    selected = re.search(r"<option selected>([^<]+)</option>", form[0])
    return {**fields, "selected": selected[1] if selected else ""}


def test_a_rep_corrects_the_intent_on_the_lead_page_and_the_plan_follows(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    eid, prospect, _ = send_and_reply(world, mail, "Not now. Try me in March.")
    first, planned = enrollments_of(db, prospect)
    app = team_app(world, db, clock)

    rep0 = sign_in(app, "rep0")
    page = rep0.get(f"/leads/{prospect}")
    assert page.status_code == 200, page.text
    form = intent_form(page.text)
    assert (form["enrollment_id"], form["selected"], form["email"]) == (str(eid), "not_now", prospect)
    assert "read as not_now" in page.text

    # Another rep may not, by form or by guessing: a 404 as for every lead-page action.
    rep1 = sign_in(app, "rep1")
    token1 = csrf_of(rep1.get("/").text)
    stolen = rep1.post("/actions/intent", data={"csrf": token1, "email": prospect, "enrollment_id": str(eid),
                                                 "intent": "not_interested", "next": "/"})
    assert stolen.status_code == 404
    # A form without the session's token (another site's) does nothing.
    forged = rep0.post("/actions/intent", data={"email": prospect, "enrollment_id": str(eid), "intent": "meeting"})
    assert forged.status_code == 403
    bad_day = rep0.post("/actions/intent", data={**form, "intent": "not_now", "on": "2020-01-01"})
    assert bad_day.status_code == 400 and "not in the future" in bad_day.text
    assert [(r.status, r.intent) for r in enrollments_of(db, prospect)] == [("replied", "not_now"), ("active", None)]

    # They meant May: the March re-engagement is cancelled, a May one planned.
    done = rep0.post("/actions/intent", data={**form, "intent": "not_now", "on": "2026-05-04"})
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(f"/leads/{prospect}")
    rows = enrollments_of(db, prospect)
    assert [(r.sequence_id, r.status) for r in rows] == [("quote", "replied"), ("reengage", "unenrolled"),
                                                         ("reengage", "active")]
    assert rows[0].reengage_on is not None and rows[0].reengage_on.isoformat() == "2026-05-04"
    assert rows[2].next_send_at is not None and rows[2].next_send_at.date().isoformat() == "2026-05-04"
    after = rep0.get(done.headers["location"])
    assert "intent not_now -&gt; not_now" in after.text and "coming back on 2026-05-04" in after.text
    shown = world.cli_json("show", prospect)
    [correction] = [x for x in shown["timeline"] if x["kind"] == "intent_corrected"]
    assert correction["actor"] == "web:rep0"
    assert (correction["detail"]["classified"], correction["detail"]["label"]) == ("not_now", "not_now")

    # The page drawn before another reply became the last one is not applied blindly.
    stale = rep0.post("/actions/intent", data={**form, "enrollment_id": str(rows[2].id), "intent": "meeting"})
    assert stale.status_code == 400 and "reload the page" in stale.text
    assert [r.status for r in enrollments_of(db, prospect)] == ["replied", "unenrolled", "active"]

    # A manager may correct any lead: it was a meeting after all.
    mona = sign_in(app, "mona")
    form = intent_form(mona.get(f"/leads/{prospect}").text)
    assert mona.post("/actions/intent", data={**form, "intent": "meeting"}).status_code == 303
    assert [r.status for r in enrollments_of(db, prospect)] == ["replied", "unenrolled", "unenrolled"]
    assert world.cli_json("show", prospect)["stage"] == "meeting"


def test_the_coming_back_page_shows_the_reports_months_and_links_to_their_leads(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    _, march, _ = send_and_reply(world, mail, "Not now. Try me in March.")
    _, later, _ = send_and_reply(world, mail, "Not right now, sorry.")  # the default 90 days: April
    send_and_reply(world, mail, "Kein Interesse, danke.")
    report = world.cli_json("report")["coming_back"]
    assert [(m["month"], m["leads"]) for m in report] == [("2026-03", 1), ("2026-04", 1)]
    app = team_app(world, db, clock)
    mona = sign_in(app, "mona")
    page = mona.get("/coming-back")
    assert page.status_code == 200, page.text
    assert 'href="/coming-back"' in page.text  # in the nav
    rows = re.findall(r'<tr data-month="([^"]+)"><td>[^<]+</td><td class="num"><a href="([^"]+)">(\d+)</a></td>'
                      r'<td class="num">([^<]*)</td>', page.text)
    assert [(m, int(n)) for m, _href, n, _v in rows] == [(m["month"], m["leads"]) for m in report]
    from sequencer.reporting.html import money

    assert [v for *_, v in rows] == [money(m["value"]) for m in report]
    for (month, href, n, _v), who in zip(rows, (march, later), strict=True):
        assert href == f"/leads?coming_back={month}"
        leads = mona.get(href.replace("&amp;", "&"))
        assert leads.status_code == 200
        listed = re.findall(r'data-email="([^"]+)"', leads.text)
        assert listed == [who] and len(listed) == int(n)
        assert f"coming back {month}" in leads.text
    assert mona.get("/leads?coming_back=2026-13").status_code == 400
    assert mona.get("/partial/coming-back").status_code == 200
    # A rep sees only their own; rep1 owns none of these leads.
    rep1 = sign_in(app, "rep1")
    assert "No lead is coming back." in rep1.get("/coming-back?rep=rep0").text
    assert re.findall(r'data-email="([^"]+)"', rep1.get("/leads?coming_back=2026-03").text) == []
