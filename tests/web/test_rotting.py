"""Rotting deals: over their stage's time limit, they show on the home page, in the report,
its --check and the digest, all the same three.

Over the dashboard's known history, stages moved by hand at known times (thresholds are
the defaults: contacted 14 d, replied 2 d while unanswered, proposal 7 d).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.cli import main  # noqa: E402
from sequencer.db.models import Prospect  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from tests.web.history import NOW, web_config_data  # noqa: E402


def _cli(tmp_path: Path, db_url: str, *args: str) -> tuple[int, str]:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db_url)))
    out = CliRunner().invoke(main, ["--config", str(cfg), "--at", "2026-03-02T09:00", *args])
    return out.exit_code, out.output


def test_rotting_deals_are_the_same_three_everywhere(staged: TestClient, db_url: str, tmp_path: Path) -> None:
    code, out = _cli(tmp_path, db_url, "report", "--json")
    r = json.loads(out)
    assert r["headline"]["rotting"] == 3
    assert [(x["email"].split("@")[0], x["stage"], x["days_in_stage"], x["rotting_after_days"])
            for x in r["rotting_leads"]] == [
        ("hal", "contacted", 20.0, 14.0), ("finn", "proposal", 10.0, 7.0), ("dana", "replied", 3.0, 2.0),
    ]
    stages = {st["stage"]: st for st in r["stages"]}
    assert (stages["proposal"]["prospects"], stages["proposal"]["value"], stages["proposal"]["rotting"]) == (2, 3500.0, 1)
    assert (stages["proposal"]["median_days"], stages["proposal"]["p90_days"]) == (3.0, 10.0)
    # reached contacted: hal, gus, dana, erin, finn; of those dana, erin, finn got further
    assert stages["contacted"]["conversion"] == 0.6 and stages["proposal"]["conversion"] == 0.0

    home = staged.get("/").text
    assert re.search(r"<b id=\"rotting-count\">3</b></a> deals rotting", home)
    assert home.count('class="breach" data-prospect=') == 3

    code, out = _cli(tmp_path, db_url, "report", "--check")
    assert code == 1  # mallory has no next step; rotting alone never fails the check
    assert "warning: 3 deal(s) rotting in their stage" in out
    assert "finn@prospects.example (alice): proposal for 10.0 d, allowed 7 d" in out

    code, out = _cli(tmp_path, db_url, "digest", "--json")
    text = json.loads(out)["text"]
    assert "DEALS ROTTING (longer in their stage than reporting.rotting_days allows): 3" in text
    assert "Finn Berg <finn@prospects.example> (alice): proposal for 10.0 d (allowed 7.0 d), deal 2,500.00" in text


def test_an_answered_reply_does_not_rot(db: Database, staged: TestClient, db_url: str, tmp_path: Path) -> None:
    from sequencer.db.models import Enrollment

    with db.session() as s:
        e = s.query(Enrollment).join(Prospect).filter(Prospect.email == "dana@prospects.example").one()
        e.answered_at = NOW - timedelta(days=1)
    _, out = _cli(tmp_path, db_url, "report", "--json")
    assert [x["email"] for x in json.loads(out)["rotting_leads"]] == ["hal@prospects.example", "finn@prospects.example"]


def test_a_bounced_lead_never_rots(db: Database, staged: TestClient, db_url: str, tmp_path: Path) -> None:
    from sequencer.db.models import Enrollment

    with db.session() as s:
        e = s.query(Enrollment).join(Prospect).filter(Prospect.email == "hal@prospects.example").one()
        e.status = "bounced"
    _, out = _cli(tmp_path, db_url, "report", "--json")
    assert [x["email"] for x in json.loads(out)["rotting_leads"]] == ["finn@prospects.example", "dana@prospects.example"]
