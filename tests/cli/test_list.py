"""`list` for a rep at a terminal: bounded, named, never a cut address, local times."""

from __future__ import annotations

from click.testing import CliRunner, Result

from sequencer.cli import main
from tests.people.world import World

MONDAY = "2026-03-02T15:00:00Z"
LONG = "priya.lakeshore-analytics@lakeshore-analytics-international.example"


def cli(world: World, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(world.config_path), "--at", MONDAY, *args])


def test_empty_listing_says_no_matches(world: World) -> None:
    result = cli(world, "list")
    assert result.exit_code == 0 and result.stdout.strip() == "no matches"


def test_list_is_bounded_shows_name_and_company_and_never_cuts_the_email(
    world: World, tmp_path
) -> None:
    path = tmp_path / "many.csv"
    rows = [f"p{i}@acme.com,P {i},Acme,Q-{i}" for i in range(55)]
    path.write_text(
        "email,name,company,quote_number\n" + f"{LONG},Priya L,Lake,Q-L\n" + "\n".join(rows) + "\n"
    )
    assert cli(world, "import", str(path), "--sequence", "quote", "--owner", "lee").exit_code == 0
    table = cli(world, "list")
    assert table.exit_code == 0, table.output
    assert "P 3" in table.stdout and "Acme" in table.stdout
    assert "(first 50 shown; --limit N or --all for more)" in table.stdout
    assert "CET" in table.stdout  # lee's mailbox is in Europe/Berlin: the rep's local time
    everything = cli(world, "list", "--all")
    assert "p54@acme.com" in everything.stdout and "first 50 shown" not in everything.stdout
    assert LONG in everything.stdout and "Priya L" in everything.stdout
    assert cli(world, "list", "--limit", "3").stdout.count("@acme.com") == 3


def test_since_and_until_bound_the_next_touch_and_due_before_still_works(world: World) -> None:
    import json

    for email, start in (
        ("early@acme.com", "2026-03-02T15:00"),
        ("late@acme.com", "2026-03-09T15:00"),
    ):
        done = cli(
            world,
            "enroll",
            email,
            "--sequence",
            "quote",
            "--company",
            "Acme",
            "--set",
            "quote_number=Q",
            "--start",
            start,
        )
        assert done.exit_code == 0, done.output

    def emails(*args: str) -> list[str]:
        result = cli(world, "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return sorted(r["email"] for r in json.loads(result.stdout))

    assert emails() == ["early@acme.com", "late@acme.com"]
    assert emails("--until", "2026-03-05") == ["early@acme.com"]
    assert emails("--due-before", "2026-03-05") == ["early@acme.com"]
    assert emails("--since", "2026-03-05") == ["late@acme.com"]
    assert emails("--since", "2026-03-05", "--until", "2026-03-06") == []


def test_show_gives_the_reps_local_time_and_the_prospects_where_it_differs(world: World) -> None:
    import json

    done = cli(world, "enroll", "kenji@acme.jp", "--sequence", "quote", "--owner", "lee", "--tz", "Asia/Tokyo", "--company", "Acme",
               "--set", "quote_number=Q", "--start", "2026-03-03T09:00")  # fmt: skip
    assert done.exit_code == 0, done.output
    shown = cli(world, "show", "kenji@acme.jp")
    assert shown.exit_code == 0, shown.output
    # lee's mailbox is in Berlin; Kenji reads the same instant in Tokyo
    assert "CET" in shown.stdout and "(theirs " in shown.stdout and "JST)" in shown.stdout, shown.stdout
    assert "(UTC)" not in shown.stdout
    as_json = json.loads(cli(world, "show", "kenji@acme.jp", "--json").stdout)
    assert as_json["enrollments"][0]["next_send_at"].endswith("Z")  # --json stays UTC


def test_a_paused_lead_shows_no_next_touch_in_list_or_show(world: World) -> None:
    for email in ("busy@acme.com", "away@acme.com"):
        done = cli(world, "enroll", email, "--sequence", "quote", "--owner", "lee", "--company", "Acme",
                   "--set", "quote_number=Q", "--start", "2026-03-04T09:00")  # fmt: skip
        assert done.exit_code == 0, done.output
    assert cli(world, "pause", "away@acme.com", "--reason", "on leave").exit_code == 0

    def next_touch(line: str) -> bool:  # a local time (lee is in Berlin) on the row
        return "2026-03-04" in line and "CET" in line

    table = cli(world, "list").stdout
    listed = {
        e: next(ln for ln in table.splitlines() if e in ln)
        for e in ("busy@acme.com", "away@acme.com")
    }
    assert next_touch(listed["busy@acme.com"]), listed
    assert not next_touch(listed["away@acme.com"]) and "paused" in listed["away@acme.com"], listed
    shown = cli(world, "show", "away@acme.com").stdout
    row = next(line for line in shown.splitlines() if "paused" in line and "quote" in line)
    assert not next_touch(row), shown
