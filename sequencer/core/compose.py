"""Build the outbound email of a touch: headers, threading, unsubscribe, MIME parts.

Pure: the caller passes the Message-ID, the date and the thread's ids, so the same
inputs always give the same message (a retried send is byte-for-byte the same mail).

Subject rule: ``compose_touch`` puts ``rendered.subject`` on the message verbatim.
The caller decides it: thread-starting steps use their rendered subject, in-thread
steps use ``reply_subject(<subject of the touch that started the thread>)``
(see ``sequences.render_step``). ``compose_touch`` refuses a missing subject.

Headers we deliberately never set: ``Precedence`` and ``X-Auto-Response-Suppress``
(and ``Auto-Submitted``). They mark mail as bulk/automated, which makes vacation
responders stay silent and the touch look like a newsletter; the poller relies on
out-of-office replies to pause sequences (DESIGN.md, "measured").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sequencer.core.templates import RenderedTouch
from sequencer.errors import HeaderInjectionError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|r|ref)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_MSGID_RE = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


def _check_header(name: str, value: str) -> str:
    bad = _CONTROL.search(value)
    if bad:
        raise HeaderInjectionError(
            f"header {name}",
            f"{name} contains a control character {bad.group()!r}; refusing to send",
        )
    return value


def new_message_id(domain: str, token: str) -> str:
    """``<sq.{token}@{domain}>``: deterministic from a token that is unique per touch.

    The engine makes ``token`` unique (e.g. a uuid4 hex stored with the Message row
    before sending), so a retry reuses the same Message-ID and a reply's In-Reply-To
    always finds its touch. ``domain`` should be the sending mailbox's domain; a
    foreign domain in Message-IDs is a spam signal.
    """
    domain = domain.strip().lower()
    if not _DOMAIN_RE.match(domain):
        raise ValueError(f"invalid Message-ID domain {domain!r}")
    if (
        not token
        or not _TOKEN_RE.match(token)
        or token.startswith(".")
        or token.endswith(".")
        or ".." in token
    ):
        raise ValueError(f"invalid Message-ID token {token!r}; use letters, digits, '-' or '_'")
    return f"<sq.{token}@{domain}>"


def reply_subject(first_subject: str) -> str:
    """``Re: <subject>`` for an in-thread follow-up, without stacking ``Re: Re:``.

    Existing reply prefixes (Re, AW, SV, Antw, any case, any number) collapse to one
    ``Re:``, matching what mail clients show and how Gmail groups threads.
    """
    base = _RE_PREFIX.sub("", first_subject).strip()
    return f"Re: {base}"


def _address(name: str | None, addr: str, header: str) -> Address:
    _check_header(header, addr)
    if name:
        _check_header(header, name)
    if "@" not in addr:
        raise ValueError(f"{header}: {addr!r} is not an email address")
    try:
        return Address(display_name=name or "", addr_spec=addr.strip())
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise ValueError(f"{header}: {addr!r} is not a valid email address ({exc})") from None


@dataclass(frozen=True)
class _Checked:
    """Header values that passed the injection and shape checks, shared by both builders."""

    subject: str
    list_unsubscribe: str | None
    one_click: bool


def _checked(
    rendered: RenderedTouch,
    message_id: str,
    date: datetime,
    in_reply_to: str | None,
    references: list[str],
    list_unsubscribe_mailto: str | None,
    list_unsubscribe_url: str | None,
) -> _Checked:
    if rendered.subject is None:
        raise ValueError("a touch needs a subject; in-thread steps use reply_subject(...)")
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    for name, value in (
        ("Message-ID", message_id),
        ("In-Reply-To", in_reply_to or ""),
        *(("References", r) for r in references),
    ):
        _check_header(name, value)
        if value and not _MSGID_RE.match(value.strip()):
            raise ValueError(f"{name}: {value!r} is not a Message-ID like <id@domain>")
    targets: list[str] = []
    if list_unsubscribe_mailto:
        mailto = list_unsubscribe_mailto
        if not mailto.lower().startswith("mailto:"):
            mailto = "mailto:" + mailto
        targets.append(f"<{_check_header('List-Unsubscribe', mailto)}>")
    if list_unsubscribe_url:
        url = _check_header("List-Unsubscribe", list_unsubscribe_url)
        if not url.lower().startswith("https://"):
            raise ValueError(f"List-Unsubscribe URL must be https:// for one-click, not {url!r}")
        if any(c in url for c in "<>, "):
            raise ValueError(
                f"List-Unsubscribe URL {url!r} must not contain '<', '>', ',' or spaces"
            )
        targets.append(f"<{url}>")
    return _Checked(
        subject=_check_header("Subject", rendered.subject),
        list_unsubscribe=", ".join(targets) if targets else None,
        one_click=bool(list_unsubscribe_url),
    )


def _boundary(message_id: str) -> str:
    """Derived from the Message-ID so the message is reproducible (a retry is the same bytes)."""
    return "=_sq_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


def compose_touch(
    *,
    rendered: RenderedTouch,
    from_name: str | None,
    from_addr: str,
    to_name: str | None,
    to_addr: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None,
    references: list[str],
    list_unsubscribe_mailto: str | None,
    list_unsubscribe_url: str | None,
) -> EmailMessage:
    """The touch as an EmailMessage (policy SMTP: CRLF line ends, ready for aiosmtplib).

    text/plain only, or multipart/alternative (text first, then HTML) when the touch has
    HTML. ``date`` must be aware; it is shown in its own zone (pass the mailbox's local
    time, as a human's client would). ``List-Unsubscribe`` is set only when a mailto or
    URL is given, and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058)
    only with a URL, as one-click needs an HTTPS endpoint.
    Raises HeaderInjectionError if any header value holds CR, LF or another control char.
    The engine sends ``compose_touch_bytes`` (same message, built without the email
    package's header machinery); this is the reference it is tested against.
    """
    checked = _checked(
        rendered,
        message_id,
        date,
        in_reply_to,
        references,
        list_unsubscribe_mailto,
        list_unsubscribe_url,
    )
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(from_name, from_addr, "From")
    msg["To"] = _address(to_name, to_addr, "To")
    msg["Subject"] = checked.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    if checked.list_unsubscribe:
        msg["List-Unsubscribe"] = checked.list_unsubscribe
    if checked.one_click:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte=_cte(rendered.text))
    if rendered.html is not None:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte=_cte(rendered.html))
        for part in msg.iter_parts():
            del part["MIME-Version"]  # only the top level carries it
        msg.set_boundary(_boundary(message_id))
    return msg


def compose_touch_bytes(
    *,
    rendered: RenderedTouch,
    from_name: str | None,
    from_addr: str,
    to_name: str | None,
    to_addr: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None,
    references: list[str],
    list_unsubscribe_mailto: str | None,
    list_unsubscribe_url: str | None,
) -> bytes:
    """``compose_touch(...).as_bytes()``, written directly: the engine's hot path.

    The email package parses and refolds every header it is given (about 0.7 ms a
    touch, most of the engine's CPU). A touch's headers are few and known, so they are
    written by hand: ASCII as is, non-ASCII as RFC 2047 encoded-words, long lines
    folded. The same checks run first (header injection, Message-ID shape, https
    one-click URL), and anything unusual -- an address that is not a plain
    dot-atom, a header that cannot be folded under 998 characters -- goes through
    ``compose_touch`` instead, so the two never disagree on what is sent (tests parse
    both and compare).
    """
    checked = _checked(
        rendered,
        message_id,
        date,
        in_reply_to,
        references,
        list_unsubscribe_mailto,
        list_unsubscribe_url,
    )
    fast = _fast_bytes(
        checked, rendered, from_name, from_addr, to_name, to_addr, message_id, date,
        in_reply_to, references,
    )  # fmt: skip
    if fast is not None:
        return fast
    return compose_touch(
        rendered=rendered,
        from_name=from_name,
        from_addr=from_addr,
        to_name=to_name,
        to_addr=to_addr,
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=references,
        list_unsubscribe_mailto=list_unsubscribe_mailto,
        list_unsubscribe_url=list_unsubscribe_url,
    ).as_bytes()


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
    cte = _cte(text)
    lines = text.encode("utf-8").splitlines()
    if cte == "7bit":
        data = "\r\n".join(line.decode("ascii") for line in lines) + "\r\n"
    else:
        data = quoprimime.body_encode(
            (b"\n".join(lines) + b"\n").decode("latin-1"), _MAX_LINE
        ).replace("\n", "\r\n")
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return (head + "\r\n" + data).encode("ascii")


def _fast_bytes(
    checked: _Checked,
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
        _check_header(header, addr)
        if display:
            _check_header(header, display)
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
    boundary = _boundary(message_id).encode("ascii")
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


def _cte(body: str) -> str:
    """7bit for plain ASCII with short lines, else quoted-printable (readable, like mail clients)."""
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return "7bit"
    return "quoted-printable"
