"""Logins per person in a real browser (Debian's Chromium via Playwright), on SQLite and PostgreSQL.

A rep signs in and sees only their own leads (another rep's lead by URL is a 404); a
manager sees them all; after logout, the rep's old cookie replayed in a fresh browser
gets the login page. Uses the harness of test_web_browser.py (browser, Server).
"""

from __future__ import annotations

from typing import Any

from sequencer.clock import ManualClock
from sequencer.db.session import Database
from sequencer.people import users
from tests.web.history import NOW, password_hash, seed_history, web_config
from tests.web.test_web_browser import DESKTOP, Server, browser, unanswered_names

__all__ = ["browser"]  # the fixture, imported for pytest

PW = {"maria": "maria-manager-pw", "alice": "alice-rep-password"}


def sign_in(b: Any, url: str, name: str) -> tuple[Any, Any]:
    context = b.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(url + "/")
    assert page.url.startswith(url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=secret]", PW[name])
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    return context, page


def test_a_rep_sees_only_their_leads_and_logout_kills_a_copied_cookie(
    browser: Any, db: Database
) -> None:
    from sequencer.web.app import create_app
    from sequencer.web.auth import WebAuth

    seed_history(db)
    users.add_user(db, "maria", role="manager", rep=None, password=PW["maria"], now=NOW)
    users.add_user(db, "alice", role="rep", rep="alice", password=PW["alice"], now=NOW)
    app = create_app(
        web_config(db.url), db, ManualClock(NOW), auth=WebAuth(password_hash=password_hash()),
        cache_seconds=0,
    )
    with Server(app) as srv:
        rep_ctx, rep = sign_in(browser, srv.url, "alice")
        assert unanswered_names(rep) == ["Erin Cole"]
        assert "Dana" not in rep.content()
        assert rep.goto(srv.url + "/leads/dana@prospects.example").status == 404
        assert rep.goto(srv.url + "/leads/erin@prospects.example").status == 200

        boss_ctx, boss = sign_in(browser, srv.url, "maria")
        assert unanswered_names(boss) == ["Dana Whitfield", "Erin Cole"]
        boss_ctx.close()

        rep.goto(srv.url + "/")
        copied = rep_ctx.cookies()
        rep.click("form.logout button")
        rep.wait_for_url("**/login?notice=logout")
        rep_ctx.close()
        replay_ctx = browser.new_context(viewport=DESKTOP)
        replay_ctx.add_cookies(copied)
        replay = replay_ctx.new_page()
        replay.goto(srv.url + "/")
        assert replay.url.startswith(srv.url + "/login")
        assert "Erin" not in replay.content()
        replay_ctx.close()
