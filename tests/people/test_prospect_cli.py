"""The prospect commands as a rep types them: CliRunner, plus one real subprocess."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from sequencer.cli import main
from tests.people.world import World

MONDAY = "2026-03-02T09:00"

ENROLL_KEYS = {
    "email",
    "prospect_id",
    "prospect_created",
    "prospect_updated",
    "sequence",
    "enrolled",
    "enrollment_id",
    "status",
    "mailbox",
    "timezone",
    "next_send_at",
    "next_send_local",
    "skipped_reason",
    "also_active_in",
}
ROW_KEYS = {
    "stage",
    "intent",
    "intent_evidence",
    "reengage_on",
    "stage_since",
    "enrollment_id",
    "email",
    "name",
    "company",
    "owner",
    "mailbox",
    "sequence",
    "step",
    "steps_done",
    "total_steps",
    "status",
    "status_reason",
    "last_touch_at",
    "next_send_at",
    "wait_reason",
    "paused_until",
    "days_in_state",
}


def cli(world: World, *args: str, at: str = MONDAY) -> Result:
    return CliRunner().invoke(main, ["--config", str(world.config_path), "--at", at, *args])


def cli_json(world: World, *args: str, at: str = MONDAY) -> Any:
    result = cli(world, *args, "--json", at=at)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_enroll_prints_first_touch_in_prospect_zone_and_utc(world) -> None:
    result = cli(
        world,
        "enroll",
        "Dana@Acme.com",
        "--sequence",
        "quote",
        "--name",
        "Dana Whitfield",
        "--company",
        "Acme",
        "--tz",
        "Asia/Tokyo",
        "--set",
        "quote_number=Q-7",
        at="2026-03-06T22:00",
    )
    assert result.exit_code == 0, result.output
    assert "Enrolled dana@acme.com in quote (mailbox sam)." in result.stdout
    assert (
        "First touch: Mon 2026-03-09 08:30 JST (Asia/Tokyo) = Sun 2026-03-08 23:30 UTC"
        in result.stdout
    )


def test_enroll_json_is_stable_and_repeating_it_changes_nothing(world) -> None:
    args = (
        "enroll",
        "dana@acme.com",
        "--sequence",
        "quote",
        "--company",
        "Acme",
        "--set",
        "quote_number=Q-1",
        "--value",
        "12000",
        "--owner",
        "lee",
    )
    first = cli_json(world, *args)
    assert set(first) == ENROLL_KEYS
    assert first["enrolled"] and first["mailbox"] == "lee" and first["timezone"] == "Europe/Berlin"
    assert first["next_send_at"] == "2026-03-02T09:00:00Z"
    assert first["next_send_local"] == "2026-03-02T10:00:00+01:00"
    again = cli_json(world, *args)
    assert (again["enrolled"], again["enrollment_id"]) == (False, first["enrollment_id"])
    assert again["skipped_reason"] == "already active in sequence quote"


def test_enroll_start_sets_when_the_sequence_clock_starts(world) -> None:
    # nurture waits 1 day, then sends weekdays 10:00-12:00 London
    late = cli_json(
        world, "enroll", "dana@acme.com", "--sequence", "nurture", "--start", "2026-03-04T11:30"
    )
    assert late["next_send_at"] == "2026-03-05T11:30:00Z"
    offset = cli_json(
        world, "enroll", "bo@acme.com", "--sequence", "nurture", "--start", "2026-03-04T12:30+01:00"
    )
    assert offset["next_send_at"] == "2026-03-05T11:30:00Z"  # an offset is honoured
    bad = cli(world, "enroll", "kim@acme.com", "--sequence", "nurture", "--start", "next week")
    assert bad.exit_code == 2 and "--start" in bad.output


def test_guards_fail_with_exit_code_2_and_one_line(world) -> None:
    ok = ("--company", "Acme", "--company", "Acme", "--set", "quote_number=Q")
    assert cli(world, "enroll", "dana@acme.com", "--sequence", "nurture").exit_code == 0
    elsewhere = cli(world, "enroll", "dana@acme.com", "--sequence", "quote", *ok)
    assert elsewhere.exit_code == 2
    assert elsewhere.stderr.strip().startswith(
        "error: dana@acme.com: already active in sequence nurture"
    )
    assert (
        cli(
            world, "enroll", "dana@acme.com", "--sequence", "quote", "--allow-parallel", *ok
        ).exit_code
        == 0
    )

    assert cli(world, "suppress", "add", "@blocked.example", "--reason", "legal").exit_code == 0
    blocked = cli(world, "enroll", "kim@blocked.example", "--sequence", "quote", "--force", *ok)
    assert (
        blocked.exit_code == 2
        and "is suppressed" in blocked.stderr
        and "Traceback" not in blocked.output
    )

    missing = cli(world, "enroll", "bo@acme.com", "--sequence", "quote")
    assert missing.exit_code == 2 and "needs company, quote_number" in missing.stderr
    assert (
        cli(world, "enroll", "bo@acme.com", "--sequence", "quote", "--set", "oops").exit_code == 2
    )
    assert cli(world, "enroll", "bo@acme.com", "--sequence", "nope").exit_code == 2


def test_import_prints_summary_and_json(world, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "email,name,company,quote_number\n"
        "a@acme.com,A,Acme,Q1\nb@acme.com,B,Acme,\nnot-mail,C,Acme,Q3\n"
    )
    dry = cli(world, "import", str(path), "--sequence", "quote", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would enroll 1 in quote" in dry.stdout and "Dry run: nothing was written." in dry.stdout
    assert not (tmp_path / "leads.rejects.csv").exists()
    # the dry run shows how the file was read and the first rows as parsed
    assert (
        "Read as utf-8, separated by ','" in dry.stdout
        and "  quote_number -> quote_number" in dry.stdout
    )
    assert "row 2: a@acme.com, A at Acme" in dry.stdout

    summary = cli_json(world, "import", str(path), "--sequence", "quote", "--owner", "lee")
    assert summary.pop("preview")[0]["email"] == "a@acme.com"
    assert (summary.pop("encoding"), summary.pop("delimiter")) == ("utf-8", ",")
    assert summary.pop("columns")["quote_number"] == "quote_number"
    assert summary == {
        "file": str(path),
        "sequence": "quote",
        "dry_run": False,
        "rows": 3,
        "enrolled": 1,
        "created": 1,
        "updated": 0,
        "skipped": {},
        "rejected": {"missing_variables": 1, "invalid_address": 1},
        "skipped_total": 0,
        "rejected_total": 2,
        "rejects_file": str(tmp_path / "leads.rejects.csv"),
        "custom_fields": ["quote_number"],
    }
    again = cli(world, "import", str(path), "--sequence", "quote")
    assert "enrolled 0 in quote" in again.stdout and "skipped 1: already enrolled" in again.stdout
    [row] = cli_json(world, "list")
    assert (row["email"], row["owner"], row["mailbox"]) == ("a@acme.com", "lee", "lee")


def test_pause_resume_stop_list_and_show(world) -> None:
    cli_json(
        world,
        "enroll",
        "dana@acme.com",
        "--sequence",
        "quote",
        "--company",
        "Acme",
        "--set",
        "quote_number=Q",
    )
    paused = cli_json(
        world, "pause", "dana@acme.com", "--reason", "vacation", "--until", "2026-03-09T08:00"
    )
    assert paused["changed"][0] | {"enrollment_id": 0} == {
        "enrollment_id": 0,
        "email": "dana@acme.com",
        "sequence": "quote",
        "from": "active",
        "to": "paused",
        "reason": "vacation",
        "next_send_at": "2026-03-02T14:30:00Z",
        "paused_until": "2026-03-09T08:00:00Z",
    }
    [row] = cli_json(world, "list", "--status", "paused", at="2026-03-05T09:00")
    assert set(row) == ROW_KEYS
    assert (row["step"], row["days_in_state"], row["status_reason"]) == ("1/3", 3.0, "vacation")
    assert cli_json(world, "list", "--status", "active") == []
    resumed = cli(world, "resume", "dana@acme.com", at="2026-03-07T09:00")  # a Saturday
    assert "next touch Mon 2026-03-09 13:30 UTC" in resumed.stdout  # 08:30 Chicago (CDT)
    assert (
        cli(
            world, "stop", "--sequence", "quote", "--reason", "lost", at="2026-03-08T09:00"
        ).exit_code
        == 0
    )
    assert cli(world, "stop", "dana@acme.com").exit_code == 2  # nothing open any more

    shown = cli_json(world, "show", "DANA@acme.com", at="2026-03-08T10:00")
    assert [(e["source"], e["kind"], e["reason"]) for e in shown["timeline"]] == [
        ("event", "enrolled", "enrolled in quote"),
        ("event", "paused", "vacation"),
        ("event", "resumed", f"resumed by cli:{getpass.getuser()}"),
        ("event", "stopped", "lost"),
    ]
    assert shown["timeline"][1]["at"] == "2026-03-02T09:00:00Z"
    assert shown["enrollments"][0]["status"] == "stopped"
    text = cli(world, "show", "dana@acme.com")
    assert text.exit_code == 0 and "event:paused" in text.stdout and "vacation" in text.stdout


def test_mark_replied_and_unenroll(world) -> None:
    for email in ("a@acme.com", "b@acme.com"):
        cli_json(world, "enroll", email, "--sequence", "nurture")
    marked = cli_json(world, "mark-replied", "a@acme.com", "--note", "called back")
    assert marked["changed"][0]["to"] == "replied"
    out = cli_json(world, "unenroll", "b@acme.com", "--reason", "wrong list")
    assert out["changed"][0]["to"] == "unenrolled"
    statuses = {r["email"]: r["status"] for r in cli_json(world, "list")}
    assert statuses == {"a@acme.com": "replied", "b@acme.com": "unenrolled"}


def test_suppress_add_list_remove(world) -> None:
    enrolled = cli_json(world, "enroll", "a@acme.com", "--sequence", "nurture")
    added = cli_json(world, "suppress", "add", "Acme.com", "--reason", "do not contact")
    assert added == {
        "value": "acme.com",
        "kind": "domain",
        "created": True,
        "reason": "do not contact",
        "stopped": [
            {
                "enrollment_id": enrolled["enrollment_id"],
                "email": "a@acme.com",
                "sequence": "nurture",
            }
        ],
    }
    listed = cli_json(world, "suppress", "list")
    assert [(r["value"], r["kind"], r["reason"]) for r in listed] == [
        ("acme.com", "domain", "do not contact")
    ]
    assert cli_json(world, "suppress", "remove", "@acme.com") == {
        "value": "acme.com",
        "kind": "domain",
        "removed": True,
    }
    assert cli_json(world, "suppress", "list") == []
    assert cli(world, "suppress", "add", "not a domain").exit_code == 2


def test_real_subprocess_enroll_and_show(world) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "sequencer",
                "--config",
                str(world.config_path),
                "--at",
                MONDAY,
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    enrolled = run("enroll", "dana@acme.com", "--sequence", "nurture", "--json")
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["next_send_at"] == "2026-03-03T10:00:00Z"
    shown = run("show", "dana@acme.com", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [e["kind"] for e in json.loads(shown.stdout)["timeline"]] == ["enrolled"]
    missing = run("show", "nobody@acme.com")
    assert missing.returncode == 2 and missing.stderr.startswith("error: no prospect")


def test_import_map_and_decimal_options(world, tmp_path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("Work Mail;Org;Ref;Sum\nm@acme.com;Acme;Q7;1.200\n", encoding="cp1252")
    mapping = tmp_path / "crm.map"
    mapping.write_text("# our CRM\nWork Mail=email\nOrg=company\n")
    args = ["import", str(path), "--sequence", "quote", "--map-file", str(mapping)]
    result = cli_json(
        world, *args, "--map", "Ref=quote_number", "--map", "Sum=deal_value", "--decimal", ","
    )
    assert result["enrolled"] == 1 and result["columns"]["Work Mail"] == "email"
    assert result["preview"][0]["deal_value"] == 1200.0


def test_pause_until_a_date_means_the_prospects_local_morning(world) -> None:
    cli_json(
        world,
        "enroll",
        "la@acme.com",
        "--sequence",
        "quote",
        "--tz",
        "America/Los_Angeles",
        "--company",
        "Acme",
        "--set",
        "quote_number=Q",
    )
    paused = cli_json(
        world, "pause", "la@acme.com", "--reason", "trade fair", "--until", "2026-03-20"
    )
    # sam's window opens 08:30; in Los Angeles on 20 March (PDT, UTC-7) that is 15:30 UTC,
    # not 00:00 UTC (5 pm the day before there)
    assert paused["changed"][0]["paused_until"] == "2026-03-20T15:30:00Z"


def test_resuming_a_stopped_lead_says_how_to_start_again(world) -> None:
    cli_json(
        world,
        "enroll",
        "gone@acme.com",
        "--sequence",
        "quote",
        "--company",
        "Acme",
        "--set",
        "quote_number=Q",
    )
    assert cli(world, "stop", "gone@acme.com", "--reason", "bought elsewhere").exit_code == 0
    result = cli(world, "resume", "gone@acme.com")
    assert result.exit_code == 2
    assert "gone@acme.com is stopped in quote" in result.stderr
    assert "sequencer enroll gone@acme.com --sequence quote --force" in result.stderr
