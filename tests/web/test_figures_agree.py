"""One definition of every figure: the dashboard, `report` in each format and the digest agree.

One database (the dashboard's known team history), every place a manager reads the
headline figures, the same literal numbers: value at risk 8,000.00 (hal's 2,000.00
finished without reply + the unanswered replies' 6,000.00), 2 replies waiting.
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
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.reporting.test_report import build_history  # noqa: E402
from tests.web.history import login, make_client, password_hash, web_config_data  # noqa: E402

VALUE_AT_RISK = "8,000.00"


def _cli(tmp_path: Path, db_url: str, *args: str) -> str:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db_url)))
    out = CliRunner().invoke(main, ["--config", str(cfg), "--at", "2026-03-02T09:00", *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_the_same_headline_figures_everywhere(client: TestClient, db_url: str, tmp_path: Path) -> None:
    as_json = json.loads(_cli(tmp_path, db_url, "report", "--json"))
    assert json.loads(_cli(tmp_path, db_url, "report", "--format", "json")) == as_json
    h = as_json["headline"]
    assert f"{h['value_at_risk']:,.2f}" == VALUE_AT_RISK
    unanswered = h["unanswered"]
    assert unanswered == as_json["replies"]["unanswered"] == 2

    table = _cli(tmp_path, db_url, "report")
    assert f"{unanswered} replies waiting for an answer" in table
    assert f"value at risk {VALUE_AT_RISK}" in table

    [row] = list(csv.DictReader(io.StringIO(_cli(tmp_path, db_url, "report", "--format", "csv", "--table", "headline"))))
    assert f"{float(row['value_at_risk']):,.2f}" == VALUE_AT_RISK and row["unanswered"] == str(unanswered)

    html = _cli(tmp_path, db_url, "report", "--format", "html")
    assert f'id="value-at-risk">{VALUE_AT_RISK}<' in html

    digest = json.loads(_cli(tmp_path, db_url, "digest", "--json"))
    assert digest["headline"] == h
    assert f"{unanswered} replies waiting for an answer" in digest["text"]
    assert f"value at risk {VALUE_AT_RISK}" in digest["text"]

    home = client.get("/").text
    assert f'<b id="value-at-risk">{VALUE_AT_RISK}</b> value at risk' in home
    assert re.search(rf'<b id="unanswered-count">{unanswered}</b>', home)
    pipeline = client.get("/pipeline").text
    assert f"<b>{VALUE_AT_RISK}</b> value at risk" in pipeline


def test_sequence_page_compares_the_variants_of_its_ab_step(db: Database) -> None:
    build_history(db)  # the report's history: proposal step 1 sent as A x3 (0 replies) and B x3 (1)
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c)
    page = c.get("/sequences/proposal").text
    assert "Step 1: B 33.3% vs A 0.0%: not yet more than chance at this sample size (6 sent, p = 0.27)." in page
    assert "No step of this sequence has variants" not in page
