"""The Reps page: per rep over the period, touches sent, replies and reply rate, answers
within the SLA, tasks done and overdue, rotting deals, a weekly trend; labelled charts.

Over the dashboard's known history (4 h reply SLA), its tasks and staged deals; the
default period is the 28 days before now (2 Mar 2026 09:00 UTC).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.cli import main  # noqa: E402
from sequencer.db.models import Enrollment  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from tests.web.history import NOW, seed_tasks, web_config_data  # noqa: E402


def row_of(html: str, rep: str) -> dict[str, str]:
    row = re.search(rf'<tr data-rep="{rep}">(.*?)</tr>', html, re.S)
    assert row, rep
    return {label: re.sub(r"<[^>]+>", "", value).strip()
            for label, value in re.findall(r'data-label="([^"]+)">(.*?)</td>', row[1], re.S)}


def test_each_reps_figures_over_the_period(staged: TestClient, db: Database, seeded: dict[str, int]) -> None:
    seed_tasks(db, seeded)
    with db.session() as s:  # erin's reply answered 2 h after it came: within the 4 h SLA
        s.get(Enrollment, seeded["erin"]).answered_at = NOW + timedelta(hours=1)
    page = staged.get("/reps").text
    alice = row_of(page, "alice")
    # alice: erin 2 touches, finn 1, hal 3 = 6 sent; erin replied (1 of 6)
    assert (alice["Touches sent"], alice["Replies"], alice["Reply rate"]) == ("6", "1", "16.7%")
    assert alice["Within SLA"] == "1 of 1"
    assert (alice["Tasks overdue"], alice["Rotting"]) == ("1", "2")  # finn's call; hal and finn rotting
    bob = row_of(page, "bob")
    assert (bob["Touches sent"], bob["Replies"], bob["Within SLA"], bob["Tasks overdue"], bob["Rotting"]) == (
        "2", "1", "0 of 0", "1", "1",
    )
    trend = re.search(r'<tr data-rep="alice">.*?<td class="lo trend">(.*?)</td>', page, re.S)
    assert trend and re.findall(r">(\d+/\d+)</span>", trend[1])[-2:] == ["2/0", "2/1"]  # finn + hal; erin
    assert "Touches sent per rep in the period" in page and "Unanswered replies per rep (now)" in page
    assert '<a href="/leads?rep=alice&amp;rotting=1">2</a>' in page


def test_the_timeline_shows_each_fact_once_with_ids_behind_details(client: TestClient) -> None:
    page = client.get("/leads/dana@prospects.example").text
    timeline = page.split('<section id="timeline">')[1].split("</section>")[0]
    items = re.findall(r"<li class=\"([^\"]+)\">", timeline)
    # touch 1 (the message, not also its "sent" event), the reply (not also the "replied" event)
    assert items.count("t-touch k-sent") == 1 and "t-event k-sent" not in items
    assert items.count("t-inbound k-reply") == 1 and "t-event k-replied" not in items
    assert "Message-ID &lt;" not in timeline.split("<details")[0]  # ids only inside the toggle
    assert '<details class="ids"><summary>details</summary>' in timeline and "Enrolled" in timeline


def test_mark_replied_is_an_answered_conversation_without_a_mark_handled_button(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db_url)))
    done = CliRunner().invoke(main, ["--config", str(cfg), "--at", NOW.isoformat(), "mark-replied",
                                     "gus@prospects.example", "--note", "called, wants demo"])
    assert done.exit_code == 0, done.output
    home = client.get("/").text.split('<section id="unanswered">')[1].split("</section>")[0]
    assert "Gus Ward" not in home and "Dana Whitfield" in home
    gus = client.get("/leads/gus@prospects.example").text
    assert "Mark reply handled" not in gus and "The reply was answered." in gus
    assert "Mark reply handled" in client.get("/leads/dana@prospects.example").text
