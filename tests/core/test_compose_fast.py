"""The engine's hand-written message bytes mean what the email package's would.

``compose_touch_bytes`` is what goes on the wire; ``compose_touch`` (EmailMessage,
policy SMTP) is the reference. Both are parsed the way a recipient's client would and
compared header by header and part by part, over ordinary touches and over inputs
chosen to hit every encoding and folding branch (and 150 random ones).
"""

from __future__ import annotations

import random
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sequencer.core.compose import compose_touch, compose_touch_bytes, new_message_id
from sequencer.core.templates import RenderedTouch
from sequencer.errors import HeaderInjectionError

WHEN = datetime(2025, 3, 10, 9, 5, tzinfo=ZoneInfo("America/Chicago"))


def args(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
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
    base.update(overrides)
    return base


def meaning(raw: bytes) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """What a mail client sees: decoded headers, and each leaf part's type, charset, text."""
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")), "a line longer than SMTP allows"
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
    msg: EmailMessage = message_from_bytes(raw, policy=default_policy)  # type: ignore[assignment]
    assert not msg.defects, msg.defects
    headers = {k.lower(): str(v) for k, v in msg.items()}
    assert len(headers) == len(msg.keys()), "a header appears twice"
    for name in ("from", "to"):
        addr = msg[name].addresses[0]
        headers[name] = addr.addr_spec
        headers[f"{name}-name"] = addr.display_name
    parts = [
        (p.get_content_type(), p.get_content_charset() or "", p.get_content())
        for p in msg.walk()
        if not p.is_multipart()
    ]
    return headers, parts


def same_meaning(**overrides: Any) -> bytes:
    """Fast and reference bytes decode alike; subject and names decode to the input.

    Where the email package itself garbles a value (it drops or adds spaces around
    split encoded-words in long non-ASCII headers), the fast path must give the input
    back exactly -- never worse than the reference.
    """
    a = args(**overrides)
    fast = compose_touch_bytes(**a)
    f_headers, f_parts = meaning(fast)
    r_headers, r_parts = meaning(compose_touch(**a).as_bytes())
    assert f_parts == r_parts
    expected = {
        "subject": a["rendered"].subject,
        "from-name": a["from_name"] or "",
        "to-name": a["to_name"] or "",
    }
    for key in set(f_headers) | set(r_headers):
        if f_headers.get(key) != r_headers.get(key):
            assert key in expected, (key, f_headers.get(key), r_headers.get(key))
            assert f_headers[key] == expected[key], (key, f_headers[key], expected[key])
    return fast


def test_an_ordinary_touch_is_byte_for_byte_the_email_packages() -> None:
    a = args()
    assert compose_touch_bytes(**a) == compose_touch(**a).as_bytes()


def test_a_threaded_html_touch_with_unsubscribe_is_byte_for_byte_the_same() -> None:
    refs = [new_message_id("example.com", f"t{i}") for i in range(8)]
    a = args(
        rendered=RenderedTouch(
            "Re: Your quote for Acme", "Checking in.\n", "<p>Checking in.</p>\n"
        ),
        in_reply_to=refs[-1],
        references=refs,
        list_unsubscribe_mailto="mailto:sam+unsubscribe-tok@example.com?subject=unsubscribe",
        list_unsubscribe_url="https://example.com/u/" + "t" * 40,
    )
    raw = compose_touch_bytes(**a)
    assert raw == compose_touch(**a).as_bytes()
    assert b"\r\n <sq.t" in raw  # References folded between ids
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


@pytest.mark.parametrize(
    "overrides",
    [
        {"rendered": RenderedTouch("Café pour Hélène à Zürich", "Prix: 10 €\n", None)},
        {"rendered": RenderedTouch("Quote " + "déjà vu " * 30 + "end", "x\n", None)},
        {"rendered": RenderedTouch("A " + "word " * 40 + "end", "long " * 300 + "\n", None)},
        {"rendered": RenderedTouch("日本語の件名です、よろしく", "本文です。\n", "<p>本文</p>")},
        {"rendered": RenderedTouch("Tab-free but =?utf-8?q?x?= looking", "x\n", None)},
        {"rendered": RenderedTouch("two  spaces", "x\n", None)},
        {"rendered": RenderedTouch("x", "a\r\nb\rc\n.\n..dot\nFrom me\n", None)},
        {"rendered": RenderedTouch("x", "no trailing newline", "<p>no newline</p>")},
        {"rendered": RenderedTouch("x", "", None)},
        {"rendered": RenderedTouch("x", "trailing space \nand =3D equals\n", None)},
        {"from_name": "Rivera, Sam"},
        {"from_name": 'Sam "The Closer" Rivera \\ Co'},
        {"from_name": "Sam Rivéra", "to_name": "Dana Ångström-Øye"},
        {"to_name": "Dr. Dana K. Whitfield"},
        {"to_name": "  padded  "},
        {"to_name": None},
        {"to_name": "ÆØÅ " * 30},
        {"to_addr": "dana.o'neil+tag@sub.acme.test"},
        {"to_addr": '"quoted local"@acme.test'},
        {"to_addr": "  dana@acme.test  "},
        {"list_unsubscribe_mailto": "sam+unsubscribe-x@example.com"},
        {"date": datetime(2025, 7, 1, 23, 59, 59, tzinfo=ZoneInfo("Asia/Kolkata"))},
    ],
)
def test_unusual_inputs_mean_the_same(overrides: dict[str, Any]) -> None:
    same_meaning(**overrides)


def test_random_touches_mean_the_same() -> None:
    rng = random.Random(20250310)
    alphabet = "abcdefghij KLMNOP 0123 .,;:'\"()<>@[]\\!?éüßøæ€日本😀-_=+/*#$%&"
    for _ in range(150):

        def text(lo: int, hi: int) -> str:
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))

        body = "\n".join(text(0, 120) for _ in range(rng.randint(0, 6)))
        same_meaning(
            rendered=RenderedTouch(
                text(1, 140).strip() or "x", body, text(0, 80) if rng.random() < 0.3 else None
            ),
            from_name=text(0, 40).strip() or None,
            to_name=text(0, 90).strip() or None,
            references=[new_message_id("example.com", f"r{i}") for i in range(rng.randint(0, 25))],
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"rendered": RenderedTouch("Hi\r\nBcc: victim@example.com", "x", None)},
        {"to_name": "Dana\nBcc: victim@example.com"},
        {"from_name": "Sam\rX-Evil: 1"},
        {"to_addr": "dana@acme.test\r\nBcc: victim@example.com"},
        {"list_unsubscribe_mailto": "x@example.com\r\nBcc: v@example.com"},
    ],
)
def test_header_injection_is_refused_by_the_fast_path_too(overrides: dict[str, Any]) -> None:
    with pytest.raises(HeaderInjectionError):
        compose_touch_bytes(**args(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"to_addr": "not-an-address"},
        {"to_addr": "two@@acme.test"},
        {"message_id": "no-angle@example.com"},
        {"list_unsubscribe_url": "http://example.com/u"},
        {"date": datetime(2025, 3, 10, 9, 5)},
    ],
)
def test_broken_inputs_are_refused_by_the_fast_path_too(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        compose_touch(**args(**overrides))
    with pytest.raises(ValueError):
        compose_touch_bytes(**args(**overrides))


def test_ordinary_touches_never_fall_back_to_the_email_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The speed claim: names, accents, threads and unsubscribe all take the fast path."""
    import sequencer.core.compose as compose_module

    def refuse(**_: Any) -> EmailMessage:
        raise AssertionError("fell back to the email package")

    monkeypatch.setattr(compose_module, "compose_touch", refuse)
    refs = [new_message_id("example.com", f"t{i}") for i in range(20)]
    compose_touch_bytes(**args(
        rendered=RenderedTouch("Re: Café pour Hélène", "Prix: 10 €\n" * 50, "<p>€</p>"),
        from_name="Sam Rivéra", to_name="Dr. Dana O'Neil-Øye", in_reply_to=refs[-1],
        references=refs, list_unsubscribe_mailto="sam+unsubscribe-x@example.com",
        list_unsubscribe_url="https://example.com/u/x",
    ))  # fmt: skip


def test_a_long_unsubscribe_address_stays_on_the_header_line() -> None:
    """Folded before it only when it then fits: clients read ``<mailto:`` right after the colon."""
    raw = same_meaning(list_unsubscribe_mailto="mailto:rep-bb8f8c0291+unsubscribe-" + "x" * 40
                       + "@test.example?subject=unsubscribe")  # fmt: skip
    assert b"\r\nList-Unsubscribe: <mailto:rep-bb8f8c0291+unsubscribe-" in raw
