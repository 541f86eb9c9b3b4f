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
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sequencer.errors import HeaderInjectionError
from sequencer.templates import RenderedTouch

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|r|ref)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_MSGID_RE = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


def _check_header(name: str, value: str) -> str:
    bad = _CONTROL.search(value)
    if bad:
        raise HeaderInjectionError(
            f"header {name}", f"{name} contains a control character {bad.group()!r}; refusing to send"
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
    if not token or not _TOKEN_RE.match(token) or token.startswith(".") or token.endswith(".") or ".." in token:
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
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{header}: {addr!r} is not a valid email address ({exc})") from None


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
    """
    if rendered.subject is None:
        raise ValueError("a touch needs a subject; in-thread steps use reply_subject(...)")
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    for name, value in (("Message-ID", message_id), ("In-Reply-To", in_reply_to or ""),
                        *(("References", r) for r in references)):
        _check_header(name, value)
        if value and not _MSGID_RE.match(value.strip()):
            raise ValueError(f"{name}: {value!r} is not a Message-ID like <id@domain>")

    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(from_name, from_addr, "From")
    msg["To"] = _address(to_name, to_addr, "To")
    msg["Subject"] = _check_header("Subject", rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)

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
            raise ValueError(f"List-Unsubscribe URL {url!r} must not contain '<', '>', ',' or spaces")
        targets.append(f"<{url}>")
    if targets:
        msg["List-Unsubscribe"] = ", ".join(targets)
    if list_unsubscribe_url:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte=_cte(rendered.text))
    if rendered.html is not None:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte=_cte(rendered.html))
        for part in msg.iter_parts():
            del part["MIME-Version"]  # only the top level carries it
        # A boundary derived from the Message-ID keeps the message reproducible.
        msg.set_boundary("=_sq_" + hashlib.sha256(message_id.encode()).hexdigest()[:24])
    return msg


def _cte(body: str) -> str:
    """7bit for plain ASCII with short lines, else quoted-printable (readable, like mail clients)."""
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return "7bit"
    return "quoted-printable"
