"""DNS rebinding and hostile query strings: a foreign Host is refused, out-of-range input is a 400.

A page that rebinds its own name to 127.0.0.1 sends ``Host: attacker.example``; the
dashboard must refuse it before any page (or CSRF token) is served, with or without a
login configured. Dates far outside any sales history used to overflow into a 500.
"""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.clock import ManualClock  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from sequencer.web.app import create_app  # noqa: E402
from sequencer.web.auth import WebAuth  # noqa: E402
from tests.web.history import NOW, csrf_of, login, make_client, password_hash, web_config  # noqa: E402

FOREIGN = {"host": "attacker.example"}


@pytest.mark.parametrize("mode", ["no-login", "login"])
def test_a_foreign_host_gets_400_on_every_route(
    db: Database, seeded: dict[str, int], mode: str
) -> None:
    auth = WebAuth() if mode == "no-login" else WebAuth(password_hash=password_hash())
    c = make_client(db, auth=auth)
    if mode == "login":
        login(c)
    token = csrf_of(c.get("/").text)  # the loopback name is served
    for path in ("/", "/pipeline", "/login", "/csv/figures.csv", "/static/dashboard.css", "/healthz"):
        r = c.get(path, headers=FOREIGN)
        assert r.status_code == 400, path
        assert "csrf" not in r.text and "Dana" not in r.text
    r = c.post(
        "/actions/pause",
        data={"csrf": token, "enrollment_id": str(seeded["finn"]), "reason": "rebound"},
        headers=FOREIGN,
    )
    assert r.status_code == 400
    assert "attacker.example" not in r.text  # the header is not echoed either
    # a port on the right name, IPv6 loopback and localhost are fine
    for host in ("127.0.0.1:8050", "localhost", "LOCALHOST:8050", "[::1]:8050"):
        assert c.get("/healthz", headers={"host": host}).status_code == 200, host
    for host in ("127.0.0.1.attacker.example", "localhost.attacker.example", "", "[::1"):
        assert c.get("/healthz", headers={"host": host}).status_code == 400, host


def test_base_url_host_is_allowed_and_testserver_is_not(db: Database) -> None:
    base = web_config(db.url)
    config = base.model_copy(
        update={"web": base.web.model_copy(update={"base_url": "https://sales.example.com/dashboard/"})}
    )
    app = create_app(config, db, ManualClock(NOW), auth=WebAuth(), cache_seconds=0)
    c = TestClient(app, base_url="https://sales.example.com", follow_redirects=False)
    assert c.get("/healthz").status_code == 200
    assert c.get("/healthz", headers={"host": "sales.example.com:443"}).status_code == 200
    assert TestClient(app).get("/healthz").status_code == 400  # Starlette's "testserver"
    config = base.model_copy(
        update={"web": base.web.model_copy(update={"allowed_hosts": ["dash.internal"]})}
    )
    app = create_app(config, db, ManualClock(NOW), auth=WebAuth(), cache_seconds=0)
    assert TestClient(app, base_url="http://dash.internal").get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "since=0001-01-01",
        "since=1899-12-31",
        "until=2201-01-01",
        "since=2026-01-01&until=9999-12-31",
    ],
)
def test_dates_outside_1900_to_2200_are_a_400_with_a_message(
    client: TestClient, query: str
) -> None:
    for path in ("/pipeline", "/", "/reps", "/csv/figures.csv", "/csv/reps.csv", "/partial/pipeline"):
        r = client.get(f"{path}?{query}")
        assert r.status_code == 400, (path, r.status_code)
        assert "between 1900 and 2200" in r.text


def test_query_parameters_are_validated_in_one_place(client: TestClient) -> None:
    assert client.get("/pipeline?until=2200-12-31&since=1900-01-01").status_code == 200
    r = client.get("/pipeline?rep=" + "x" * 500)
    assert r.status_code == 400 and "longer than" in r.text
    r = client.get("/?notice=" + "x" * 5000)
    assert r.status_code == 400 and "longer than" in r.text
    r = client.get("/pipeline?since=2026-13-01")
    assert r.status_code == 400 and "not a date" in r.text
