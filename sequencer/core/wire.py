"""A touch's headers, checked, and its bytes written by hand: the engine's fast path.

``checked_headers`` refuses header injection and malformed Message-IDs or unsubscribe
targets for both builders; ``fast_bytes`` writes the message the email package would
(``compose.compose_touch``), or returns None when the touch is unusual enough that the
email package should build it instead (``compose.compose_touch_bytes`` decides).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.utils import format_datetime

from sequencer.core.templates import RenderedTouch
from sequencer.errors import HeaderInjectionError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MSGID_RE = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


def check_header(name: str, value: str) -> str:
    bad = _CONTROL.search(value)
    if bad:
        raise HeaderInjectionError(
            f"header {name}",
            f"{name} contains a control character {bad.group()!r}; refusing to send",
        )
    return value


@dataclass(frozen=True)
class Checked:
    """Header values that passed the injection and shape checks, shared by both builders."""

    subject: str
    list_unsubscribe: str | None
    one_click: bool


def checked_headers(
    rendered: RenderedTouch,
    message_id: str,
    date: datetime,
    in_reply_to: str | None,
    references: list[str],
    list_unsubscribe_mailto: str | None,
    list_unsubscribe_url: str | None,
) -> Checked:
    if rendered.subject is None:
        raise ValueError("a touch needs a subject; in-thread steps use reply_subject(...)")
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    for name, value in (
        ("Message-ID", message_id),
        ("In-Reply-To", in_reply_to or ""),
        *(("References", r) for r in references),
    ):
        check_header(name, value)
        if value and not _MSGID_RE.match(value.strip()):
            raise ValueError(f"{name}: {value!r} is not a Message-ID like <id@domain>")
    targets: list[str] = []
    if list_unsubscribe_mailto:
        mailto = list_unsubscribe_mailto
        if not mailto.lower().startswith("mailto:"):
            mailto = "mailto:" + mailto
        targets.append(f"<{check_header('List-Unsubscribe', mailto)}>")
    if list_unsubscribe_url:
        url = check_header("List-Unsubscribe", list_unsubscribe_url)
        if not url.lower().startswith("https://"):
            raise ValueError(f"List-Unsubscribe URL must be https:// for one-click, not {url!r}")
        if any(c in url for c in "<>, "):
            raise ValueError(
                f"List-Unsubscribe URL {url!r} must not contain '<', '>', ',' or spaces"
            )
        targets.append(f"<{url}>")
    return Checked(
        subject=check_header("Subject", rendered.subject),
        list_unsubscribe=", ".join(targets) if targets else None,
        one_click=bool(list_unsubscribe_url),
    )


def mime_boundary(message_id: str) -> str:
    """Derived from the Message-ID, so a retry of a touch keeps its boundary (only Date may change)."""
    return "=_sq_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


_ADDR_SPEC_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_ATOMS_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# RFC 2047 section 5 (3): what may stand unencoded in a Q encoded-word inside a phrase.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_MAX_LINE = 78
_HARD_LINE = 998


def _encoded_words(text: str) -> list[str]:
    """``=?utf-8?q?...?=`` words of at most 75 characters, never splitting a character."""
    words: list[str] = []
    current = ""
    budget = 75 - len("=?utf-8?q??=")
    for ch in text:
        if ch == " ":
            piece = "_"
        else:
            raw = ch.encode("utf-8")
            piece = "".join(chr(b) if b in _Q_SAFE else f"={b:02X}" for b in raw)
        if len(current) + len(piece) > budget:
            words.append(f"=?utf-8?q?{current}?=")
            current = ""
        current += piece
    if current:
        words.append(f"=?utf-8?q?{current}?=")
    return words


def _fold(name: str, tokens: list[str], sep: str = " ", *, first_alone: bool = False) -> str | None:
    """``Name: t1 t2 ...`` folded before a token when the line would pass 78 characters.

    Folding only ever inserts CRLF before the whitespace already between tokens, so
    unfolding gives back the value. ``first_alone``: a first token too long for the
    name's line goes on the next one if it fits there (structured headers, as the email
    package does; an unstructured one would gain a leading space). None when a line passes 998 characters.
    """
    lines: list[str] = []
    line = f"{name}:"
    for i, token in enumerate(tokens):
        gap = " " if i == 0 else sep
        tail = len(sep.rstrip()) if i < len(tokens) - 1 else 0  # the comma that follows it
        alone = first_alone and 1 + len(token) + tail <= _MAX_LINE  # fits on a line of its own
        if len(line) + len(gap) + len(token) + tail > _MAX_LINE and (i or alone):
            lines.append(line + gap.rstrip())
            line = " " + token
        else:
            line += gap + token
        if len(line) > _HARD_LINE:
            return None
    lines.append(line)
    return "\r\n".join(lines)


def _unstructured(name: str, value: str) -> str | None:
    """A Subject-like header: ASCII as is, the non-ASCII stretch as encoded-words."""
    words = value.split(" ")
    if value.isascii():
        # Text that looks encoded, runs of spaces, blank: let the email package decide.
        if "=?" in value or any(not w for w in words):
            return None
        return _fold(name, words)
    first = next(i for i, w in enumerate(words) if not w.isascii())
    last = max(i for i, w in enumerate(words) if not w.isascii())
    head, middle, tail = words[:first], " ".join(words[first : last + 1]), words[last + 1 :]
    if any("=?" in w for w in (*head, *tail)) or any(not w for w in (*head, *tail)):
        return None
    return _fold(name, [*head, *_encoded_words(middle), *tail])


def _mailbox(name: str, display: str | None, addr: str) -> str | None:
    """``From``/``To``: the display name as atoms, a quoted string, or encoded-words."""
    addr = addr.strip()
    if not _ADDR_SPEC_RE.match(addr):
        return None  # quoted local parts, IDNs, invalid ones: the email package decides or refuses
    if not display:
        return _fold(name, [addr])
    if display.isascii():
        if _ATOMS_RE.match(display):
            phrase = [*display.split(" ")]
        elif display.strip() == display and "=?" not in display:
            phrase = ['"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"']
        else:
            return None
        return _fold(name, [*phrase, f"<{addr}>"])
    words = _encoded_words(display)
    if len(words) > 1:
        return None  # long non-ASCII names: rare, and some readers mis-join split words
    return _fold(name, [*words, f"<{addr}>"])


def _body(text: str, subtype: str) -> bytes:
    """One text part: its Content-Type/Content-Transfer-Encoding headers and encoded body."""
    cte = transfer_encoding(text)
    lines = text.encode("utf-8").splitlines()
    if cte == "7bit":
        data = "\r\n".join(line.decode("ascii") for line in lines) + "\r\n"
    else:
        data = quoprimime.body_encode(
            (b"\n".join(lines) + b"\n").decode("latin-1"), _MAX_LINE
        ).replace("\n", "\r\n")
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return (head + "\r\n" + data).encode("ascii")


def fast_bytes(
    checked: Checked,
    rendered: RenderedTouch,
    from_name: str | None,
    from_addr: str,
    to_name: str | None,
    to_addr: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None,
    references: list[str],
) -> bytes | None:
    for header, display, addr in (("From", from_name, from_addr), ("To", to_name, to_addr)):
        check_header(header, addr)
        if display:
            check_header(header, display)
        if "@" not in addr:
            raise ValueError(f"{header}: {addr!r} is not an email address")
    headers = [
        _mailbox("From", from_name, from_addr),
        _mailbox("To", to_name, to_addr),
        _unstructured("Subject", checked.subject),
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id.strip()}",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to.strip()}")
    if references:
        headers.append(_fold("References", [r.strip() for r in references]))
    if checked.list_unsubscribe:
        headers.append(
            _fold("List-Unsubscribe", checked.list_unsubscribe.split(", "), ", ", first_alone=True)
        )
    if checked.one_click:
        headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    if any(h is None for h in headers):
        return None
    text = _body(rendered.text, "plain")
    if rendered.html is None:
        top = "\r\n".join(headers) + "\r\n"  # type: ignore[arg-type]
        head, _, body = text.partition(b"\r\n\r\n")
        return top.encode("ascii") + head + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    boundary = mime_boundary(message_id).encode("ascii")
    top = "\r\n".join([*headers, "MIME-Version: 1.0"])  # type: ignore[list-item]
    return b"".join(
        (
            top.encode("ascii"),
            b'\r\nContent-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n",
            text,
            b"\r\n--" + boundary + b"\r\n",
            _body(rendered.html, "html"),
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


def transfer_encoding(body: str) -> str:
    """7bit for plain ASCII with short lines, else quoted-printable (readable, like mail clients)."""
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return "7bit"
    return "quoted-printable"
