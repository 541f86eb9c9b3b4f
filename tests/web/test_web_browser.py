"""The dashboard in a real browser: Debian's Chromium driven by Playwright, on SQLite and PostgreSQL.

The app runs under uvicorn in a thread, on a socket bound to 127.0.0.1 port 0, over the
known history of tests/test_web.py, with a password configured and pages refreshing
every second. A manager signs in, sees the reply over the SLA first, filters by rep,
opens a lead's timeline and pauses it (then ``sequencer list --json`` shows it paused
with the reason); a reply arriving meanwhile shows up without a reload; script
payloads in mail render as text; a POST without the CSRF token gets 403; a visitor
without a session lands on the login page. Screenshots go to artifacts/ (gitignored),
and the home page to docs/dashboard.png for the README (when missing, or with
SEQUENCER_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.clock import ManualClock
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from tests.web.history import (
    NOW,
    PASSWORD,
    XSS_NAME,
    XSS_SNIPPET,
    XSS_SUBJECT,
    Seeder,
    password_hash,
    seed_history,
    seed_tasks,
    stage_at,
    web_config,
    web_config_data,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"required for the browser tests in CI: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        _missing("the web extra is not installed (pip install '.[web]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Server:
    """uvicorn serving the app in a thread, on a socket bound to 127.0.0.1 port 0."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def server(db: Database) -> Iterator[tuple[Server, dict[str, int]]]:
    from sequencer.web.app import create_app
    from sequencer.web.auth import WebAuth

    ids = seed_history(db)
    app = create_app(
        web_config(db.url),
        db,
        ManualClock(NOW),
        auth=WebAuth(password_hash=password_hash()),
        refresh_seconds=1,
        cache_seconds=0,
    )
    with Server(app) as srv:
        yield srv, ids


def shot(page: Any, name: str, *, docs: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)
    readme_shot = ROOT / "docs" / "dashboard.png"
    # The README's picture is written when missing or on request, so test runs leave the tree clean.
    if docs and (not readme_shot.exists() or os.environ.get("SEQUENCER_UPDATE_SCREENSHOTS")):
        page.screenshot(path=str(readme_shot), full_page=False)


def unanswered_names(page: Any) -> list[str]:
    return page.locator("#unanswered tbody tr td:first-child a").all_inner_texts()


