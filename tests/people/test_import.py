"""CSV import: bad rows set aside with row numbers, good rows all enrolled, re-runs harmless."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sequencer.db.models import Enrollment, Event, Prospect
from sequencer.errors import UserError
from sequencer.people import enroll as svc
from sequencer.people import state_changes, suppression
from sequencer.people.importing import ImportSummary, import_csv
from tests.people.world import World, count


def run_import(db: Any, world: World, clock: Any, path: Path, **kw: Any) -> ImportSummary:
    kw.setdefault("sequence_id", "quote")
    return import_csv(db, world.config, world.sequences, path, now=clock.now(), **kw)


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


MIXED = (
    "\ufeffE-mail,Full Name,Company,TZ,Deal Value,Quote Number,Lead Source\r\n"
    'dana@acme.com,Dana Whitfield,"Acme, Inc",Europe/Berlin,"$12,000",Q-1,webinar\r\n'  # row 2
    "not-an-address,Bad Row,Acme,,,Q-2,\r\n"  # row 3
    'lee@acme.com,"Lee ""LJ"" Jones","Multi\r\nline Co",,,Q-3,\r\n'  # row 4 (two lines)
    "DANA@ACME.COM,Dana Again,Acme,,,Q-4,\r\n"  # row 5 duplicate
    "kim@blocked.example,Kim,Blocked,,,Q-5,\r\n"  # row 6 suppressed domain
    "max@acme.com,Max,Acme,Mars/Olympus,,Q-6,\r\n"  # row 7 bad tz
    "ann@acme.com,Ann,Acme,,lots,Q-7,\r\n"  # row 8 bad value
    "bob@acme.com,Bob,Acme,,,,\r\n"  # row 9 missing quote_number
    "eve@acme.com,Eve,Acme,,,Q-9,\r\n"  # row 10 active in nurture
    "\r\n"  # row 11 blank: ignored
    "zoe@acme.com,Zoe,,,,Q-10,\r\n"  # row 12 company missing (subject needs it)
)


def test_good_rows_enrolled_bad_rows_rejected_with_row_number_and_reason(
    db, world, clock, tmp_path
) -> None:
    suppression.suppress_add(db, "@blocked.example", reason="competitor", now=clock.now())
    svc.enroll(
        db,
        world.config,
        world.sequences,
        email="eve@acme.com",
        sequence_id="nurture",
        now=clock.now(),
    )
    path = tmp_path / "leads.csv"
    path.write_bytes(MIXED.encode("utf-8"))
    summary = run_import(db, world, clock, path, owner="lee")

    assert (summary.rows, summary.enrolled, summary.created, summary.updated) == (10, 2, 2, 0)
    assert summary.rejected == {
        "invalid_address": 1,
        "duplicate": 1,
        "suppressed": 1,
        "bad_timezone": 1,
        "bad_value": 1,
        "missing_variables": 2,
        "active_elsewhere": 1,
    }
    assert summary.custom_fields == ["quote_number", "lead_source"]
    assert summary.rejects_path == str(tmp_path / "leads.rejects.csv")
    rejects = read_rejects(tmp_path / "leads.rejects.csv")
    reasons = {int(r["row"]): r["reason"] for r in rejects}
    assert sorted(reasons) == [3, 5, 6, 7, 8, 9, 10, 12]
    assert "not a valid email address" in reasons[3]
    assert reasons[5] == "duplicate of row 2 (dana@acme.com)"
    assert "suppressed (domain blocked.example: competitor)" in reasons[6]
    assert "unknown time zone 'Mars/Olympus'" in reasons[7]
    assert "'lots' is not a number" in reasons[8]
    assert reasons[9] == "missing required template variable(s): quote_number"
    assert reasons[12] == "missing required template variable(s): company"
    assert "already active in sequence nurture" in reasons[10]
    # original columns kept, as written
    assert list(rejects[0]) == [
        "E-mail",
        "Full Name",
        "Company",
        "TZ",
        "Deal Value",
        "Quote Number",
        "Lead Source",
        "row",
        "reason",
    ]
    assert rejects[0]["E-mail"] == "not-an-address"

    with db.session() as s:
        dana = s.scalars(select(Prospect).where(Prospect.email == "dana@acme.com")).one()
        lee = s.scalars(select(Prospect).where(Prospect.email == "lee@acme.com")).one()
        enrollments = {
            e.prospect_id: e
            for e in s.scalars(select(Enrollment).where(Enrollment.sequence_id == "quote"))
        }
        events = list(
            s.scalars(
                select(Event).where(
                    Event.kind == "enrolled",
                    Event.enrollment_id.in_([e.id for e in enrollments.values()]),
                )
            )
        )
    assert (dana.name, dana.company, dana.timezone, str(dana.deal_value)) == (
        "Dana Whitfield",
        "Acme, Inc",
        "Europe/Berlin",
        "12000.00",
    )
    assert dana.fields == {"quote_number": "Q-1", "lead_source": "webinar"}
    assert (lee.name, lee.company) == ('Lee "LJ" Jones', "Multi\r\nline Co")
    assert enrollments[dana.id].mailbox == "lee" and enrollments[dana.id].owner == "lee"
    assert enrollments[dana.id].next_send_at == clock.now()  # 10:00 in Berlin, window open
    assert sorted(ev.data["row"] for ev in events) == [2, 4]


def test_reimport_enrolls_nobody_twice(db, world, clock, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "email,name,company,quote_number\n"
        + "".join(f"p{i}@acme.com,P {i},Acme,Q-{i}\n" for i in range(30))
        + "broken,,,\n"
    )
    first = run_import(db, world, clock, path, batch_size=7)
    assert (first.enrolled, first.rejected_total) == (30, 1)
    second = run_import(db, world, clock, path, batch_size=7)
    assert (second.enrolled, second.created, second.updated) == (0, 0, 0)
    assert second.skipped == {"already_enrolled": 30} and second.rejected == {"invalid_address": 1}
    assert count(db, Enrollment) == 30 and count(db, Prospect) == 30
    # an updated file updates prospects, still without enrolling anybody twice
    path.write_text("email,company,quote_number\np1@acme.com,Acme Europe,Q-1b\n")
    third = run_import(db, world, clock, path)
    assert (third.enrolled, third.updated, third.skipped) == (0, 1, {"already_enrolled": 1})
    assert not (tmp_path / "leads.rejects.csv").exists()  # a clean run removes a stale rejects file
    with db.session() as s:
        p1 = s.scalars(select(Prospect).where(Prospect.email == "p1@acme.com")).one()
    assert (p1.name, p1.company, p1.fields) == ("P 1", "Acme Europe", {"quote_number": "Q-1b"})


def test_progress_is_reported_after_each_batch_up_to_the_whole_file(
    db, world, clock, tmp_path
) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "email,company,quote_number\n" + "".join(f"p{i}@acme.com,Acme,Q-{i}\n" for i in range(25))
    )
    calls: list[tuple[int, int, int]] = []
    summary = run_import(db, world, clock, path, batch_size=10, progress=lambda *a: calls.append(a))
    size = path.stat().st_size
    assert summary.enrolled == 25
    # after the batches of rows 2-11 and 12-21, then once at the end; rows and bytes only grow
    assert [rows for rows, _, _ in calls] == [10, 20, 25]
    assert all(total == size for _, _, total in calls)
    assert 0 < calls[0][1] <= calls[1][1] <= size and calls[-1] == (25, size, size)


def test_dry_run_reports_but_writes_nothing(db, world, clock, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("email,company,quote_number\na@acme.com,Acme,Q\nbad,,\na@acme.com,Acme,Q\n")
    summary = run_import(db, world, clock, path, dry_run=True)
    assert (summary.enrolled, summary.created, summary.rejected) == (
        1,
        1,
        {"invalid_address": 1, "duplicate": 1},
    )
    assert summary.rejects_path is None and not (tmp_path / "leads.rejects.csv").exists()
    assert count(db, Prospect) == 0 and count(db, Enrollment) == 0


def test_fixed_rejects_file_imports_as_is(db, world, clock, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("email,company,quote_number\na@acme.com,Acme,\n")
    run_import(db, world, clock, path)
    rejects = tmp_path / "leads.rejects.csv"
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(rejects.read_text().replace("a@acme.com,Acme,", "a@acme.com,Acme,Q-9"))
    summary = run_import(db, world, clock, fixed)
    assert summary.enrolled == 1 and summary.custom_fields == ["quote_number"]


def test_file_level_problems_are_user_errors(db, world, clock, tmp_path) -> None:
    cases = {
        "noemail.csv": (b"name,company\nDana,Acme\n", "no email column"),
        "empty.csv": (b"", "empty"),
        "twice.csv": (b"email,E-mail\na@b.com,c@d.com\n", "both mean 'email'"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(UserError, match=message):
            run_import(db, world, clock, path)
    with pytest.raises(UserError, match="no mailbox for owner"):
        run_import(db, world, clock, tmp_path / "noemail.csv", owner="kim")


def _big_csv(path: Path, rows: int) -> set[int]:
    """``rows`` data rows, every 100th bad (a third each: invalid, duplicate, bad tz)."""
    bad_rows: set[int] = set()
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["Email", "First Name", "Last Name", "Company", "Timezone", "Quote Number"])
        for i in range(rows):
            email, tz = f"lead{i}@co{i % 500}.example.com", ""
            if i % 100 == 99:
                bad_rows.add(i + 2)
                kind = (i // 100) % 3
                if kind == 0:
                    email = f"lead{i}-at-co{i % 500}.example.com"
                elif kind == 1:
                    email = f"LEAD{i - 1}@co{(i - 1) % 500}.example.com"
                else:
                    tz = "Nowhere/Atlantis"
            w.writerow([email, f"First{i}", f"Last{i}", f"Co {i % 500}, Ltd", tz, f"Q-{i}"])
    return bad_rows


def test_large_import_with_one_percent_bad_rows(db, world, clock, tmp_path, db_url) -> None:
    # 100,000 rows on SQLite (the figure); 10,000 on PostgreSQL, the same code
    # path, to keep the suite fast on a loaded 2-core CI box
    rows = 100_000 if db_url.startswith("sqlite") else 10_000
    path = tmp_path / "big.csv"
    bad = _big_csv(path, rows)
    summary = run_import(db, world, clock, path)
    assert summary.rows == rows
    assert summary.enrolled == rows - len(bad)
    assert summary.rejected_total == len(bad)
    rejects = read_rejects(tmp_path / "big.rejects.csv")
    assert {int(r["row"]) for r in rejects} == bad
    assert count(db, Enrollment) == rows - len(bad)
    with db.session() as s:
        assert s.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "enrolled")
        ) == rows - len(bad)


def test_import_guards_parallel_and_previous_enrollments(db, world, clock, tmp_path) -> None:
    for email in ("busy@acme.com", "done@acme.com"):
        svc.enroll(
            db, world.config, world.sequences, email=email, sequence_id="nurture", now=clock.now()
        )
    svc.enroll(
        db,
        world.config,
        world.sequences,
        email="done@acme.com",
        sequence_id="quote",
        company="Acme",
        fields={"quote_number": "Q"},
        allow_parallel=True,
        now=clock.now(),
    )
    state_changes.stop(db, email="done@acme.com", sequence_id="quote", now=clock.now())
    path = tmp_path / "leads.csv"
    path.write_text("email,company,quote_number\nbusy@acme.com,Acme,Q\ndone@acme.com,Acme,Q\n")
    summary = run_import(db, world, clock, path, allow_parallel=True)
    assert summary.enrolled == 1 and summary.rejected == {"previously_enrolled": 1}
    [reject] = read_rejects(tmp_path / "leads.rejects.csv")
    assert reject["row"] == "3" and "was in sequence quote before (stopped" in reject["reason"]
