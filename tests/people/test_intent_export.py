"""``sequencer intent export``: the reps' corrections as labelled samples, over real replies.

Replies go through the SMTP fixture, Dovecot and the poller; reps correct them with
``sequencer intent``; the export gives one sample per corrected reply with its stripped
text (no quoted history), the intent the rules read and the last label a person gave it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from sequencer.db.session import Database
from tests.people.test_reply_intent import intent_world, send_and_reply

pytestmark = pytest.mark.servers


def test_export_gives_each_corrected_reply_with_its_text_and_both_labels(
    db: Database, mail: Any, clock: ManualClock, tmp_path: Path
) -> None:
    world = intent_world(tmp_path, db, mail, clock)
    assert world.cli("intent", "export").output.strip() == "No corrected replies."
    _, dana, reply = send_and_reply(world, mail, "Not now. Try me in March.")
    _, erin, _ = send_and_reply(world, mail, "Thanks, got it.")
    # A lead told by phone: a correction without a reply has no words to learn from.
    phoned = mail.new_address("phil")
    world.enroll(phoned)
    t1 = clock.now()
    world.cli_json("intent", dana, "not_now", "--on", "2026-05-04")  # the stable form, unchanged
    clock.set(t1 + timedelta(days=1))
    assert world.cli("intent", "--json", dana, "meeting").exit_code == 0  # options first still work
    clock.set(t1 + timedelta(days=2))
    assert world.cli_json("intent", erin, "referral")["intent"] == "referral"
    assert world.cli_json("intent", phoned, "meeting")["intent"] == "meeting"

    samples = world.cli_json("intent", "export")
    assert [(x["email"], x["classified"], x["corrected"], x["previous"], x["corrections"]) for x in samples] == [
        (dana, "not_now", "meeting", "not_now", 2),
        (erin, None, "referral", None, 1),
    ]
    first = samples[0]
    assert first["text"] == "Not now. Try me in March."  # the new text only: Gmail's quote stripped
    assert first["message_id"] == reply["Message-ID"]
    assert first["sequence"] == "quote" and first["corrected_by"] and first["language"] == "en"
    assert first["received_at"] is not None and first["corrected_at"].endswith("Z")

    lines = world.cli("intent", "export", "--jsonl").output.splitlines()
    assert [json.loads(line)["email"] for line in lines] == [dana, erin]
    text = world.cli("intent", "export").output
    assert f"{dana}  not_now -> meeting" in text and "2 corrections" in text
    assert "Not now. Try me in March." in text

    # The window selects by the last correction: dana's was on day 1, erin's on day 2.
    day2 = (t1 + timedelta(days=2)).date().isoformat()
    assert [x["email"] for x in world.cli_json("intent", "export", "--since", day2)] == [erin]
    assert [x["email"] for x in world.cli_json("intent", "export", "--until", day2)] == [dana]
    bad = world.cli("intent", "export", "--since", "March")
    assert bad.exit_code != 0 and "ISO date" in bad.output