def test_manager_works_the_dashboard_in_chromium(
    browser: Any, server: tuple[Server, dict[str, int]], db: Database, db_url: str, tmp_path: Path
) -> None:
    srv, ids = server
    backend = "pg" if db_url.startswith("postgresql") else "sqlite"
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    dialogs: list[str] = []
    problems: list[str] = []
    foreign: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(srv.url) else foreign.append(r.url))

    # Without a session every page leads to the login form.
    page.goto(srv.url + "/pipeline")
    assert page.url.startswith(srv.url + "/login?next=")
    shot(page, f"login-{backend}")
    page.fill("input[name=name]", "Morgan")
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(srv.url + "/pipeline")
    page.goto(srv.url + "/")

    # The reply over the SLA comes first, with its hours waiting.
    assert unanswered_names(page) == ["Dana Whitfield", "Erin Cole"]
    first = page.locator("#unanswered tbody tr").first
    assert "breached" in first.inner_text() and "30.0 h" in first.inner_text()
    assert page.get_by_text(XSS_NAME).count() >= 1  # the payload is shown as text
    shot(page, f"home-{backend}", docs=backend == "sqlite")

    # Filter by rep: the view is in the URL, and only alice's leads remain.
    page.select_option("select[name=rep]", "alice")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**/?rep=alice**")
    assert unanswered_names(page) == ["Erin Cole"]

    # Open the stalled lead's timeline and pause the enrollment.
    page.click("#overdue a:has-text('Finn Berg')")
    page.wait_for_url("**/leads/finn@prospects.example")
    assert page.locator("#next").get_by_text("America/Chicago").count() == 1
    assert "UTC" in page.locator("#next").inner_text()
    shot(page, f"lead-{backend}")
    page.fill("#actions input[name=reason]", "On the phone with Finn, resume Monday")
    page.click("#actions button:has-text('Pause')")
    page.wait_for_selector(".notice")
    assert "Paused finn@prospects.example" in page.locator(".notice").inner_text()
    assert "paused" in page.locator("#enrollments").inner_text()

    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db_url)))
    listed = CliRunner().invoke(
        main, ["--config", str(cfg), "--at", NOW.isoformat(), "list", "--json"]
    )
    assert listed.exit_code == 0, listed.output
    finn = [r for r in json.loads(listed.output) if r["email"] == "finn@prospects.example"]
    assert [(r["status"], r["status_reason"]) for r in finn] == [
        ("paused", "On the phone with Finn, resume Monday")
    ]

    # A reply arrives while the home page is open: it shows without a reload.
    page.goto(srv.url + "/")
    page.evaluate("window.__stillTheSamePage = true")
    with db.session() as s:
        gus = s.get(Enrollment, ids["gus"])
        Seeder(s).reply(gus, NOW - timedelta(minutes=10), snippet="Yes, send the contract")
    page.locator("#unanswered a:has-text('Gus Ward')").wait_for(timeout=10_000)
    assert page.evaluate("window.__stillTheSamePage") is True
    assert unanswered_names(page) == ["Dana Whitfield", "Erin Cole", "Gus Ward"]

    # Script payloads in a reply's subject and snippet stay text.
    page.click("#unanswered a:has-text('Dana Whitfield')")
    page.wait_for_url("**/leads/dana@prospects.example")
    timeline = page.locator("#timeline").inner_text()
    assert XSS_SUBJECT in timeline and XSS_SNIPPET in timeline
    assert (
        page.locator("#timeline img").count() == 0 and page.locator("#timeline script").count() == 0
    )
    shot(page, f"lead-xss-{backend}")

    for path, name in (
        ("/pipeline", "pipeline"),
        ("/reps", "reps"),
        ("/sequences/quote", "sequence"),
    ):
        page.goto(srv.url + path)
        assert page.locator("svg.chart").count() >= 1, path
        shot(page, f"{name}-{backend}")

    # A POST without the CSRF token is refused, even with the session cookie.
    refused = page.request.post(
        srv.url + "/actions/pause", form={"enrollment_id": str(ids["gus"]), "reason": "x"}
    )
    assert refused.status == 403
    with db.session() as s:
        assert s.get(Enrollment, ids["gus"]).status == "replied"

    # On a phone the page does not scroll sideways: wide tables scroll in their own box.
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(srv.url + "/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, f"home-phone-{backend}")

    assert dialogs == []
    assert problems == []  # no CSP violation (inline script/style), no script error
    assert foreign == []  # every script, style and font came from the dashboard
    context.close()


# ---------------------------------------------------------------- the manager's pipeline
# The manager's pipeline in Chromium (Playwright, Debian's Chromium), on SQLite and PostgreSQL.
#
# Over the known team history with two proposals rotting (finn 10 d, erin 8 d: over the
# 7-day limit) and their open tasks (alice's): the manager opens the pipeline, clicks the
# count of rotting proposals, lands on the Leads page showing exactly those two, selects
# both, reassigns them to bob through the confirmation, and `sequencer todo --owner bob
# --json` lists their tasks; a stage set by hand on the lead page shows in `list --json`.
# Screenshots of the pages at 1440 and 390 px go to artifacts/; at 390 px the home page
# shows the first waiting reply's waiting time and action without sideways scrolling.

WIDE = {"width": 1440, "height": 900}


def _cli_json(db_url: str, tmp_path: Path, *args: str) -> Any:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db_url)))
    out = CliRunner().invoke(main, ["--config", str(cfg), "--at", NOW.isoformat(), *args])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_rotting_proposals_are_reassigned_from_the_pipeline(
    browser: Any, db: Database, db_url: str, tmp_path: Path
) -> None:
    from sequencer.web.app import create_app
    from sequencer.web.auth import WebAuth

    ids = seed_history(db)
    seed_tasks(db, ids)
    stage_at(db, "finn", "proposal", 10)
    stage_at(db, "erin", "proposal", 8)
    stage_at(db, "gus", "proposal", 1)  # a proposal, not rotting
    backend = "pg" if db_url.startswith("postgresql") else "sqlite"
    app = create_app(web_config(db.url), db, ManualClock(NOW), auth=WebAuth(password_hash=password_hash()),
                     refresh_seconds=3600, cache_seconds=0)
    problems: list[str] = []
    with Server(app) as srv:
        context = browser.new_context(viewport=WIDE)
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(srv.url + "/login?next=/pipeline")
        page.fill("input[name=name]", "Morgan")
        page.fill("input[name=secret]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(srv.url + "/pipeline")
        shot(page, f"pipeline-1440-{backend}")

        page.click('tr[data-stage="proposal"] a.n-rotting')
        page.wait_for_url("**/leads?stage=proposal&rotting=1**")
        rows = page.locator("tbody tr[data-email]")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.email)")) == [
            "erin@prospects.example", "finn@prospects.example",
        ]
        shot(page, f"leads-1440-{backend}")
        for email in ("erin@prospects.example", "finn@prospects.example"):
            page.check(f'tr[data-email="{email}"] input[type=checkbox]')
        page.select_option("select[name=action]", "reassign")
        page.select_option("#bulk select[name=owner]", "bob")
        page.click("#bulk button[type=submit]")
        page.wait_for_selector("#confirm")
        plan = page.locator("#confirm .plan").inner_text()
        assert "finn@prospects.example (quote): alice -> bob; 1 open task" in plan
        assert "remaining touches still go out from mailbox alice" in plan
        shot(page, f"leads-confirm-{backend}")
        page.click("#confirm button[type=submit]")
        page.wait_for_selector(".notice")
        assert "reassign: 2 done" in page.locator(".notice").inner_text()

        tasks = _cli_json(db_url, tmp_path, "todo", "--owner", "bob", "--due", "all", "--json")
        assert {"finn@prospects.example", "erin@prospects.example"} <= {t["prospect"] for t in tasks}

        # A stage set by hand on the lead page shows in list --json.
        page.goto(srv.url + "/leads/finn@prospects.example")
        page.select_option("#stage-form select[name=stage]", "won")
        page.click("#stage-form button[type=submit]")
        page.wait_for_selector(".notice")
        listed = _cli_json(db_url, tmp_path, "list", "--json")
        assert {r["stage"] for r in listed if r["email"] == "finn@prospects.example"} == {"won"}

        for path, name in (("/", "home"), ("/pipeline", "pipeline"), ("/leads", "leads"), ("/reps", "reps"),
                           ("/sequences/quote", "sequence"), ("/leads/dana@prospects.example", "lead")):
            page.goto(srv.url + path)
            shot(page, f"{name}-1440-{backend}")
        phone = context.new_page()
        phone.set_viewport_size(PHONE)
        for path, name in (("/pipeline", "pipeline"), ("/leads", "leads"), ("/reps", "reps"),
                           ("/sequences/quote", "sequence"), ("/leads/dana@prospects.example", "lead"), ("/", "home")):
            phone.goto(srv.url + path)
            shot(phone, f"{name}-390-{backend}")
        first = phone.locator("#unanswered tbody tr").first
        for cell in (first.locator("td.waiting"), first.locator("td.action button")):
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], cell
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        context.close()
    assert problems == []
