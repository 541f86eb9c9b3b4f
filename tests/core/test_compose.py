"""Outbound message building: looks like a person's email, threads, never injects."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sequencer.core.compose import compose_touch, new_message_id, reply_subject
from sequencer.core.templates import RenderedTouch
from sequencer.errors import HeaderInjectionError

CHICAGO = ZoneInfo("America/Chicago")
WHEN = datetime(2025, 3, 10, 9, 5, tzinfo=CHICAGO)


def compose(**overrides: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "rendered": RenderedTouch("Your quote for Acme", "Hi Dana,\n\nHere it is.\n", None),
        "from_name": "Sam Rivera",
        "from_addr": "sam@example.com",
        "to_name": "Dana Whitfield",
        "to_addr": "dana@acme.test",
        "message_id": new_message_id("example.com", "abc123"),
        "date": WHEN,
        "in_reply_to": None,
        "references": [],
        "list_unsubscribe_mailto": None,
        "list_unsubscribe_url": None,
    }
    args.update(overrides)
    return compose_touch(**args)


def parsed(msg: EmailMessage) -> EmailMessage:
    """What the recipient's mail client sees after SMTP."""
    return message_from_bytes(msg.as_bytes(), policy=default_policy)  # type: ignore[return-value]


def test_a_first_touch_is_a_plain_one_to_one_email() -> None:
    msg = parsed(compose())
    assert msg["From"] == "Sam Rivera <sam@example.com>"
    assert msg["To"] == "Dana Whitfield <dana@acme.test>"
    assert msg["Subject"] == "Your quote for Acme"
    assert msg["Message-ID"] == "<sq.abc123@example.com>"
    assert msg["Date"] == "Mon, 10 Mar 2025 09:05:00 -0500"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "Hi Dana,\r\n\r\nHere it is.\r\n"  # CRLF on the wire
    for absent in ("In-Reply-To", "References", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert absent not in msg


def test_never_marks_itself_as_bulk_or_automated() -> None:
    msg = compose(list_unsubscribe_mailto="unsubscribe+t@example.com",
                  list_unsubscribe_url="https://example.com/u/t")
    for header in ("Precedence", "X-Auto-Response-Suppress", "Auto-Submitted"):
        assert header not in msg


def test_follow_up_threads_with_in_reply_to_and_references() -> None:
    refs = ["<sq.one@example.com>", "<sq.two@example.com>"]
    msg = parsed(compose(
        rendered=RenderedTouch(reply_subject("Your quote for Acme"), "Checking in.\n", None),
        in_reply_to=refs[-1], references=refs,
    ))
    assert msg["Subject"] == "Re: Your quote for Acme"
    assert msg["In-Reply-To"] == "<sq.two@example.com>"
    assert msg["References"].split() == refs


def test_html_touch_is_multipart_alternative_text_first() -> None:
    msg = parsed(compose(rendered=RenderedTouch("Hi", "Plain café\n", "<p>Rich café</p>\n")))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == "Plain café\r\n"
    assert parts[1].get_content() == "<p>Rich café</p>\r\n"
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert all("MIME-Version" not in p for p in parts)


def test_the_mime_boundary_follows_the_message_id_not_the_date() -> None:
    """A retry is composed again with a later Date (tests/outbound/test_touch.py); its
    parts keep their boundary because it comes from the Message-ID, which the retry keeps."""
    touch = RenderedTouch("Hi", "text\n", "<p>html</p>\n")
    first = compose(rendered=touch)
    later = compose(rendered=touch, date=datetime(2026, 3, 2, 18, 0, tzinfo=ZoneInfo("America/Chicago")))
    assert later["Date"] != first["Date"]
    assert later.get_boundary() == first.get_boundary()
    other = compose(rendered=touch, message_id=new_message_id("example.com", "another"))
    assert other.get_boundary() != first.get_boundary()


def test_list_unsubscribe_only_when_asked_and_one_click_only_with_a_url() -> None:
    mailto_only = compose(list_unsubscribe_mailto="unsubscribe+tok@example.com")
    assert mailto_only["List-Unsubscribe"] == "<mailto:unsubscribe+tok@example.com>"
    assert "List-Unsubscribe-Post" not in mailto_only
    both = compose(list_unsubscribe_mailto="mailto:u@example.com", list_unsubscribe_url="https://example.com/u/tok")
    assert both["List-Unsubscribe"] == "<mailto:u@example.com>, <https://example.com/u/tok>"
    assert both["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with pytest.raises(ValueError, match="must be https"):
        compose(list_unsubscribe_url="http://example.com/u/tok")


@pytest.mark.parametrize(
    "overrides",
    [
        {"rendered": RenderedTouch("Hi\r\nBcc: victim@example.com", "x\n", None)},
        {"from_name": "Sam\nBcc: victim@example.com"},
        {"to_name": "Dana\r\nX-Evil: 1"},
        {"to_addr": "dana@acme.test\r\nBcc: victim@example.com"},
        {"list_unsubscribe_url": "https://example.com/u\r\nBcc: x@y"},
        {"in_reply_to": "<a@b>\r\nBcc: x@y"},
    ],
)
def test_header_injection_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(HeaderInjectionError):
        compose(**overrides)


def test_display_names_with_commas_and_unicode_survive() -> None:
    msg = parsed(compose(from_name="Rivera, Sam", to_name="Zoë Ångström"))
    assert msg["From"].addresses[0].display_name == "Rivera, Sam"
    assert msg["To"].addresses[0].display_name == "Zoë Ångström"


def test_inputs_that_would_produce_a_broken_message_are_refused() -> None:
    with pytest.raises(ValueError, match="needs a subject"):
        compose(rendered=RenderedTouch(None, "x\n", None))
    with pytest.raises(ValueError, match="timezone-aware"):
        compose(date=datetime(2025, 3, 10, 9, 0))
    with pytest.raises(ValueError, match="not a Message-ID"):
        compose(in_reply_to="not-an-id")
    with pytest.raises(ValueError, match="not an email address"):
        compose(to_addr="dana")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Your quote", "Re: Your quote"),
        ("Re: Your quote", "Re: Your quote"),
        ("RE: re: Your quote", "Re: Your quote"),
        ("AW: Ihr Angebot", "Re: Ihr Angebot"),
        ("Re[2]: Your quote", "Re: Your quote"),
        ("Regarding your quote", "Re: Regarding your quote"),
    ],
)
def test_reply_subject_never_stacks_prefixes(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_message_ids_are_per_token_and_validated() -> None:
    assert new_message_id("Example.COM", "01HX-9f_a") == "<sq.01HX-9f_a@example.com>"
    assert new_message_id("example.com", "a") != new_message_id("example.com", "b")
    with pytest.raises(ValueError, match="invalid Message-ID domain"):
        new_message_id("exa mple.com", "a")
    with pytest.raises(ValueError, match="invalid Message-ID token"):
        new_message_id("example.com", "a>b")
