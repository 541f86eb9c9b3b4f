"""The Leads page: search, filters, CSV of what is shown, drill-down from the pipeline,
and bulk actions behind a confirmation that says what will happen.

Over the dashboard's known history with stages moved at known times (``test_rotting``)
and its open tasks (finn's and erin's are alice's, gus's is bob's).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.cli import main  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from tests.web.history import csrf_of, seed_tasks, web_config_data  # noqa: E402


def emails(html: str) -> list[str]:
    return re.findall(r'data-email="([^"]+)"', html)


def test_every_filter_and_the_search(staged: TestClient) -> None:
    c = staged
    assert emails(c.get("/leads?q=WHIT").text) == ["dana@prospects.example"]  # name, any case
    assert emails(c.get("/leads?q=finn%20ltd").text) == ["finn@prospects.example"]  # company
    assert emails(c.get("/leads?stage=contacted").text) == ["gus@prospects.example", "hal@prospects.example"]
    assert emails(c.get("/leads?rep=bob&sort=deal&desc=1").text) == [
        "dana@prospects.example", "gus@prospects.example", "mallory@prospects.example",
    ]
    assert emails(c.get("/leads?status=completed").text) == ["hal@prospects.example"]
    assert emails(c.get("/leads?waiting=1").text) == ["dana@prospects.example", "erin@prospects.example"]
    assert emails(c.get("/leads?rotting=1&sort=in_stage").text) == [
        "hal@prospects.example", "finn@prospects.example", "dana@prospects.example",
    ]
    assert c.get("/leads?sort=password").status_code == 400


def test_the_csv_holds_exactly_the_rows_shown(staged: TestClient) -> None:
    rows = list(csv.DictReader(io.StringIO(staged.get("/leads.csv?waiting=1").text)))
    assert [(r["email"], r["stage"], r["status"]) for r in rows] == [
        ("dana@prospects.example", "replied", "replied"), ("erin@prospects.example", "proposal", "replied"),
    ]


def test_pipeline_and_home_numbers_link_to_the_leads_behind_them(staged: TestClient) -> None:
    pipe = staged.get("/pipeline").text
    link = re.search(r'<tr data-stage="proposal">.*?<a class="n-rotting" href="([^"]+)">1</a>', pipe, re.S)
    assert link, "the rotting proposals count is a link"
    assert emails(staged.get(link[1].replace("&amp;", "&")).text) == ["finn@prospects.example"]
    deals = re.search(r'<tr data-stage="proposal">.*?<a class="n-deals" href="([^"]+)">2</a>', pipe, re.S)
    assert deals and emails(staged.get(deals[1].replace("&amp;", "&")).text) == [
        "erin@prospects.example", "finn@prospects.example",
    ]
    home = staged.get("/").text
    waiting = re.search(r'<a href="([^"]+)"><b id="unanswered-count">2</b>', home)
    assert waiting and emails(staged.get(waiting[1].replace("&amp;", "&")).text) == [
        "dana@prospects.example", "erin@prospects.example",
    ]


def test_bulk_reassign_is_confirmed_then_moves_the_leads_and_their_tasks(
    staged: TestClient, db: Database, seeded: dict[str, int], db_url: str, tmp_path: Path
) -> None:
    seed_tasks(db, seeded)
    page = staged.get("/leads?rep=alice").text
    form = {"csrf": csrf_of(page), "action": "reassign", "owner": "bob", "next": "/leads?rep=alice",
            f"e{seeded['finn']}": "1", f"e{seeded['erin']}": "1"}
    confirm = staged.post("/leads/bulk", data=form)
    assert confirm.status_code == 200
    assert "Reassign 2 leads?" in confirm.text
    assert ("finn@prospects.example (quote): alice -&gt; bob; 1 open task (with their reminders and "
            "escalations) move to bob; the 2 remaining touches still go out from mailbox alice") in confirm.text
    assert emails(staged.get("/leads?rep=bob").text).count("finn@prospects.example") == 0  # nothing done yet
    done = staged.post("/leads/bulk", data={**form, "confirm": "1"})
    assert done.status_code == 303 and "reassign%3A+2+done" in done.headers["location"]
    assert "finn@prospects.example" in emails(staged.get("/leads?rep=bob").text)

    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db_url)))
    out = CliRunner().invoke(main, ["--config", str(cfg), "--at", "2026-03-02T09:00",
                                    "todo", "--owner", "bob", "--due", "all", "--json"])
    assert out.exit_code == 0, out.output
    assert {t["prospect"] for t in json.loads(out.output)} >= {"finn@prospects.example", "erin@prospects.example"}


def test_bulk_actions_need_the_csrf_token_and_a_selection(staged: TestClient, seeded: dict[str, int]) -> None:
    assert staged.post("/leads/bulk", data={"action": "stop", f"e{seeded['finn']}": "1"}).status_code == 403
    page = staged.get("/leads").text
    assert staged.post("/leads/bulk", data={"csrf": csrf_of(page), "action": "stop"}).status_code == 400
