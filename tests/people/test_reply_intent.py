"""Reply intent end to end: real touches, real replies in Dovecot, the real poller and sender.

"Not now, try me in March" in four languages brings the prospect back on the first
business day of March in their own zone, in their own thread; a referral with an address
enrolls the colleague, one without becomes a rep task; a calendar invitation moves the
deal to ``meeting`` and stops the sequence; a rep's correction re-plans.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from sequencer.clock import ManualClock
from sequencer.core.sequence_files import load_sequences
from sequencer.db.models import Enrollment, Event, Prospect
from sequencer.db.session import Database
from sequencer.project import load_config
from tests.kit import World, parse, reply_to

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday in January
GMAIL_QUOTE = "\n\nOn Mon, Jan 12, 2026 at 10:00 AM Rep 0 <{rep}> wrote:\n> Hi Dana,\n> here is the quote.\n"


def intent_world(tmp_path: Path, db: Database, mail: Any, clock: ManualClock, *, policies: bool = True) -> World:
    """The test world plus the shipped reengage/referral sequences and their config keys."""
    clock.set(T0)
    world = World(tmp_path, db, mail, clock, sequence="quote")
    for name in ("reengage", "referral"):
        shutil.copy(ROOT / "sequences" / f"{name}.yaml", tmp_path / "sequences" / f"{name}.yaml")
        shutil.copytree(ROOT / "templates" / name, tmp_path / "templates" / name)
    data = yaml.safe_load(world.config_path.read_text())
    if policies:
        data["reengage"] = {"sequence": "reengage", "default_delay_days": 90}
        data["referrals"] = {"sequence": "referral"}
    world.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    world.config = load_config(world.config_path)
    world.sequences = load_sequences(world.config.sequences_path, world.templates,
                                     [m.name for m in world.config.mailboxes])
    return world


def send_and_reply(world: World, mail: Any, body: str, *, tz: str = "UTC", **extra: Any) -> tuple[int, str, Any]:
    """Enroll, send touch 1 for real, have the prospect reply, poll; (enrollment, prospect, reply)."""
    prospect = mail.new_address("dana")
    eid = world.enroll(prospect, tz=tz, name="Dana Whitfield", company="Acme")
    due = world.enrollment(eid).next_send_at
    assert due is not None
    world.clock.set(max(world.clock.now(), due))  # the Americas' window opens later
    assert world.tick().sent == 1
    touch = world.touches(eid)[0].message_id
    reply = reply_to(touch, sender=prospect, to=world.rep, body=body + GMAIL_QUOTE.format(rep=world.rep), **extra)
    mail.send(reply, prospect, [world.rep])
    assert mail.wait_for(world.rep, 1)
    assert world.poll().ok
    return eid, prospect, reply


def enrollments_of(db: Database, email: str) -> list[Enrollment]:
    with db.session() as s:
        rows = list(s.scalars(select(Enrollment).join(Prospect).where(Prospect.email == email)
                              .order_by(Enrollment.id)))
        s.expunge_all()
        return rows


NOT_NOW = [
    ("en", "America/New_York", "Thanks. Not this quarter, we're in budget season. Try me again in March.", "march"),
    ("de", "Europe/Berlin", "Im Moment passt es leider nicht. Melden Sie sich gerne im März wieder.", "märz"),
    ("fr", "Europe/Paris", "Merci, ce n'est pas le bon moment. Recontactez-moi en mars.", "mars"),
    ("es", "America/Mexico_City", "Gracias, ahora mismo no es buen momento. Escríbame de nuevo en marzo.", "marzo"),
    # The opt-out languages beyond those four, each under its own mail client's quote header
    # (which comes first, so the English Gmail quote below it is cut too).
    ("it", "Europe/Rome", "Grazie, al momento no. Mi ricontatti a marzo.\n\nCordiali saluti\nDana\n\n"
     "Il giorno lun 12 gen 2026 alle ore 10:00 Rep 0 <rep0@rep.example> ha scritto:\n> Buongiorno Dana,", "a marzo"),
    ("pl", "Europe/Warsaw", "Dziękuję, na razie nie. Proszę odezwać się w marcu.\n\nZ poważaniem\nDana\n\n"
     "W dniu pon., 12.01.2026 o 10:00 Rep 0 <rep0@rep.example> napisał(a):\n> Dzień dobry,", "w marcu"),
    ("ja", "Asia/Tokyo", "現時点では予算がありません。3月に改めてご連絡ください。\n\nよろしくお願いいたします。\nDana\n\n"
     "差出人: Rep 0 <rep0@rep.example>\n送信日時: 2026年1月12日 10:00\n宛先: Dana\n件名: お見積り\n\nDana様", "3月"),
]


@pytest.mark.parametrize(("language", "tz", "body", "words"), NOT_NOW, ids=[x[0] for x in NOT_NOW])
def test_not_now_in_march_comes_back_in_march_in_the_prospects_thread(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path, language: str, tz: str, body: str, words: str
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    eid, prospect, reply = send_and_reply(world, mail, body, tz=tz)
    first, again = enrollments_of(db, prospect)
    assert (first.id, first.status, first.intent) == (eid, "replied", "not_now")
    assert first.reengage_on is not None and first.reengage_on.isoformat() == "2026-03-02"  # Mar 1 is a Sunday
    assert words in (first.intent_evidence or "").lower()
    assert (again.sequence_id, again.status, again.source, again.origin_enrollment_id) == (
        "reengage", "active", "reengage", eid)
    due = again.next_send_at
    assert due is not None
    assert due.astimezone(ZoneInfo(tz)).date().isoformat() == "2026-03-02"  # the prospect's day
    # The rep's alert says what was planned.
    alerts = [parse(raw) for _f, rcpts, raw in mail.relay.messages
              if parse(raw)["X-Sequencer-Notification"] == "reply-alert"]
    assert alerts and "coming back on 2026-03-02" in alerts[-1].get_body(("plain",)).get_content()
    # Nothing goes before the day; on the day the touch answers their reply, quoting them.
    clock.set(due - timedelta(hours=1))
    assert world.tick().sent == 0
    clock.set(due + timedelta(minutes=1))
    assert world.tick().sent == 1
    inbox = mail.wait_for(prospect, 2)
    back = inbox[-1]
    assert back["In-Reply-To"] == reply["Message-ID"]
    assert reply["Message-ID"] in back["References"].split()
    assert back["Subject"] == "Re: Your quote for Acme"
    assert "you asked me to get back to you" in back.get_body(("plain",)).get_content()


def test_not_now_without_a_date_uses_the_default_delay(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    eid, prospect, _ = send_and_reply(world, mail, "Not right now, sorry.")
    first, again = enrollments_of(db, prospect)
    assert first.intent == "not_now"
    assert first.reengage_on is not None and first.reengage_on.isoformat() == "2026-04-13"  # +90 days, a Monday
    assert again.sequence_id == "reengage"


def test_a_past_mention_is_no_not_now(db: Database, mail: Any, clock: ManualClock, tmp_path: Path) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    _, prospect, _ = send_and_reply(world, mail, "Sorry, I was away in March. Sounds interesting, tell me more.")
    [first] = enrollments_of(db, prospect)
    assert (first.status, first.intent, first.reengage_on) == ("replied", "interested", None)


REFERRALS = [
    ("en", "I'm not the right person. Please talk to Jane Doe ({jane}), she runs purchasing.", "Jane Doe"),
    ("sv", "Jag är inte rätt person, kontakta min kollega Jane Doe ({jane}).\n\nMed vänliga hälsningar\nDana\n\n"
     "Den mån 12 jan. 2026 kl 10:00 skrev Rep 0 <rep0@rep.example>:\n> Hej Dana,", "Jane Doe"),
    ("zh", "这个不归我负责，请联系我的同事张伟（{jane}）。\n\n谢谢！\nDana\n\n"
     "发件人: Rep 0 <rep0@rep.example>\n发送时间: 2026年1月12日 10:00\n收件人: Dana\n主题: 报价\n\nDana您好", "张伟"),
]


@pytest.mark.parametrize(("language", "body", "name"), REFERRALS, ids=[x[0] for x in REFERRALS])
def test_referral_with_an_address_enrolls_the_colleague(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path, language: str, body: str, name: str
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    jane = mail.new_address("jane")
    eid, prospect, _ = send_and_reply(world, mail, body.format(jane=jane), tz="Europe/Berlin")
    [first] = enrollments_of(db, prospect)
    assert (first.status, first.intent) == ("replied", "referral")
    [colleague_enrollment] = enrollments_of(db, jane)
    assert (colleague_enrollment.sequence_id, colleague_enrollment.status, colleague_enrollment.owner) == (
        "referral", "active", "rep0")
    shown = world.cli_json("show", jane)
    assert shown["referred_by"] == prospect
    assert (shown["name"], shown["company"], shown["fields"]["referred_by"]) == (name, "Acme", prospect)
    assert world.tick().sent == 1
    [intro] = mail.wait_for(jane, 1)
    assert intro["Subject"] == "Dana suggested I write to you"
    assert "Dana Whitfield told me you're the right person" in intro.get_body(("plain",)).get_content()


def test_referral_without_an_address_is_a_rep_task(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    send_and_reply(world, mail, "Dafür bin ich nicht zuständig. Wenden Sie sich bitte an meine Kollegin Anna Schmidt.")
    tasks = [t for t in world.tasks() if t.status == "open"]
    assert [t.title for t in tasks] == ["Find Anna Schmidt's address (referred by Dana Whitfield, Acme)"]
    assert tasks[0].owner == "rep0"


ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nMETHOD:{method}\r\n"
    "BEGIN:VEVENT\r\nDTSTART:20260115T150000Z\r\nDTEND:20260115T153000Z\r\n"
    "ORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT={partstat};RSVP=TRUE:mailto:{attendee}\r\n"
    "SUMMARY:Quote walkthrough\r\nUID:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize(("method", "partstat", "subject"), [
    ("REQUEST", "NEEDS-ACTION", "Invitation: Quote walkthrough @ Thu Jan 15, 2026"),
    ("REPLY", "ACCEPTED", "Accepted: Quote walkthrough"),
])
def test_a_calendar_invitation_moves_the_stage_to_meeting_and_stops_the_sequence(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path, method: str, partstat: str, subject: str
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    prospect = mail.new_address("dana")
    eid = world.enroll(prospect)
    assert world.tick().sent == 1
    invite = reply_to(None, sender=prospect, to=world.rep, body=subject, subject=subject)
    invite.add_alternative(ICS.format(
        # a REQUEST: the prospect invites the rep; a REPLY: the prospect accepts the rep's invitation
        organizer=prospect if method == "REQUEST" else world.rep,
        attendee=world.rep if method == "REQUEST" else prospect, uid=eid, method=method, partstat=partstat),
                           subtype="calendar", params={"method": method})
    mail.send(invite, prospect, [world.rep])
    assert mail.wait_for(world.rep, 1)
    assert world.poll().ok
    e = world.enrollment(eid)
    assert (e.status, e.intent) == ("replied", "meeting")
    shown = world.cli_json("show", prospect)
    assert shown["stage"] == "meeting"
    with db.session() as s:
        meeting = s.scalars(select(Event).where(Event.enrollment_id == eid, Event.kind == "meeting")).one()
        assert meeting.data["at"] == "2026-01-15T15:00:00+00:00"
    clock.set(T0 + timedelta(days=10))
    assert world.tick().sent == 0  # the sequence stopped


def test_without_policies_not_now_is_recorded_with_a_rep_task(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock, policies=False)
    _, prospect, _ = send_and_reply(world, mail, "Not now. Try me in March.")
    [first] = enrollments_of(db, prospect)
    assert (first.intent, first.reengage_on.isoformat() if first.reengage_on else None) == ("not_now", "2026-03-02")
    [task] = [t for t in world.tasks() if t.status == "open"]
    assert task.title.startswith(f"Get back to {prospect} on 2026-03-02")


def test_a_correction_cancels_the_planned_reengagement_and_replans(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    eid, prospect, _ = send_and_reply(world, mail, "Not now. Try me in March.")
    first, planned = enrollments_of(db, prospect)
    assert planned.status == "active"
    # The rep knows better: they meant May.
    moved = world.cli_json("intent", prospect, "not_now", "--on", "2026-05-04")
    assert (moved["previous"], moved["intent"], moved["reengage_on"], moved["cancelled"]) == (
        "not_now", "not_now", "2026-05-04", [planned.id])
    rows = enrollments_of(db, prospect)
    assert [(r.sequence_id, r.status) for r in rows] == [("quote", "replied"), ("reengage", "unenrolled"),
                                                         ("reengage", "active")]
    assert rows[2].next_send_at is not None and rows[2].next_send_at.date().isoformat() == "2026-05-04"
    # And then: it was a meeting after all. Nothing comes back; the deal is at meeting.
    meeting = world.cli_json("intent", prospect, "meeting")
    assert meeting["cancelled"] == [rows[2].id]
    assert [r.status for r in enrollments_of(db, prospect)] == ["replied", "unenrolled", "unenrolled"]
    shown = world.cli_json("show", prospect)
    assert shown["stage"] == "meeting"
    assert shown["enrollments"][0]["intent"] == "meeting"
    corrections = [e for e in shown["timeline"] if e["kind"] == "intent_corrected"]
    assert [(c["detail"]["from"], c["detail"]["label"]) for c in corrections] == [
        ("not_now", "not_now"), ("not_now", "meeting")]
    assert "Try me in March" in corrections[0]["detail"]["text"]
    text = world.cli("show", prospect).output
    assert "intent (quote): meeting" in text
    bad = world.cli("intent", prospect, "not_now", "--on", "2020-01-01")
    assert bad.exit_code != 0 and "not in the future" in bad.output


def test_report_counts_replies_by_intent_per_sequence_step_and_rep(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    send_and_reply(world, mail, "Not now. Try me in March.")
    send_and_reply(world, mail, "Kein Interesse, danke.")
    report = world.cli_json("report")
    rows = {(x["sequence"], x["step"], x["owner"], x["intent"]): x["replies"] for x in report["intents"]}
    assert rows == {("quote", 1, "rep0", "not_now"): 1, ("quote", 1, "rep0", "not_interested"): 1}
    assert report["coming_back"] == [{"month": "2026-03", "leads": 1, "value": 18400.0}]
    text = world.cli("report").output
    assert "Replies by intent" in text and "not_interested" in text
    assert "Coming back (not now)" in text


def test_the_lead_page_shows_the_intent_and_its_evidence_escaped(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from sequencer.web.app import create_app
    from sequencer.web.auth import WebAuth

    world = intent_world(tmp_path, db, mail, clock)
    _, prospect, _ = send_and_reply(world, mail, "<b>Not now</b>. Try me in March.")
    app = create_app(world.config, db, clock, auth=WebAuth(), cache_seconds=0)
    page = TestClient(app, base_url="http://127.0.0.1").get(f"/leads/{prospect}")
    assert page.status_code == 200, page.text
    assert 'data-intent="not_now"' in page.text
    assert "intent not_now, back on 2026-03-02: not now: en &#39;Not now&#39;, period &#39;in March&#39;" in page.text
    assert "<b>Not now</b>" not in page.text


def test_correcting_to_referral_without_names_asks_the_rep_to_find_the_colleague(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    _, prospect, _ = send_and_reply(world, mail, "Thanks, got it.")
    [first] = enrollments_of(db, prospect)
    assert (first.status, first.intent) == ("replied", None)
    fixed = world.cli_json("intent", prospect, "referral")
    assert (fixed["previous"], fixed["intent"]) == (None, "referral")
    assert [t.title for t in world.tasks() if t.status == "open"] == [
        "Find the colleague Dana Whitfield referred you to (Acme)"]
