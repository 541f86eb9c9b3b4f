"""The manager report over a known history: exact numbers, on SQLite and PostgreSQL.

The history is written through the store's guarded transitions over four
simulated weeks (2 Feb - 2 Mar 2026), so every enrollment reaches its state
the way the services would put it there. The report is taken on Monday
2 March 2026, 09:00 UTC.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.db.models import Enrollment, Message, Prospect, SequenceRecord
from sequencer.db.session import Database
from sequencer.db.store import record_event, transition
from sequencer.reporting.model import CSV_COLUMNS
from sequencer.reporting.report import build_report

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def d(day: int, hour: float = 9, month: int = 2) -> datetime:
    """A time in February 2026 (or another month), UTC."""
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(hours=hour)


class History:
    """Writes enrollments, touches and transitions as the services would."""

    def __init__(self, s: Any) -> None:
        self.s = s
        self.prospects: dict[str, Prospect] = {}

    def sequence(self, seq_id: str, name: str, steps: int) -> None:
        self.s.add(SequenceRecord(id=seq_id, name=name, total_steps=steps, definition={}, digest="x", loaded_at=d(1)))

    def enroll(self, who: str, seq: str, owner: str, at: datetime, deal: str | None, steps: int) -> Enrollment:
        p = self.prospects.get(who)
        if p is None:
            email = f"{who}@prospects.example"
            p = Prospect(
                email=email, display_email=email, name=who.title(), company=f"{who.title()} GmbH",
                owner=owner, deal_value=Decimal(deal) if deal else None, fields={}, created_at=at, updated_at=at,
            )
            self.s.add(p)
            self.s.flush()
            self.prospects[who] = p
        e = Enrollment(
            prospect_id=p.id, sequence_id=seq, mailbox=owner, owner=owner, status=lifecycle.ACTIVE,
            status_reason="enrolled", status_changed_at=at, steps_done=0, total_steps=steps,
            next_send_at=at, token=secrets.token_hex(8), enrolled_at=at, thread_refs=[],
        )
        self.s.add(e)
        self.s.flush()
        record_event(self.s, now=at, kind="enrolled", actor=owner, enrollment=e)
        return e

    def touch(self, e: Enrollment, at: datetime, variant: str | None = None, wait_days: int = 3) -> None:
        step = e.steps_done + 1
        self.s.add(Message(
            enrollment_id=e.id, step=step, message_id=f"<{e.id}.{step}@t>", mailbox=e.mailbox,
            to_addr="x@prospects.example", subject="Quote", variant=variant, status="sent",
            claimed_at=at, sent_at=at, attempts=1,
        ))
        e.steps_done = step
        e.last_touch_at = at
        e.next_send_at = at + timedelta(days=wait_days)
        self.s.flush()
        record_event(self.s, now=at, kind="sent", actor="sender", enrollment=e, step=step)

    def move(self, e: Enrollment, target: str, at: datetime, reason: str | None, **values: Any) -> None:
        transition(self.s, e, target, now=at, actor="test", reason=reason, **values)

    def reply(self, e: Enrollment, at: datetime, answered: datetime | None = None) -> None:
        self.move(e, lifecycle.REPLIED, at, "human reply", replied_at=at, replied_step=e.steps_done,
                  answered_at=answered)


def build_history(db: Database) -> None:
    """17 enrollments of 16 prospects, 2 sequences, 2 reps, every state."""
    with db.session() as s:
        h = History(s)
        h.sequence("quote", "Quote follow-up", 3)
        h.sequence("proposal", "Proposal follow-up", 4)
        # quote: q1 replied to touch 2 after 24 h, answered in 2 h
        q1 = h.enroll("q1", "quote", "alice", d(2), "1000", 3)
        h.touch(q1, d(2))
        h.touch(q1, d(5))
        h.reply(q1, d(6), answered=d(6, 11))
        # q2: every touch, no reply -> completed (then re-enrolled in proposal as p9)
        q2 = h.enroll("q2", "quote", "alice", d(2), "2000", 3)
        for day in (2, 5, 8):
            h.touch(q2, d(day))
        h.move(q2, lifecycle.COMPLETED, d(11), "all touches sent")
        # q3: hard bounce on touch 1
        q3 = h.enroll("q3", "quote", "bob", d(9), "500", 3)
        h.touch(q3, d(9))
        h.move(q3, lifecycle.BOUNCED, d(9, 10), "550 no such user")
        # q4: replied to touch 1 after 6 h; never answered (SLA breached)
        q4 = h.enroll("q4", "quote", "bob", d(16), "3000", 3)
        h.touch(q4, d(16))
        h.reply(q4, d(16, 15))
        # q5: overdue 4 days (stalled): the mailbox is paused
        q5 = h.enroll("q5", "quote", "alice", d(23), None, 3)
        h.touch(q5, d(23))
        q5.wait_reason = "mailbox alice paused: authentication failed"
        # q6: overdue by 1 hour (not stalled): outside the send window
        q6 = h.enroll("q6", "quote", "bob", d(27), "700", 3)
        h.touch(q6, d(27))
        q6.next_send_at = d(2, 8, month=3)
        q6.wait_reason = "outside send window"
        # q7: enrolled yesterday, first touch due in an hour
        q7 = h.enroll("q7", "quote", "alice", d(1, 9, month=3), "400", 3)
        q7.next_send_at = d(2, 10, month=3)
        # q8: unenrolled (a mistake): excluded from every figure but `unenrolled`
        q8 = h.enroll("q8", "quote", "bob", d(10), "99999", 3)
        h.move(q8, lifecycle.UNENROLLED, d(10, 10), "enrolled by mistake")

        # proposal: p1 replied to touch 4 after 24 h, answered in 12 h; variants on step 1
        p1 = h.enroll("p1", "proposal", "alice", d(3), "10000", 4)
        h.touch(p1, d(3), variant="A")
        for day in (6, 9, 12):
            h.touch(p1, d(day))
        h.reply(p1, d(13), answered=d(13, 21))
        # p2: paused (out of office) with a reason
        p2 = h.enroll("p2", "proposal", "bob", d(3), "5000", 4)
        h.touch(p2, d(3), variant="B")
        h.move(p2, lifecycle.PAUSED, d(4), "out of office until 9 March", paused_until=d(9, 0, month=3))
        # p3: unsubscribed 3 h after touch 1
        p3 = h.enroll("p3", "proposal", "bob", d(3), "800", 4)
        h.touch(p3, d(3), variant="A")
        h.move(p3, lifecycle.UNSUBSCRIBED, d(3, 12), "please remove me")
        # p4: replied 30 min after touch 1 (answered after 1 h), then unsubscribed
        p4 = h.enroll("p4", "proposal", "alice", d(17), "1500", 4)
        h.touch(p4, d(17), variant="B")
        h.reply(p4, d(17, 9.5), answered=d(17, 10.5))
        h.move(p4, lifecycle.UNSUBSCRIBED, d(18), "asked to stop")
        # p5: stopped by the rep
        p5 = h.enroll("p5", "proposal", "alice", d(18), "2500", 4)
        h.touch(p5, d(18), variant="A")
        h.move(p5, lifecycle.STOPPED, d(19), "meeting booked by phone")
        # p6: failed for good
        p6 = h.enroll("p6", "proposal", "bob", d(18), "300", 4)
        h.touch(p6, d(18), variant="B")
        h.move(p6, lifecycle.FAILED, d(19), "template error: missing first_name")
        # p7: VIOLATION: active with no next touch
        p7 = h.enroll("p7", "proposal", "alice", d(24), "600", 4)
        h.touch(p7, d(24))
        p7.next_send_at = None
        # p8: VIOLATION: paused without a reason
        p8 = h.enroll("p8", "proposal", "bob", d(24), "900", 4)
        h.move(p8, lifecycle.PAUSED, d(25), None)
        # p9: q2's prospect, re-enrolled after completing quote; next touch tomorrow
        p9 = h.enroll("q2", "proposal", "alice", d(25), None, 4)
        h.touch(p9, d(25), wait_days=5)
        # p10: completed without reply (value at risk)
        p10 = h.enroll("p10", "proposal", "bob", d(4), "1200", 4)
        for day in (4, 7, 10, 13):
            h.touch(p10, d(day))
        h.move(p10, lifecycle.COMPLETED, d(16), "all touches sent")
        # activity yesterday (1 March), besides q7's enrollment
        record_event(s, now=d(1, 12, month=3), kind="note", actor="alice", enrollment=p9)


def config(**reporting: Any) -> Config:
    return Config.model_validate({"reporting": {"stalled_after_days": 2, "reply_sla_hours": 4, **reporting}})


@pytest.fixture
def report_json(db: Database) -> dict[str, Any]:
    build_history(db)
    return json.loads(build_report(db, config(), now=NOW).to_json())


def by(items: list[dict[str, Any]], key: str, value: Any) -> dict[str, Any]:
    found = [i for i in items if i[key] == value]
    assert len(found) == 1, f"{key}={value!r}: {found}"
    return found[0]


def test_totals_count_every_state_and_leave_unenrolled_out(report_json: dict[str, Any]) -> None:
    t = report_json["totals"]
    states = {k: t[k] for k in ("enrolled", "active", "paused", "replied", "bounced", "unsubscribed",
                                "completed", "stopped", "failed", "unenrolled")}
    assert states == {
        "enrolled": 17, "active": 5, "paused": 2, "replied": 3, "bounced": 1, "unsubscribed": 2,
        "completed": 2, "stopped": 1, "failed": 1, "unenrolled": 1,
    }
    # contacted = at least one touch: all but q7 and p8 (and the unenrolled q8)
    assert (t["contacted"], t["replies"], t["finished"]) == (15, 4, 10)
    assert t["reply_rate"] == round(4 / 15, 4)
    assert t["bounce_rate"] == round(1 / 15, 4)
    assert t["completion_rate"] == round(10 / 17, 4)


def test_per_sequence_figures_and_replies_by_touch(report_json: dict[str, Any]) -> None:
    quote = by(report_json["sequences"], "sequence_id", "quote")
    assert quote["sequence_name"] == "Quote follow-up"
    assert (quote["enrolled"], quote["unenrolled"], quote["active"], quote["replied"], quote["completed"]) == (7, 1, 3, 2, 1)
    assert quote["touched"] == [6, 2, 1]  # q1,q2,q3,q4,q5,q6 got touch 1; q1,q2 touch 2; q2 touch 3
    assert quote["replies_by_touch"] == [1, 1, 0]
    proposal = by(report_json["sequences"], "sequence_id", "proposal")
    assert (proposal["enrolled"], proposal["replies"], proposal["unsubscribed"]) == (10, 2, 2)
    assert proposal["replies_by_touch"] == [1, 0, 0, 1]  # p4 after touch 1, p1 after touch 4
    assert proposal["touched"] == [9, 2, 2, 2]


def test_time_to_reply_is_measured_from_the_last_touch(report_json: dict[str, Any]) -> None:
    # latencies: q4 6 h, q1 24 h, p4 0.5 h, p1 24 h -> sorted 0.5, 6, 24, 24
    assert report_json["totals"]["time_to_reply"] == {"n": 4, "median_hours": 6.0, "p90_hours": 24.0}
    quote = by(report_json["sequences"], "sequence_id", "quote")
    assert quote["time_to_reply"] == {"n": 2, "median_hours": 6.0, "p90_hours": 24.0}
    bob_quote = by([f for f in report_json["sequence_reps"] if f["owner"] == "bob"], "sequence_id", "quote")
    assert bob_quote["time_to_reply"] == {"n": 1, "median_hours": 6.0, "p90_hours": 6.0}
    # answers: p4 1 h, q1 2 h, p1 12 h
    assert report_json["replies"]["time_to_answer"] == {"n": 3, "median_hours": 2.0, "p90_hours": 12.0}


def test_per_rep_figures(report_json: dict[str, Any]) -> None:
    alice = by(report_json["reps"], "owner", "alice")
    bob = by(report_json["reps"], "owner", "bob")
    assert (alice["enrolled"], alice["replies"], alice["active"], alice["stopped"]) == (9, 3, 4, 1)
    assert (bob["enrolled"], bob["unenrolled"], bob["bounced"], bob["failed"], bob["paused"]) == (8, 1, 1, 1, 2)
    assert alice["time_to_answer"] == {"n": 3, "median_hours": 2.0, "p90_hours": 12.0}
    assert bob["time_to_answer"] == {"n": 0, "median_hours": None, "p90_hours": None}
    assert len(report_json["sequence_reps"]) == 4


def test_variants_compare_sends_and_replies(report_json: dict[str, Any]) -> None:
    assert report_json["variants"] == [
        {"sequence_id": "proposal", "step": 1, "variant": "A", "sent": 3, "replies": 0, "reply_rate": 0.0},
        {"sequence_id": "proposal", "step": 1, "variant": "B", "sent": 3, "replies": 1, "reply_rate": 0.3333},
    ]
    [step] = report_json["steps"]
    assert (step["sequence_id"], step["step"], step["sent"], step["replies"]) == ("proposal", 1, 6, 1)
    assert [(v["name"], v["sent"], v["replies"], v["reply_rate"]) for v in step["variants"]] == [
        ("A", 3, 0, 0.0), ("B", 3, 1, 0.3333),
    ]
    assert step["p_value"] == 0.2733 and step["more_than_chance"] is False
    assert step["verdict"] == "B 33.3% vs A 0.0%: not yet more than chance at this sample size (6 sent, p = 0.27)."


def test_a_large_gap_between_variants_is_called_more_than_chance() -> None:
    from sequencer.reporting.ab import step_figures
    from sequencer.reporting.model import Variant

    [step] = step_figures([Variant("s", 2, "long", 200, 20, 0.1), Variant("s", 2, "short", 200, 50, 0.25)])
    assert step.sent == 400 and step.more_than_chance and step.p_value is not None and step.p_value < 0.001
    assert step.verdict.startswith("short 25.0% vs long 10.0%: short gets more replies, more than chance")
    [alone] = step_figures([Variant("s", 2, "long", 5, 1, 0.2)])
    assert alone.p_value is None and alone.verdict == "Only one variant sent so far: nothing to compare yet."


def test_variants_in_the_table_csv_and_html(db: Database, db_url: str, tmp_path: Path) -> None:
    build_history(db)
    base = ["--config", str(write_config(tmp_path, db_url)), "--at", "2026-03-02T09:00", "report"]
    runner = CliRunner()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, [*base, "--format", "csv", "--table", "variants"]).output)))
    assert [(r["variant"], r["sent"], r["replies"], r["step_sent"], r["more_than_chance"]) for r in rows] == [
        ("A", "3", "0", "6", "False"), ("B", "3", "1", "6", "False"),
    ]
    verdict = "proposal step 1: B 33.3% vs A 0.0%: not yet more than chance at this sample size"
    assert verdict in runner.invoke(main, base).output
    assert verdict in runner.invoke(main, [*base, "--format", "html"]).output


def test_aging_overdue_and_stalled(report_json: dict[str, Any]) -> None:
    aging = report_json["aging"]
    assert aging["active"] == 5
    # since last touch (or enrollment): q7 1 d -> 1-3d; q6 3 d -> 3-7d; q5 7 d, p7 6 d, p9 5 d
    assert {b["label"]: b["count"] for b in aging["since_last_touch"]} == {
        "<1d": 0, "1-3d": 1, "3-7d": 3, "7-14d": 1, "14-30d": 0, "30d+": 0,
    }
    assert {b["label"]: b["count"] for b in aging["until_next_touch"]} == {
        "unscheduled": 1, "overdue": 2, "<1d": 2, "1-3d": 0, "3-7d": 0, "7d+": 0,
    }
    assert (aging["overdue"], aging["stalled"]) == (2, 1)
    assert aging["overdue_by_reason"] == [
        {"reason": "mailbox alice paused: authentication failed", "overdue": 1, "stalled": 1},
        {"reason": "outside send window", "overdue": 1, "stalled": 0},
    ]
    [stalled] = aging["stalled_leads"]
    assert (stalled["email"], stalled["owner"], stalled["step"], stalled["age_hours"]) == (
        "q5@prospects.example", "alice", 2, 96.0,
    )
    assert stalled["wait_reason"] == "mailbox alice paused: authentication failed"


def test_unanswered_replies_with_age_owner_value_and_sla(report_json: dict[str, Any]) -> None:
    r = report_json["replies"]
    assert (r["total"], r["answered"], r["unanswered"], r["sla_breaches"]) == (4, 3, 1, 1)
    [q4] = r["unanswered_replies"]
    assert (q4["email"], q4["owner"], q4["deal_value"], q4["step"], q4["sla_breached"]) == (
        "q4@prospects.example", "bob", 3000.0, 1, True,
    )
    assert q4["age_hours"] == 13 * 24 + 18  # 16 Feb 15:00 -> 2 Mar 09:00


def test_pipeline_value_counts_each_prospect_in_its_latest_enrollment(report_json: dict[str, Any]) -> None:
    pipeline = {p["state"]: (p["prospects"], p["value"]) for p in report_json["pipeline"]}
    assert pipeline == {
        # q2 (2000, re-enrolled as p9), q5 (no value), q6 700, q7 400, p2 5000, p7 600, p8 900
        "in_sequence": (7, 9600.0),
        "replied": (3, 14000.0),  # q1 1000, q4 3000, p1 10000
        "unanswered": (1, 3000.0),  # q4
        "at_risk": (1, 1200.0),  # p10; q2 was re-enrolled, so it is not at risk
        "closed": (5, 5600.0),  # q3 500, p3 800, p4 1500, p5 2500, p6 300; q8 unenrolled: nowhere
    }


def test_lead_safety_check_lists_each_violation(report_json: dict[str, Any]) -> None:
    safety = report_json["safety"]
    assert (safety["ok"], safety["violations"]) == (False, 2)
    assert sorted((v["email"], v["status"]) for v in safety["items"]) == [
        ("p7@prospects.example", "active"), ("p8@prospects.example", "paused"),
    ]


def test_filters_select_a_sequence_a_rep_and_a_cohort(db: Database) -> None:
    build_history(db)
    only = build_report(db, config(), now=NOW, sequence="quote", owner="bob")
    assert (only.totals.enrolled, only.totals.unenrolled, only.totals.replies) == (3, 1, 1)
    assert [f.sequence_id for f in only.sequences] == ["quote"]
    cohort = build_report(db, config(), now=NOW, since=d(20))
    # enrolled on/after 20 Feb: q5, q6, q7, p7, p8, p9
    assert cohort.totals.enrolled == 6
    assert cohort.filters["since"] == d(20)
    # --until closes the cohort: [20 Feb, 25 Feb) holds q5, p7 and p8; the activity window ends there too
    closed = build_report(db, config(), now=NOW, since=d(20), until=d(25))
    assert closed.totals.enrolled == 3 and closed.filters["until"] == d(25)
    assert (closed.activity.start, closed.activity.end) == (d(20), d(25))


def test_activity_window_counts_yesterday(report_json: dict[str, Any]) -> None:
    a = report_json["activity"]
    assert (a["start"], a["end"]) == ("2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z")
    assert (a["enrolled"], a["touches_sent"], a["replies"]) == (1, 0, 0)
    assert a["events"] == {"enrolled": 1, "note": 1}


def test_csv_has_documented_columns_and_one_row_per_group(db: Database) -> None:
    build_history(db)
    text = build_report(db, config(), now=NOW).to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [r["scope"] for r in rows] == ["total", "sequence", "sequence", "rep", "rep", *["sequence_rep"] * 4]
    total = rows[0]
    assert (total["enrolled"], total["replies"], total["median_hours_to_reply"], total["replies_by_touch"]) == (
        "17", "4", "6.0", "2;1;0;1",
    )


def write_config(tmp_path: Path, db_url: str, **extra: Any) -> Path:
    path = tmp_path / "sequencer.yaml"
    path.write_text(yaml.safe_dump({"database": db_url, "reporting": {"stalled_after_days": 2}, **extra}))
    return path


def test_report_check_exits_nonzero_on_violations_and_zero_when_safe(db: Database, db_url: str, tmp_path: Path) -> None:
    build_history(db)
    cfg = write_config(tmp_path, db_url)
    runner = CliRunner()
    base = ["--config", str(cfg), "--at", "2026-03-02T09:00"]
    bad = runner.invoke(main, [*base, "report", "--check"])
    assert bad.exit_code == 1, bad.output
    assert "p7@prospects.example" in bad.output and "2 lead-safety violations" in bad.output
    # give p7 its next touch and p8 a reason: the check passes
    with db.session() as s:
        from sqlalchemy import update

        s.execute(update(Enrollment).where(Enrollment.next_send_at.is_(None), Enrollment.status == "active")
                  .values(next_send_at=NOW))
        s.execute(update(Enrollment).where(Enrollment.status_reason.is_(None)).values(status_reason="manager hold"))
    good = runner.invoke(main, [*base, "report", "--check", "--format", "json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.output)["safety"] == {"ok": True, "violations": 0, "items": []}


def test_report_writes_each_format_to_a_file(db: Database, db_url: str, tmp_path: Path) -> None:
    build_history(db)
    cfg = write_config(tmp_path, db_url)
    runner = CliRunner()
    base = ["--config", str(cfg), "--at", "2026-03-02T09:00"]
    for fmt in ("json", "csv", "html", "table"):
        out = tmp_path / f"report.{fmt}"
        result = runner.invoke(main, [*base, "report", "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 200
    assert json.loads((tmp_path / "report.json").read_text())["totals"]["enrolled"] == 17
    assert "Quote follow-up" in (tmp_path / "report.table").read_text()
    bad = runner.invoke(main, [*base, "report", "--since", "yesterday"])
    assert bad.exit_code == 2
