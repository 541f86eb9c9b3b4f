"""The dashboard over HTTP (Starlette's test client) on SQLite and PostgreSQL: sign-in and pages.

Over the known history of ``tests.web.history``, the tests check what a manager (or
an attacker) would notice: redirects, refusals, escaping, and figures equal to
``sequencer report``.
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
from sequencer.core import lifecycle  # noqa: E402
from sequencer.db.models import (  # noqa: E402
    Enrollment,
)
from sequencer.db.session import Database  # noqa: E402
from sequencer.reporting.model import CSV_COLUMNS  # noqa: E402
from sequencer.reporting.report import build_report  # noqa: E402
from sequencer.web.auth import COOKIE, WebAuth  # noqa: E402
from tests.web.history import (  # noqa: E402
    NOW,
    PASSWORD,
    XSS_NAME,
    XSS_TASK,
    csrf_of,
    login,
    make_client,
    password_hash,
    seed_tasks,
    web_config,
    web_config_data,
)

# ---------------------------------------------------------------- authentication


def test_unauthenticated_requests_go_to_login_and_partials_tell_htmx(
    db: Database, seeded: dict[str, int]
) -> None:
    c = make_client(db, auth=WebAuth(token="t0ken-" + "x" * 20))
    r = c.get("/pipeline?rep=alice")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fpipeline%3Frep%3Dalice"
    r = c.get("/partial/home", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"].startswith("/login")
    assert c.get("/csv/figures.csv").status_code == 303
    assert "Dana" not in c.get("/leads/dana@prospects.example").text
    # scripts may fetch with the token as a bearer (GET only)
    r = c.get("/csv/figures.csv", headers={"Authorization": "Bearer t0ken-" + "x" * 20})
    assert r.status_code == 200 and r.text.startswith("scope,")


def test_login_sets_a_strict_httponly_signed_cookie_and_wrong_password_is_refused(
    db: Database, seeded: dict[str, int]
) -> None:
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    page = c.get("/login")
    r = c.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "Morgan", "secret": "wrong", "next": "/"},
    )
    assert r.status_code == 401 and "not right" in r.text
    assert c.get("/").status_code == 303
    r = c.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "Morgan", "secret": PASSWORD, "next": "/reps"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/reps"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert PASSWORD not in r.headers["set-cookie"]
    home = c.get("/")
    assert home.status_code == 200 and "Morgan" in home.text
    # a tampered cookie is no session at all
    c.cookies.set(COOKIE, c.cookies[COOKIE][:-2] + "xx")
    assert c.get("/").status_code == 303
    # logout ends the session
    c2 = make_client(db, auth=WebAuth(password_hash=password_hash()))
    login(c2)
    r = c2.post("/logout", data={"csrf": csrf_of(c2.get("/").text)})
    assert r.status_code == 303
    assert c2.get("/").status_code == 303


def test_login_redirect_only_goes_to_paths_on_this_site(db: Database, seeded: dict[str, int]) -> None:
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    page = c.get("/login")
    r = c.post(
        "/login",
        data={
            "csrf": csrf_of(page.text),
            "name": "M",
            "secret": PASSWORD,
            "next": "//evil.example/phish",
        },
    )
    assert r.headers["location"] == "/"


def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, db: Database, seeded: dict[str, int]
) -> None:
    finn = seeded["finn"]
    for data in (
        {"enrollment_id": str(finn), "reason": "x"},
        {"enrollment_id": str(finn), "reason": "x", "csrf": "forged"},
    ):
        r = client.post("/actions/pause", data=data)
        assert r.status_code == 403
        assert "expired" in r.text
    # a token from another session does not work either
    other = make_client(db, auth=WebAuth(password_hash=password_hash()))
    r = client.post(
        "/actions/pause",
        data={"enrollment_id": str(finn), "reason": "x", "csrf": csrf_of(other.get("/login").text)},
    )
    assert r.status_code == 403
    with db.session() as s:
        assert s.get(Enrollment, finn).status == lifecycle.ACTIVE


# ---------------------------------------------------------------- pages


def test_home_puts_the_reply_over_the_sla_first_with_hours_waiting(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    table = r.text.split('id="unanswered"')[1].split("</section>")[0]
    rows = re.findall(r'<tr class="([^"]*)" data-enrollment', table)
    assert rows == ["breach", ""]
    assert table.index("Dana Whitfield") < table.index("Erin Cole")
    assert "30.0 h" in table and "1.0 h" in table
    assert 'id="unanswered-count">2<' in r.text
    text = r.text
    assert "outside the send window" in text  # finn is overdue, and why
    assert "connection lost after DATA" in text  # the held touch
    assert "authentication failed (535)" in text  # bob's mailbox is paused
    assert "Last poll:" in text and "alice" in text


def test_mail_borne_text_is_escaped_everywhere(client: TestClient) -> None:
    home = client.get("/").text
    assert "<img src=x onerror" not in home
    assert "&lt;img src=x onerror=alert(&#39;name&#39;)&gt;Mallory" in home
    lead = client.get("/leads/dana@prospects.example").text
    assert "<script>alert" not in lead and "<img src=x" not in lead
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;Re: Quote" in lead
    assert "Sounds good &lt;img src=x onerror=alert(&#39;snippet&#39;)&gt; call me" in lead
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in home.replace('<script src="/static/htmx.min.js" defer></script>', "")
    assert " style=" not in home and "<style" not in home


def test_filters_live_in_the_url_and_narrow_every_table(client: TestClient) -> None:
    r = client.get("/?rep=alice")
    unanswered = r.text.split('id="unanswered"')[1].split("</section>")[0]
    assert "Erin Cole" in unanswered and "Dana" not in unanswered
    assert '<option value="alice" selected>' in r.text
    assert "Gus" not in r.text.split('id="held"')[1]  # bob's held touch is filtered out
    assert 'hx-get="/partial/home?rep=alice"' in r.text and 'hx-trigger="every 30s"' in r.text
    partial = client.get("/partial/home?rep=alice")
    assert (
        partial.status_code == 200 and "<html" not in partial.text and "Erin Cole" in partial.text
    )
    assert client.get("/?since=yesterday").status_code == 400


def test_dashboard_figures_are_the_reports(client: TestClient, db: Database, tmp_path: Path) -> None:
    cfg = tmp_path / "sequencer.yaml"
    cfg.write_text(yaml.safe_dump(web_config_data(db.url)))
    runner = CliRunner()
    for owner in (None, "bob"):
        args = ["--config", str(cfg), "--at", NOW.isoformat(), "report", "--format"]
        extra = ["--owner", owner] if owner else []
        cli_csv = runner.invoke(main, [*args, "csv", *extra])
        cli_json = runner.invoke(main, [*args, "json", *extra])
        assert cli_csv.exit_code == 0 and cli_json.exit_code == 0, cli_csv.output + cli_json.output
        ours = client.get("/csv/figures.csv" + (f"?rep={owner}" if owner else ""))
        assert ours.headers["content-type"].startswith("text/csv")
        assert ours.text == cli_csv.output
        figures = json.loads(cli_json.output)
        home = client.get("/" + (f"?rep={owner}" if owner else "")).text
        assert f'id="unanswered-count">{figures["replies"]["unanswered"]}<' in home
        reps = client.get("/reps" + (f"?rep={owner}" if owner else "")).text
        for rep in figures["reps"]:
            per_owner = reps.split('<section id="reps">')[1]  # the report's per-owner table
            row = per_owner.split(f">{rep['owner']}</a></td>")[1].split("</tr>")[0]
            cells = re.findall(r'<td class="num">([^<]*)</td>', row)
            assert cells[:2] == [str(rep["active"]), str(rep["replies"])]
    sequences = list(csv.reader(io.StringIO(client.get("/csv/sequences.csv").text)))
    assert tuple(sequences[0]) == CSV_COLUMNS and {r[0] for r in sequences[1:]} == {"sequence"}


def test_pipeline_reps_sequence_and_lead_pages_render(client: TestClient, db: Database) -> None:
    pipe = client.get("/pipeline").text
    assert pipe.count('<svg class="chart"') >= 4  # value, aging, funnel, replies by touch
    # finished without reply: hal 4000; replies not yet answered: dana 3000 + erin 1000
    assert '<div class="card warn"><b>8,000.00</b> value at risk<br>' in pipe
    assert "<b>1</b> finished without reply" in pipe  # hal
    assert "Completed without reply" in pipe
    seq = client.get("/sequences/quote").text
    assert "Quote follow-up" in seq and "Steps" in seq
    lead = client.get("/leads/finn@prospects.example").text
    # next touch in the prospect's zone and in UTC: due 2026-02-27 09:00 UTC = 03:00 CST
    assert "Fri 27 Feb 2026 03:00 America/Chicago" in lead and "2026-02-27 09:00 UTC" in lead
    assert "Touch 1 sent" in lead and "by cli:alice" in lead
    for path in ("/leads/nobody@prospects.example", "/sequences/nope", "/no/such/page"):
        r = client.get(path)
        assert r.status_code == 404 and "Traceback" not in r.text and "<h1>" in r.text


def test_every_table_downloads_as_csv(client: TestClient) -> None:
    tables = [
        "unanswered",
        "stalled",
        "safety",
        "pipeline",
        "aging",
        "overdue",
        "held",
        "mailboxes",
        "variants",
        "reps",
        "sequence_reps",
        "totals",
    ]
    got = {}
    for table in tables:
        r = client.get(f"/csv/{table}.csv?rep=bob")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"], table
        got[table] = list(csv.reader(io.StringIO(r.text)))
        assert got[table] and got[table][0], table
    unanswered = got["unanswered"]
    assert [row[unanswered[0].index("email")] for row in unanswered[1:]] == [
        "dana@prospects.example"
    ]
    safety = got["safety"]  # payloads stay text (and a cell opening with = + - @ would be quoted)
    assert safety[1][safety[0].index("name")] == XSS_NAME
    assert [row[0] for row in got["held"][1:]] and got["held"][1][
        got["held"][0].index("owner")
    ] == "bob"
    assert tuple(got["reps"][0]) == CSV_COLUMNS and [r[3] for r in got["reps"][1:]] == ["bob"]
    assert client.get("/csv/secrets.csv").status_code == 404


def test_home_lists_overdue_rep_tasks_flags_sla_breaches_and_downloads_them(
    client: TestClient, db: Database, seeded: dict[str, int]
) -> None:
    seed_tasks(db, seeded)
    home = client.get("/").text
    section = home.split('id="tasks"')[1].split("</section>")[0]
    rows = re.findall(r'<tr class="([^"]*)" data-task="\d+">(.*?)</tr>', section, re.S)
    assert [cls for cls, _ in rows] == ["breach", ""]  # most overdue first; only gus's past the SLA
    gus, finn = (row for _, row in rows)
    assert (
        "&lt;script&gt;alert(&#39;task&#39;)&lt;/script&gt;Call Gus" in gus
        and "<script>" not in section
    )
    assert 'href="/leads/gus@prospects.example"' in gus and "<td>bob</td>" in gus
    assert "30.0 h" in gus and "breached" in gus
    assert "Call Finn about the quote" in finn and "2.0 h" in finn and "within" in finn
    assert "Send the proposal" not in section  # not due yet
    assert 'id="tasks-overdue-count">2<' in home

    alice = client.get("/?rep=alice").text.split('id="tasks"')[1].split("</section>")[0]
    assert "Call Finn" in alice and "Call Gus" not in alice
    assert "No rep task is overdue." in client.get("/?sequence=other").text

    report = build_report(db, web_config(db.url), now=NOW).to_dict()
    items = report["tasks"]["overdue_items"]
    table = list(csv.reader(io.StringIO(client.get("/csv/tasks.csv").text)))
    assert table[0] == list(items[0]) and "title" in table[0] and "sla_breached" in table[0]
    col = {name: i for i, name in enumerate(table[0])}
    assert [row[col["title"]] for row in table[1:]] == [XSS_TASK, "Call Finn about the quote"]
    assert [row[col["email"]] for row in table[1:]] == [i["email"] for i in items]
    assert table[1][col["sla_breached"]] == "True" and table[1][col["at"]] == "2026-03-01T03:00:00Z"
    bob_only = list(csv.reader(io.StringIO(client.get("/csv/tasks.csv?rep=bob").text)))
    assert [row[col["title"]] for row in bob_only[1:]] == [XSS_TASK]
