"""Deal stages as a rep sees them: moved by hand and by mark-replied, in list/show --json."""

from __future__ import annotations

from tests.people.test_prospect_cli import cli, cli_json


def test_stage_moves_show_in_list_and_show_with_their_actor(world) -> None:
    cli_json(world, "enroll", "dana@acme.com", "--sequence", "quote", "--company", "Acme", "--set", "quote_number=Q")
    [row] = cli_json(world, "list")
    assert (row["stage"], row["stage_since"]) == ("new", "2026-03-02T09:00:00Z")

    moved = cli_json(world, "stage", "dana@acme.com", "proposal", "--note", "sent the PDF", at="2026-03-03T10:00")
    assert moved == {"email": "dana@acme.com", "stage": "proposal", "from": "new", "moved": True}
    [row] = cli_json(world, "list")
    assert (row["stage"], row["stage_since"]) == ("proposal", "2026-03-03T10:00:00Z")

    # mark-replied is an automatic move: forward only, so a proposal stays a proposal,
    # and it records an answered conversation.
    cli_json(world, "mark-replied", "dana@acme.com", "--note", "called, wants demo", at="2026-03-04T10:00")
    shown = cli_json(world, "show", "dana@acme.com")
    assert (shown["stage"], shown["stage_since"]) == ("proposal", "2026-03-03T10:00:00Z")
    assert shown["enrollments"][0]["stage"] == "proposal"
    changes = [e for e in shown["timeline"] if e["kind"] == "stage_changed"]
    assert [(e["detail"]["from"], e["detail"]["to"], e["reason"]) for e in changes] == [
        ("new", "proposal", "sent the PDF")
    ]
    assert changes[0]["actor"]

    assert cli_json(world, "stage", "dana@acme.com", "won")["from"] == "proposal"
    assert cli(world, "stage", "dana@acme.com", "sideways").exit_code != 0


def test_mark_replied_moves_a_new_deal_to_replied(world) -> None:
    cli_json(world, "enroll", "ann@acme.com", "--sequence", "quote", "--company", "Acme", "--set", "quote_number=Q")
    cli_json(world, "mark-replied", "ann@acme.com", at="2026-03-04T10:00")
    shown = cli_json(world, "show", "ann@acme.com")
    assert (shown["stage"], shown["stage_since"]) == ("replied", "2026-03-04T10:00:00Z")
