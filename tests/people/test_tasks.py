"""Task steps end to end: created when due, listed by `todo`, the sequence waits for `done`,
one morning reminder per rep and day, one escalation per overdue task, and the lead-safety
check fails while a task is overdue past the SLA. Real SMTP + Dovecot, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from sequencer.core.sequence_files import load_sequence, load_sequences
from sequencer.db.session import Database
from sequencer.errors import SequenceError
from sequencer.people import task_jobs
from sequencer.reporting.report import build_report
from tests.kit import World

pytestmark = pytest.mark.servers


def _subjects(mail: Any, user: str, count: int) -> list[str]:
    return [str(m["Subject"]) for m in mail.wait_for(user, count, timeout=5)]


def test_a_task_step_holds_the_sequence_until_done_with_one_reminder_and_one_escalation(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    prospect = mail.new_address("dana")
    eid = w.enroll(prospect)
    w.tick()  # Monday 09:00: the recap goes out
    assert [t.step for t in w.touches(eid)] == [1]
    assert w.cli_json("todo", "--due", "all") == []  # the task step is not due yet

    clock.set(clock.now() + timedelta(days=1))  # Tuesday 09:00: the task step is due
    w.tick()
    (todo,) = w.cli_json("todo", "--owner", "rep0")
    assert todo["title"] == "Send the written proposal" and todo["kind"] == "email"
    assert todo["prospect"] == prospect and todo["deal_value"] == 18400
    assert todo["touches_sent"] == 1 and todo["thread_subject"] == "Our meeting, Acme"
    assert w.enrollment(eid).wait_reason == "task: Send the written proposal"

    # The morning reminder: once, whichever worker and however often it runs.
    first = task_jobs.run_due_jobs(db, w.config, clock, worker="a")
    other = Database(db.url)
    try:
        again = task_jobs.run_due_jobs(other, w.config, clock, worker="b")
    finally:
        other.dispose()
    assert first.reminders == ["rep0"] and again.reminders == []
    inbox = mail.wait_for(w.rep, 1, timeout=5)
    assert len(inbox) == 1 and "Your tasks for Tue 03 Mar: 1 due" in str(inbox[0]["Subject"])
    assert (
        "Send the written proposal" in inbox[0].get_content() and prospect in inbox[0].get_content()
    )

    # Thursday: two days on, still nothing sent; the task is past its 24 h SLA.
    clock.set(clock.now() + timedelta(days=2, hours=3))
    w.tick()
    assert [t.step for t in w.touches(eid)] == [1]
    assert w.cli_json("todo", "--due", "overdue")[0]["overdue_hours"] == 51.0
    assert task_jobs.run_due_jobs(db, w.config, clock).escalated == [todo["id"]]
    assert task_jobs.run_due_jobs(db, w.config, clock).escalated == []
    (escalation,) = mail.wait_for(w.manager, 1, timeout=5)
    assert "Overdue task" in str(escalation["Subject"]) and "(rep0)" in str(escalation["Subject"])
    report = build_report(db, w.config, now=clock.now())
    assert not report.safety.ok and report.tasks.at_risk == 1
    check = w.cli("report", "--check", "--format", "json")
    assert check.exit_code == 1, check.output

    done = w.cli("done", str(todo["id"]), "--note", "proposal sent by hand")
    assert done.exit_code == 0, done.output
    assert "next: step 3" in done.output
    assert w.cli("done", str(todo["id"])).exit_code == 2  # already done
    e = w.enrollment(eid)
    assert e.steps_done == 2 and e.wait_reason is None
    assert e.next_send_at == clock.now() + timedelta(days=4)  # Thu 12:00 + 2 business days = Mon
    assert w.cli("report", "--check", "--format", "json").exit_code == 0

    clock.set(e.next_send_at)
    w.tick()
    assert [t.step for t in w.touches(eid)] == [1, 3]
    assert len(mail.wait_for(prospect, 2, timeout=5)) == 2
    shown = w.cli_json("show", prospect)
    notes = {x["kind"]: x["reason"] for x in shown["timeline"] if x["source"] == "event"}
    assert notes["task_created"] == "email task for rep0: Send the written proposal"
    assert notes["task_done"] == "proposal sent by hand"


def test_skip_needs_a_reason_and_moves_on(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    eid = w.enroll(mail.new_address("dana"))
    w.tick()
    clock.set(clock.now() + timedelta(days=1))
    w.tick()
    (task,) = w.tasks()
    missing = w.cli("skip", str(task.id))
    assert missing.exit_code == 2 and "--reason" in missing.output
    result = w.cli("skip", str(task.id), "--reason", "they asked for email only")
    assert result.exit_code == 0, result.output
    assert w.tasks()[0].status == "skipped" and w.enrollment(eid).steps_done == 2
    assert w.cli("done", "999999").exit_code == 2


def test_skip_after_policy_moves_on_without_the_rep(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    path = tmp_path / "sequences" / "proposal.yaml"
    path.write_text(
        path.read_text().replace(
            "on_manual_email: delay", "on_manual_email: delay\n  on_task_overdue: skip_after 2 days"
        )
    )
    w.sequences = {**w.sequences, "proposal": load_sequence(path, w.templates)}
    eid = w.enroll(mail.new_address("dana"))
    w.tick()
    clock.set(clock.now() + timedelta(days=1))
    w.tick()
    assert w.enrollment(eid).next_send_at == clock.now() + timedelta(days=2)
    clock.set(clock.now() + timedelta(days=2))
    w.tick()  # the task is skipped; step 3 is scheduled from now
    (task,) = w.tasks()
    assert task.status == "skipped" and "skip_after" in (task.note or "")
    assert w.enrollment(eid).steps_done == 2


@pytest.mark.parametrize(
    ("step", "line", "fragment"),
    [
        ("  - wait: 1 day\n    task:\n", 6, "step 1.task: a task step needs the task's text"),
        ("  - wait: 1 day\n    task: Call\n    kind: visit\n", 7, "unknown task kind 'visit'"),
        ("  - wait: 1 day\n    task: Call\n    template: t/recap\n", 7, "cannot have 'template'"),
    ],
)
def test_bad_task_steps_fail_validate_with_file_and_line(
    tmp_path: Path, step: str, line: int, fragment: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: Bad\npolicies:\n  on_task_overdue: wait\nsteps:\n{step}")
    with pytest.raises(SequenceError) as exc:
        load_sequence(path)
    assert any(
        str(p).startswith(f"{path}:{line}: ") and fragment in str(p) for p in exc.value.problems
    ), exc.value


def test_an_unknown_task_policy_fails_validate_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "sequences").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "sequencer.yaml").write_text("database: sqlite:///x.db\n")
    bad = tmp_path / "sequences" / "bad.yaml"
    bad.write_text(
        "name: Bad\npolicies:\n  on_task_overdue: nag forever\nsteps:\n  - {wait: 0, task: Call, kind: call}\n"
    )
    from click.testing import CliRunner

    from sequencer.cli import main

    result = CliRunner().invoke(main, ["--config", str(tmp_path / "sequencer.yaml"), "validate"])
    assert result.exit_code == 2
    assert f"{bad}:3: policies.on_task_overdue" in result.output


def test_todo_shows_the_reps_local_time_and_leaves_out_paused_leads(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock, timezone="America/Chicago")
    kept, paused = mail.new_address("kept"), mail.new_address("paused")
    w.enroll(kept)
    w.enroll(paused)
    w.tick()
    clock.set(clock.now() + timedelta(days=1))
    w.tick()
    assert len(w.cli_json("todo", "--due", "all")) == 2
    table = w.cli("todo", "--due", "all")
    due = w.cli_json("todo", "--due", "all")[0]["due_at"]
    assert due.endswith("Z")  # --json stays UTC
    assert " CST " in table.output or " CDT " in table.output, table.output  # the rep's zone
    assert w.cli("pause", paused, "--reason", "on leave").exit_code == 0
    listed = w.cli_json("todo", "--due", "all")
    assert [t["prospect"] for t in listed] == [kept]
    assert w.cli("resume", paused).exit_code == 0
    assert len(w.cli_json("todo", "--due", "all")) == 2


def test_a_task_text_is_rendered_for_the_prospect_in_todo(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    (w.config.sequences_path / "call.yaml").write_text(
        "name: Call\nsteps:\n  - wait: 0\n    template: t/checkin\n    subject: Hello\n"
        "  - wait: 1 day\n    task: \"Call {{ first_name }} at {{ company }} about the quote\"\n"
        "    kind: call\n"
    )
    w.sequences = load_sequences(w.config.sequences_path, w.templates)
    w.enroll(mail.new_address("dana"), sequence="call")
    w.tick()
    clock.set(clock.now() + timedelta(days=1))
    w.tick()
    (task,) = w.cli_json("todo", "--due", "all")
    assert task["title"] == "Call Dana at Acme about the quote"
