"""Build the outbound email of a touch: headers, threading, unsubscribe, MIME parts.

Pure: the caller passes the Message-ID, the date and the thread's ids, so the same
inputs give the same bytes. A retried send is rendered again with a later ``now``:
it keeps its Message-ID (stored with the touch before the first attempt), so its
threading headers and MIME boundary are the same, but its Date may differ. Replies
and the Sent-folder search go by the Message-ID, never by the bytes.

Subject rule: ``compose_touch`` puts ``rendered.subject`` on the message verbatim.
The caller decides it with ``planning.thread_for``: thread-starting steps use their
rendered subject, in-thread steps ``reply_subject(<subject of the thread's first
touch>)``. ``compose_touch`` refuses a missing subject.

Headers we deliberately never set: ``Precedence`` and ``X-Auto-Response-Suppress``
(and ``Auto-Submitted``). They mark mail as bulk/automated, which makes vacation
responders stay silent and the touch look like a newsletter; the poller relies on
out-of-office replies to pause sequences (DESIGN.md, "measured").
"""

from __future__ import annotations

import re
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sequencer.core.templates import RenderedTouch
from sequencer.core.wire import (
    check_header,
    checked_headers,
    fast_bytes,
    mime_boundary,
    transfer_encoding,
)

_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|r|ref)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


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
    check_header(header, addr)
    if name:
        check_header(header, name)
    if "@" not in addr:
        raise ValueError(f"{header}: {addr!r} is not an email address")
    try:
        return Address(display_name=name or "", addr_spec=addr.strip())
    except (ValueError, IndexError, HeaderParseError) as exc:
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
    The engine sends ``compose_touch_bytes`` (same message, built without the email
    package's header machinery); this is the reference it is tested against.
    """
    checked = checked_headers(
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

    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte=transfer_encoding(rendered.text))
    if rendered.html is not None:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte=transfer_encoding(rendered.html))
        for part in msg.iter_parts():
            del part["MIME-Version"]  # only the top level carries it
        msg.set_boundary(mime_boundary(message_id))
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
    checked = checked_headers(
        rendered,
        message_id,
        date,
        in_reply_to,
        references,
        list_unsubscribe_mailto,
        list_unsubscribe_url,
    )
    fast = fast_bytes(
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
