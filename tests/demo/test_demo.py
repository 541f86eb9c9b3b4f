"""`sequencer demo` tells the whole story, and what it leaves behind is a working project.

Run as a real subprocess, as a newcomer would, then read the kept database back
through the ordinary commands (`report --format json`, `list --json`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPLIER = "dana@northwind-fab.example"
AWAY = "priya@lakeside-tools.example"
BOUNCER = "marco@oldco-supply.example"
OPTS_OUT = "lee@brightline-mfg.example"
SILENT = "jordan@quietpeak.example"
WAITING = "alex@harbor-works.example"  # replies after touch 3; Sam has not answered yet
# The demo ends about "today"; pinning today makes the story and its endings exact.
TODAY = "2026-12-03T08:00"


def sequencer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "sequencer", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("demo")
    directory = root / "kept"
    run = sequencer("--at", TODAY, "demo", "--days", "21", "--keep", str(directory), cwd=root)
    assert run.returncode == 0, run.stderr[-3000:]
    return directory, run


def _json(directory: Path, *args: str) -> Any:
    out = sequencer(
        "--at", TODAY, "--config", str(directory / "sequencer.yaml"), *args, cwd=directory.parent
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_report_counts_every_ending_of_the_story(kept: tuple[Path, Any]) -> None:
    directory, _ = kept
    totals = _json(directory, "report", "--format", "json")["totals"]
    assert totals["enrolled"] == 6
    assert totals["contacted"] == 6
    assert totals["replied"] == 2
    assert totals["bounced"] == 1
    assert totals["unsubscribed"] == 1
    assert totals["completed"] == 0  # jordan's closing call is still to make
    # the out-of-office one goes on; jordan waits for Sam's call
    assert totals["active"] == 2 and totals["paused"] == 0
    assert totals["replies"] == 2  # an out-of-office is not a reply


def test_each_prospect_ends_where_their_script_leads(kept: tuple[Path, Any]) -> None:
    directory, _ = kept
    leads = {row["email"]: row for row in _json(directory, "list", "--json")}
    assert leads[REPLIER]["status"] == "replied"
    assert leads[REPLIER]["steps_done"] == 2  # replied after touch 2: touch 3 never went
    assert leads[BOUNCER]["status"] == "bounced"
    assert leads[BOUNCER]["steps_done"] == 1
    assert leads[OPTS_OUT]["status"] == "unsubscribed"
    assert leads[OPTS_OUT]["steps_done"] == 3
    # 6 emails sent; the call task (step 7) is open and overdue: Sam has not called yet
    assert leads[SILENT]["status"] == "active"
    assert (leads[SILENT]["steps_done"], leads[SILENT]["total_steps"]) == (6, 7)
    assert leads[WAITING]["status"] == "replied" and leads[WAITING]["steps_done"] == 3
    # The out-of-office did not stop her: touches 2-5 went out after it, touch 6 is next.
    assert leads[AWAY]["status"] == "active"
    assert leads[AWAY]["steps_done"] == 5
    assert leads[AWAY]["next_send_at"] == "2026-12-04T14:30:00Z"


def test_the_out_of_office_holds_the_next_touch_until_she_is_back(kept: tuple[Path, Any]) -> None:
    _, run = kept
    story = [line.split(None, 5) for line in run.stdout.splitlines() if "  priya " in line]
    told = [" ".join(words[:4]) + " " + words[5] for words in story if len(words) == 6]
    # Touch 2 comes two business days after touch 1 (jordan's on Wed 11 Nov); priya is away
    # after touch 1 "until Monday 16 November", so hers waits for the Tuesday after.
    assert "Wed 11 Nov 08:30  jordan  gets touch 2:" in run.stdout
    assert told[:3] == [
        "Mon 09 Nov 08:30 gets touch 1: Your quote Q-2042 for Lakeside Tools",
        "Mon 09 Nov 09:00 is away: automatic out-of-office reply",
        "Tue 17 Nov 08:30 gets touch 2: Re: Your quote Q-2042 for Lakeside Tools",
    ]


def test_the_rep_was_alerted_and_answered(kept: tuple[Path, Any]) -> None:
    directory, run = kept
    assert "is alerted: Reply from Dana Whitfield" in run.stdout
    replies = _json(directory, "report", "--format", "json")["replies"]
    assert replies["answered"] == 1
    assert replies["unanswered"] == 1


def test_it_leaves_something_for_the_manager_to_look_at(kept: tuple[Path, Any]) -> None:
    directory, _ = kept
    report = _json(directory, "report", "--json")
    assert [r["email"] for r in report["replies"]["unanswered_replies"]] == [WAITING]  # waits for Sam
    assert [t["email"] for t in report["tasks"]["overdue_items"]] == [SILENT]  # the call not made
    assert report["headline"]["rotting"] >= 1 and AWAY in {x["email"] for x in report["rotting_leads"]}


def test_it_says_where_the_html_report_is_and_what_to_try(kept: tuple[Path, Any]) -> None:
    directory, run = kept
    report = directory / "report.html"
    assert f"HTML report: {report}" in run.stdout
    assert "<html" in report.read_text(encoding="utf-8").lower()
    assert f"sequencer --config {directory / 'sequencer.yaml'} list" in run.stdout


def test_keep_refuses_a_directory_that_is_not_empty(kept: tuple[Path, Any]) -> None:
    directory, _ = kept
    again = sequencer("demo", "--days", "1", "--keep", str(directory), cwd=directory.parent)
    assert again.returncode == 2
    assert "is not an empty directory" in again.stderr


def test_both_variants_of_the_ab_step_are_sent_and_counted(kept: tuple[Path, Any]) -> None:
    directory, _ = kept
    report = _json(directory, "report", "--json")
    (step,) = [s for s in report["steps"] if s["sequence_id"] == "quote-follow-up"]
    assert step["step"] == 4
    assert {v["name"]: (v["sent"], v["replies"]) for v in step["variants"]} == {"timing": (1, 0), "short": (1, 0)}
    assert step["sent"] == sum(v["sent"] for v in step["variants"]) == 2
    assert "not yet more than chance at this sample size" in step["verdict"]
    listed = {(v["step"], v["variant"]): v["sent"] for v in report["variants"]}
    assert listed == {(4, "short"): 1, (4, "timing"): 1}


def test_the_sequence_page_shows_rendered_subjects_and_marks_the_task_step(kept: tuple[Path, Any]) -> None:
    from sequencer.project import load_config
    from sequencer.reporting.dashboard import sequence_definition

    directory, _ = kept
    definition, error = sequence_definition(load_config(directory / "sequencer.yaml"), "quote-follow-up")
    assert error is None and definition is not None
    steps = definition.steps
    assert "{%" not in (steps[0].subject or "") and (steps[0].subject or "").startswith("Your quote")
    assert steps[1].subject == f"Re: {steps[0].subject}"
    assert steps[-1].is_task and steps[-1].subject is None and "Call about the quote" in (steps[-1].task or "")
    assert not any(s.is_task for s in steps[:-1])


def test_demo_web_serves_the_dashboard_over_its_data(tmp_path: Path) -> None:
    import re
    import urllib.request

    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "--at", TODAY, "demo", "--days", "3", "--web", "--port", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:  # printed once the socket listens
            found = re.search(r"Dashboard over the demo's data: (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found[1]
                break
        assert url, "the demo ended without serving the dashboard"
        with urllib.request.urlopen(url + "pipeline", timeout=60) as r:
            page = r.read().decode()
        assert "Deal pipeline" in page and "quote-follow-up" in page
        with urllib.request.urlopen(url, timeout=60) as r:
            assert "replies waiting for an answer" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
