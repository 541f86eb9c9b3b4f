"""Correcting a reply's intent in a real browser (Debian's Chromium via Playwright), SQLite and PostgreSQL.

A real "not now, try me in March" reply (SMTP fixture, Dovecot, poller); the rep opens the
lead, picks ``not_now`` with a day in May in the form and submits: the page says what was
re-planned, the timeline shows the correction, and the Coming back page (from the nav)
moved the lead from March to May, its month linking to the lead. Uses the harness of
test_web_browser.py (browser, Server).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from sequencer.db.session import Database
from sequencer.people import users
from tests.people.test_reply_intent import enrollments_of, intent_world, send_and_reply
from tests.web.test_web_browser import DESKTOP, Server, browser

__all__ = ["browser"]  # the fixture, imported for pytest

pytestmark = pytest.mark.servers
PASSWORD = "rep-zero-password"


def test_a_rep_corrects_not_now_to_may_in_chromium(
    browser: Any, db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    from sequencer.web.app import create_app
    from sequencer.web.auth import WebAuth

    world = intent_world(tmp_path, db, mail, clock)
    # Playwright's sync API keeps an event loop running in this thread; the sender and the
    # poller run theirs (asyncio.run) in another one.
    with ThreadPoolExecutor(1) as pool:
        _, prospect, _ = pool.submit(send_and_reply, world, mail, "Not now. Try me in March.").result()
    users.add_user(db, "rep0", role="rep", rep="rep0", password=PASSWORD, now=clock.now())
    app = create_app(world.config, db, clock, auth=WebAuth(), cache_seconds=0)
    with Server(app) as srv:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(srv.url + "/")
        page.fill("input[name=name]", "rep0")
        page.fill("input[name=secret]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(srv.url + "/")

        page.click("nav a:has-text('Coming back')")
        page.wait_for_url("**/coming-back*")
        assert page.locator("#coming-back tbody tr").all_inner_texts()[0].startswith("2026-03")

        page.goto(srv.url + f"/leads/{prospect}")
        assert page.locator("#intent-form select[name=intent]").input_value() == "not_now"
        page.select_option("#intent-form select[name=intent]", "not_now")
        page.fill("#intent-form input[name=on]", "2026-05-04")
        page.click("#intent-form button[type=submit]")
        page.wait_for_url(f"**/leads/{prospect}?notice=*")
        assert "intent not_now -> not_now" in page.locator(".notice").inner_text()
        assert "coming back on 2026-05-04" in page.locator(".notice").inner_text()
        assert page.locator("#timeline").get_by_text("intent not_now -> not_now").count() == 1
        assert [r.status for r in enrollments_of(db, prospect)] == ["replied", "unenrolled", "active"]

        page.click("nav a:has-text('Coming back')")
        page.wait_for_url("**/coming-back*")
        assert [t.split()[0] for t in page.locator("#coming-back tbody tr").all_inner_texts()] == ["2026-05"]
        page.click("#coming-back tbody tr a")
        page.wait_for_url("**/leads?coming_back=2026-05*")
        assert page.locator("tr[data-email]").evaluate_all("rows => rows.map(r => r.dataset.email)") == [prospect]
        assert not problems, problems
        context.close()
