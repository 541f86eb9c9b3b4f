"""Logins per person: roles, id-guessing, revocation, throttling, tokens and SSO, over HTTP.

Seeded history: alice owns erin, finn and hal; bob owns dana, gus and mallory.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from sequencer.clock import ManualClock  # noqa: E402
from sequencer.db.models import Enrollment, Prospect, User  # noqa: E402
from sequencer.db.session import Database  # noqa: E402
from sequencer.people import users  # noqa: E402
from sequencer.web.app import create_app  # noqa: E402
from sequencer.web.auth import COOKIE, WebAuth  # noqa: E402
from tests.web.history import NOW, csrf_of, events, make_client, password_hash, web_config  # noqa: E402

PW = {"maria": "maria-manager-pw", "alice": "alice-rep-password", "bob": "bob-rep-password"}


@pytest.fixture
def team(db: Database, seeded: dict[str, int]) -> dict[str, int]:
    users.add_user(db, "maria", role="manager", rep=None, password=PW["maria"], now=NOW)
    users.add_user(db, "alice", role="rep", rep="alice", password=PW["alice"], now=NOW)
    users.add_user(db, "bob", role="rep", rep=None, password=PW["bob"], now=NOW)  # rep = name
    return seeded


def sign_in(c: TestClient, name: str, secret: str | None = None) -> TestClient:
    page = c.get("/login")
    r = c.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": name, "secret": secret or PW[name], "next": "/"},
    )
    assert r.status_code == 303, r.text
    return c


def test_a_rep_sees_and_acts_on_their_own_leads_only(db: Database, team: dict[str, int]) -> None:
    alice = sign_in(make_client(db, auth=WebAuth(password_hash=password_hash())), "alice")
    for path in ("/", "/pipeline", "/reps", "/sequences/quote", "/pipeline?rep=bob"):
        page = alice.get(path).text
        assert "Dana" not in page and "Gus Ward" not in page, path
    assert "Finn" in alice.get("/").text and "Erin" in alice.get("/").text
    for table in ("unanswered", "stalled", "held", "figures", "reps", "pipeline"):
        csv = alice.get(f"/csv/{table}.csv?rep=bob")
        assert csv.status_code == 200 and "dana@" not in csv.text and ",bob," not in csv.text, table
    # id-guessing: another rep's lead by URL and by POST is a 404, as if it did not exist
    assert alice.get("/leads/dana@prospects.example").status_code == 404
    assert alice.get("/leads/finn@prospects.example").status_code == 200
    token = csrf_of(alice.get("/").text)
    for action in ("pause", "resume", "handled", "reassign"):
        r = alice.post(
            f"/actions/{action}",
            data={"csrf": token, "enrollment_id": str(team["gus"]), "reason": "x", "owner": "alice"},
        )
        assert r.status_code == 404, action
    with db.session() as s:
        gus = s.get(Enrollment, team["gus"])
        assert (gus.status, gus.owner) == ("active", "bob")
    # her own lead: done, recorded as her login, whatever name is typed anywhere
    r = alice.post(
        "/actions/pause",
        data={"csrf": token, "enrollment_id": str(team["finn"]), "reason": "calling", "name": "Maria"},
    )
    assert r.status_code == 303
    assert events(db, team["finn"], "paused")[0].actor == "web:alice"


def test_the_leads_list_its_csv_bulk_actions_and_stage_moves_keep_a_rep_to_their_own(
    db: Database, team: dict[str, int]
) -> None:
    alice = sign_in(make_client(db, auth=WebAuth(password_hash=password_hash())), "alice")
    for path in ("/leads", "/leads?rep=bob", "/partial/leads?rep=bob", "/leads.csv?rep=bob"):
        page = alice.get(path)
        assert page.status_code == 200 and "dana@" not in page.text and "gus@" not in page.text, path
    assert "finn@" in alice.get("/leads").text
    token = csrf_of(alice.get("/leads").text)
    for confirm in ("", "1"):  # neither the preview nor the action touches bob's lead
        r = alice.post("/leads/bulk", data={"csrf": token, "action": "stop", f"e{team['gus']}": "1",
                                            "confirm": confirm})
        assert r.status_code == 404, confirm
    r = alice.post("/actions/stage", data={"csrf": token, "email": "dana@prospects.example", "stage": "lost"})
    assert r.status_code == 404
    with db.session() as s:
        assert s.get(Enrollment, team["gus"]).status == "active"
        dana = s.query(Prospect).filter_by(email="dana@prospects.example").one()
        assert dana.stage != "lost"
    r = alice.post("/actions/stage", data={"csrf": token, "email": "finn@prospects.example", "stage": "meeting"})
    assert r.status_code == 303


def test_the_shared_password_is_a_manager_until_one_exists_and_its_sessions_then_end(
    db: Database, seeded: dict[str, int]
) -> None:
    auth = WebAuth(password_hash=password_hash())
    c = make_client(db, auth=auth)
    page = c.get("/login")
    r = c.post("/login", data={"csrf": csrf_of(page.text), "name": "Morgan", "secret": "correct horse battery staple"})
    assert r.status_code == 303 and c.get("/leads/dana@prospects.example").status_code == 200
    users.add_user(db, "alice", role="rep", rep="alice", password=PW["alice"], now=NOW)
    assert c.get("/").status_code == 200  # a rep alone does not end the bootstrap manager
    users.add_user(db, "maria", role="manager", rep=None, password=PW["maria"], now=NOW)
    assert c.get("/").status_code == 303
    users.disable_user(db, "maria", now=NOW)  # no enabled manager: the shared secret works again
    c2 = make_client(db, auth=auth)
    page = c2.get("/login")
    r = c2.post("/login", data={"csrf": csrf_of(page.text), "name": "Morgan", "secret": "correct horse battery staple"})
    assert r.status_code == 303


def test_a_manager_sees_all_and_the_shared_password_stops_once_a_manager_exists(
    db: Database, team: dict[str, int]
) -> None:
    maria = sign_in(make_client(db, auth=WebAuth(password_hash=password_hash())), "maria")
    page = maria.get("/").text
    assert "Dana" in page and "Finn" in page
    assert maria.get("/leads/dana@prospects.example").status_code == 200
    # the bootstrap password no longer logs in (a manager exists)
    c = make_client(db, auth=WebAuth(password_hash=password_hash()))
    page = c.get("/login")
    r = c.post("/login", data={"csrf": csrf_of(page.text), "name": "x", "secret": "correct horse battery staple"})
    assert r.status_code == 401


def test_logout_password_change_and_disable_revoke_a_copied_cookie_at_once(
    db: Database, team: dict[str, int]
) -> None:
    clock = ManualClock(NOW)
    auth = WebAuth(password_hash=password_hash())
    for end in ("logout", "passwd", "disable"):
        c = sign_in(make_client(db, auth=auth, clock=clock), "bob")
        stolen = c.cookies[COOKIE]
        assert c.get("/").status_code == 200
        if end == "logout":
            assert c.post("/logout", data={"csrf": csrf_of(c.get("/").text)}).status_code == 303
        elif end == "passwd":
            users.set_password(db, "bob", PW["bob"], now=clock.now())
        else:
            users.disable_user(db, "bob", now=clock.now())
        replay = make_client(db, auth=auth, clock=clock)
        replay.cookies.set(COOKIE, stolen)
        r = replay.get("/pipeline")
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), end
    # a disabled user cannot log in again
    c = make_client(db, auth=auth, clock=clock)
    r = c.post("/login", data={"csrf": csrf_of(c.get("/login").text), "name": "bob", "secret": PW["bob"]})
    assert r.status_code == 401


def test_sessions_end_after_idle_and_absolute_timeouts(db: Database, team: dict[str, int]) -> None:
    clock = ManualClock(NOW)
    auth = WebAuth(password_hash=password_hash(), session_hours=12)
    c = sign_in(make_client(db, auth=auth, clock=clock), "maria")
    clock.advance(timedelta(minutes=119))  # idle_minutes is 120
    assert c.get("/").status_code == 200
    clock.advance(timedelta(minutes=119))
    assert c.get("/").status_code == 200
    clock.advance(timedelta(minutes=121))
    assert c.get("/").status_code == 303  # idle
    c = sign_in(make_client(db, auth=auth, clock=clock), "maria")
    for _ in range(13):
        clock.advance(timedelta(minutes=59))
        status = c.get("/").status_code
    assert status == 303  # 12 h 47 min after login: over the absolute limit


def test_twenty_wrong_passwords_then_the_right_one_gets_429_until_the_lock_ends(
    db: Database, team: dict[str, int]
) -> None:
    clock = ManualClock(NOW)
    c = make_client(db, auth=WebAuth(), clock=clock)
    token = csrf_of(c.get("/login").text)

    def attempt(secret: str, name: str = "maria") -> tuple[int, int | None]:
        r = c.post("/login", data={"csrf": token, "name": name, "secret": secret})
        retry = r.headers.get("retry-after")
        return r.status_code, int(retry) if retry else None

    for n in range(1, 21):
        status, retry = attempt("wrong")
        assert status == 401, n
        if 5 <= n < 20:  # the back-off: the very next attempt is refused, not even checked
            status, retry = attempt(PW["maria"])
            assert status == 429 and retry is not None and retry >= 1
            clock.advance(timedelta(seconds=retry))
    status, retry = attempt(PW["maria"])
    assert status == 429 and retry == 15 * 60
    clock.advance(timedelta(minutes=14))
    assert attempt(PW["maria"])[0] == 429
    clock.advance(timedelta(minutes=1))
    assert attempt(PW["maria"])[0] == 303


def test_the_address_is_throttled_across_accounts_and_shared_between_workers(
    db: Database, team: dict[str, int]
) -> None:
    clock = ManualClock(NOW)
    one, two = (make_client(db, auth=WebAuth(), clock=clock) for _ in range(2))  # two web workers
    for n in range(5):
        c = (one, two)[n % 2]
        r = c.post(
            "/login", data={"csrf": csrf_of(c.get("/login").text), "name": f"guess{n}", "secret": "x"}
        )
        assert r.status_code == 401
    r = two.post("/login", data={"csrf": csrf_of(two.get("/login").text), "name": "alice", "secret": PW["alice"]})
    assert r.status_code == 429 and "retry-after" in r.headers


def test_api_tokens_per_user_are_scoped_like_their_owner(db: Database, team: dict[str, int]) -> None:
    token = users.new_token(db, "alice", label="crm sync", now=NOW)
    c = make_client(db, auth=WebAuth(), clock=ManualClock(NOW))
    bearer = {"Authorization": f"Bearer {token}"}
    r = c.get("/csv/unanswered.csv", headers=bearer)
    assert r.status_code == 200 and "erin@" in r.text and "dana@" not in r.text
    assert c.get("/leads/dana@prospects.example", headers=bearer).status_code == 404
    assert c.get("/csv/unanswered.csv", headers={"Authorization": "Bearer sqt_forged"}).status_code == 303
    users.disable_user(db, "alice", now=NOW)
    assert c.get("/csv/unanswered.csv", headers=bearer).status_code == 303


def test_sso_header_is_honoured_only_when_configured(db: Database, team: dict[str, int]) -> None:
    base = web_config(db.url)
    header = {"X-Remote-User": "alice"}
    plain = make_client(db, auth=WebAuth(), clock=ManualClock(NOW))
    assert plain.get("/pipeline", headers=header).status_code == 303  # off by default
    config = base.model_copy(update={"web": base.web.model_copy(update={"sso_header": "X-Remote-User"})})
    app = create_app(config, db, ManualClock(NOW), auth=WebAuth(), cache_seconds=0)
    c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    page = c.get("/", headers=header)
    assert page.status_code == 200 and "Finn" in page.text and "Dana" not in page.text
    assert c.get("/pipeline", headers={"X-Remote-User": "nobody"}).status_code == 303
    with db.session() as s:
        assert s.query(User).count() == 3


def test_twenty_parallel_guesses_get_only_the_free_attempts(db: Database, team: dict[str, int]) -> None:
    """The probe that beat the old 1 s sleep: parallel guesses queue on the throttle row."""
    import threading

    clock = ManualClock(NOW)
    clients = [make_client(db, auth=WebAuth(), clock=clock) for _ in range(20)]
    tokens = [csrf_of(c.get("/login").text) for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(c: TestClient, token: str) -> None:
        barrier.wait()
        r = c.post("/login", data={"csrf": token, "name": "maria", "secret": "wrong"})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * 5 + [429] * 15
