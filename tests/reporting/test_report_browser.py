"""The HTML report and the digest, rendered by headless Chromium on a phone-sized screen.

Screenshots land in artifacts/ (gitignored) for a human to look at; the tests
check what a manager would see: the figures are on the page, the charts are
drawn, nothing was fetched from the network, no console error, and the page
does not scroll sideways on a 390 px wide phone (wide tables scroll inside
their own box).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sequencer.db.session import Database
from sequencer.reporting.digest import build_digest
from sequencer.reporting.html import render_report_html
from sequencer.reporting.report import build_report
from tests.reporting.test_report import NOW, build_history, config

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PHONE = {"width": 390, "height": 844}


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
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


def render(browser: Any, html: str, name: str, viewport: dict[str, int] = PHONE) -> dict[str, Any]:
    """Open the HTML as a file, screenshot it, and report what the page did."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport=viewport)
    problems: list[str] = []
    fetched: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto(path.as_uri(), wait_until="load")
    shot = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    result = {
        "text": page.inner_text("body"),
        "svgs": page.locator("svg.chart").count(),
        "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
        "bars": page.locator("svg.chart rect").count(),
        "problems": problems,
        "fetched": fetched,
        "png": shot.read_bytes(),
    }
    page.close()
    return result


@pytest.fixture
def history(db: Database) -> Any:
    build_history(db)
    return db


def test_html_report_renders_on_a_phone_with_figures_and_charts(browser: Any, history: Any, db_url: str) -> None:
    report = build_report(history, config(), now=NOW)
    backend = "pg" if db_url.startswith("postgresql") else "sqlite"
    page = render(browser, render_report_html(report), f"report-phone-{backend}")
    assert page["problems"] == [] and page["fetched"] == []
    text = page["text"]
    for expected in ("Quote follow-up", "Proposal follow-up", "q4@prospects.example", "Unanswered replies",
                     "Stalled leads", "mailbox alice paused: authentication failed", "Value at risk",
                     "2 lead-safety violations", "p7@prospects.example", "26.7%"):
        assert expected in text, expected
    # two funnels + two replies-by-touch charts, the overall touch chart and two aging histograms
    assert page["svgs"] == 7
    assert page["bars"] > 20
    assert page["scroll_width"] <= PHONE["width"]
    assert page["png"][:8] == b"\x89PNG\r\n\x1a\n" and len(page["png"]) > 20_000


def test_html_report_on_a_desktop_and_with_nothing_to_report(browser: Any, db: Database) -> None:
    empty = build_report(db, config(), now=NOW)
    page = render(browser, render_report_html(empty), "report-empty", {"width": 1280, "height": 900})
    assert page["problems"] == [] and page["fetched"] == []
    assert "Every reply has been answered." in page["text"]
    assert "Every enrollment is scheduled, paused with a reason, or finished with a reason." in page["text"]


def test_digest_html_renders_on_a_phone(browser: Any, history: Any, db_url: str) -> None:
    digest = build_digest(history, config(), now=NOW)
    backend = "pg" if db_url.startswith("postgresql") else "sqlite"
    page = render(browser, digest.html, f"digest-phone-{backend}")
    assert page["problems"] == [] and page["fetched"] == []
    text = page["text"]
    for expected in ("Sequencer digest", "Friday 27 February – Sunday 01 March 2026", "q4@prospects.example",
                     "Completion per sequence", "Quote follow-up", "2 lead-safety violations"):
        assert expected in text, expected
    assert page["scroll_width"] <= PHONE["width"]


def test_report_escapes_what_prospects_and_reps_typed(browser: Any, history: Any) -> None:
    from sqlalchemy import update

    from sequencer.db.models import Prospect

    with history.session() as s:
        s.execute(update(Prospect).where(Prospect.email == "q4@prospects.example")
                  .values(name="<img src=x onerror=alert(1)>"))
    html = render_report_html(build_report(history, config(), now=NOW))
    assert "<img src=x" not in html
    page = render(browser, html, "report-escaped")
    assert page["problems"] == [] and page["fetched"] == []
    assert "<img src=x onerror=alert(1)>" in page["text"]
