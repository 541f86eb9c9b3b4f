"""Manual emails captured from the Sent folder: the rep writes from their mail client (IMAP
APPEND to Sent, as Thunderbird or Apple Mail do), the poller records it on the prospect's
timeline, completes the email task, and delays the next touch. Real Dovecot, both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from sequencer.clock import ManualClock
from tests.kit import World

pytestmark = pytest.mark.servers


def write_by_hand(w: World, to: str, subject: str, *, in_reply_to: str | None = None) -> None:
    """The rep's own email, as their mail client files it in Sent."""
    msg = EmailMessage()
    msg["From"] = f"Rep 0 <{w.rep}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(w.clock.now())
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@mua.example>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content("Hi Dana,\n\nattached is the proposal we discussed.\n\nRep\n")
    with w.mail.imap(w.rep) as c:
        c.append("Sent", msg.as_bytes(), flags=[b"\\Seen"])


def _timeline(w: World, prospect: str) -> list[dict[str, Any]]:
    return w.cli_json("show", prospect)["timeline"]


def test_a_manual_email_completes_the_email_task_and_shows_on_the_timeline(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    prospect = mail.new_address("dana")
    eid = w.enroll(prospect)
    w.tick()  # touch 1; the engine files its copy in Sent
    clock.set(clock.now() + timedelta(days=1, hours=2))  # Tuesday 11:00
    w.tick()  # the email task "Send the written proposal" is created
    (task,) = w.tasks()
    assert task.status == "open"
    w.poll()  # Sent holds only our own touch: recognised by Message-ID, not a manual email
    assert not [x for x in _timeline(w, prospect) if x["kind"] == "manual_email"]

    write_by_hand(w, f"Dana Whitfield <{prospect}>", "The proposal for Acme")
    w.poll()
    (manual,) = [x for x in _timeline(w, prospect) if x["kind"] == "manual_email"]
    assert "The proposal for Acme" in manual["reason"]
    (task,) = w.tasks()
    assert task.status == "done" and task.note == "manual email: The proposal for Acme"
    e = w.enrollment(eid)
    assert e.steps_done == 2
    assert e.next_send_at == clock.now() + timedelta(
        days=2
    )  # step 3 waits 2 business days from now
    assert w.cli_json("todo", "--due", "all") == []
    w.poll()  # re-polling is harmless
    assert len([x for x in _timeline(w, prospect) if x["kind"] == "manual_email"]) == 1


def test_a_manual_email_delays_the_next_touch_by_the_steps_wait(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    prospect = mail.new_address("lena")
    eid = w.enroll(prospect, sequence="inbound")
    clock.set(clock.now() + timedelta(minutes=5))
    w.tick()  # Monday 09:05: the welcome; the nudge is due Tuesday 09:05
    assert w.enrollment(eid).next_send_at == clock.now() + timedelta(days=1)
    clock.set(clock.now() + timedelta(hours=6))  # Monday 15:05 the rep writes personally
    write_by_hand(w, prospect, "Quick follow-up from our call")
    w.poll()
    e = w.enrollment(eid)
    assert e.next_send_at == clock.now() + timedelta(days=1)  # Tuesday 15:05, not 09:05
    assert e.wait_reason == "manual email: on_manual_email delay"
    clock.set(clock.now() + timedelta(hours=18))  # Tuesday 09:05: the canned nudge would have gone
    w.tick()
    assert [t.step for t in w.touches(eid)] == [1]
    clock.set(clock.now() + timedelta(hours=6))
    w.tick()
    assert [t.step for t in w.touches(eid)] == [1, 2]


def test_the_reps_answer_to_a_reply_is_one_manual_email_and_the_answered_signal(
    tmp_path: Path, db: Any, mail: Any, clock: ManualClock
) -> None:
    w = World(tmp_path, db, mail, clock)
    prospect = mail.new_address("dana")
    eid = w.enroll(prospect)
    w.tick()
    (touch,) = w.touches(eid)
    reply = EmailMessage()
    reply["From"] = prospect
    reply["To"] = w.rep
    reply["Subject"] = "Re: Our meeting, Acme"
    reply["Message-ID"] = f"<{uuid.uuid4().hex}@prospect.example>"
    reply["In-Reply-To"] = touch.message_id
    reply.set_content("Sounds good, please send the proposal.")
    mail.send(reply, prospect, [w.rep])
    mail.wait_for(w.rep, 1)
    clock.set(clock.now() + timedelta(hours=1))
    w.poll()
    assert w.enrollment(eid).status == "replied"
    clock.set(clock.now() + timedelta(hours=1))
    write_by_hand(w, prospect, "Re: Our meeting, Acme", in_reply_to=str(reply["Message-ID"]))
    w.poll()
    e = w.enrollment(eid)
    assert e.answered_at == clock.now()
    kinds = [x["kind"] for x in _timeline(w, prospect) if x["source"] == "event"]
    assert kinds.count("manual_email") == 1 and kinds.count("answered") == 1
