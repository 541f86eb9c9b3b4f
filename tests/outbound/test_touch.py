"""What the send path renders for a touch: the same rule on a retry and for a filed thread.

No servers: ``render_touch`` is called as the engine calls it inside the claim, with
in-memory ORM rows, so a retry is exactly what the engine does on a 4xx: render the
touch again, later, with the Message-ID stored before the first attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from sequencer.config import Config, MailboxConfig, ServerConfig
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequence_files import load_sequences
from sequencer.core.templates import TemplateStore
from sequencer.db.models import Enrollment, Prospect
from sequencer.outbound.touch import advance_after, render_touch

ROOT = Path(__file__).resolve().parents[2]
MAILBOX = MailboxConfig(name="rep", address="sam@example.com", display_name="Sam Rivera",
                        smtp=ServerConfig(host="localhost"))
CONFIG = Config(mailboxes=[MAILBOX])
CALENDAR = BusinessCalendar()
TEMPLATES = TemplateStore(ROOT / "templates")
SEQUENCE = load_sequences(ROOT / "sequences", TEMPLATES)["quote-follow-up"]
T0 = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
FILED = "<filed-1042@example.com>"


def prospect() -> Prospect:
    return Prospect(email="dana@acme.example", display_email="Dana@acme.example", name="Dana Whitfield",
                    company="Acme", owner="rep", timezone="America/Chicago", deal_value=None,
                    fields={"quote_number": "Q-7"})


def render(e: Enrollment, number: int, message_id: str, now: datetime) -> EmailMessage:
    prepared = render_touch(CONFIG, TEMPLATES, CALENDAR, MAILBOX, SEQUENCE, number, e, prospect(),
                            message_id, now, "America/Chicago")
    return message_from_bytes(prepared.raw, policy=default_policy)  # type: ignore[return-value]


def test_a_retried_touch_keeps_its_message_id_and_thread_only_the_date_moves() -> None:
    e = Enrollment(token="tok-retry", steps_done=1, thread_subject="Your quote Q-7 for Acme",
                   thread_root_id="<first@example.com>", last_message_id="<first@example.com>",
                   thread_refs=["<first@example.com>"])
    first = render(e, 2, "<sq.second@example.com>", T0)
    retry = render(e, 2, "<sq.second@example.com>", T0 + timedelta(hours=3))
    for header in ("Message-ID", "In-Reply-To", "References", "Subject", "From", "To", "Content-Type"):
        assert retry[header] == first[header], header
    assert retry["In-Reply-To"] == "<first@example.com>"
    assert retry["Subject"] == "Re: Your quote Q-7 for Acme"
    assert retry.get_body(("plain",)).get_content() == first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert retry["Date"] != first["Date"]


def test_a_filed_enrollments_first_touch_replies_to_the_filed_email() -> None:
    e = Enrollment(token="tok-filed", steps_done=0, source="filing", thread_subject="Quote 1042 for Acme",
                   thread_root_id=FILED, last_message_id=FILED, thread_refs=[FILED])
    msg = render(e, 1, "<sq.one@example.com>", T0)
    assert msg["Subject"] == "Re: Quote 1042 for Acme"
    assert msg["In-Reply-To"] == FILED and msg["References"] == FILED
    prepared = render_touch(CONFIG, TEMPLATES, CALENDAR, MAILBOX, SEQUENCE, 1, e, prospect(),
                            "<sq.one@example.com>", T0, "America/Chicago")
    advance = advance_after(CALENDAR, MAILBOX, prepared, "<sq.one@example.com>", T0)
    assert advance.thread_root_id == FILED  # the filed email stays the thread's root
    assert advance.thread_refs == [FILED, "<sq.one@example.com>"]
    assert advance.thread_subject == "Quote 1042 for Acme"
