"""Reading an inbound message without ever raising: parsing, headers, MIME parts, the Inbound view.

Mail from the wild is malformed often enough that one broken header must not stop a poll, so
every accessor here degrades to "absent" instead of raising.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import cast

from sequencer.classify.text import cut_html_quote, html_to_text, strip_quoted
from sequencer.core.addresses import address_pairs

MSGID = re.compile(r"<[^<>\s]+>")


def parse_message(raw: bytes) -> EmailMessage:
    """Parse raw RFC 5322 bytes; never raises, because one broken message must not stop a poll.

    Defects are recorded on the message (``msg.defects``) by the email package as usual.
    """
    try:
        return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))
    except Exception:  # the feed parser is lenient; this is a last resort
        msg = EmailMessage(policy=policy.default)
        msg.set_payload(raw.decode("utf-8", "replace"))
        return msg


def parse_raw(raw: bytes) -> Message:
    """Parse for classification: compat32 keeps headers as text, several times faster than
    the default policy's header objects, and the rules read raw header text anyway."""
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:
        return parse_message(raw)


def parse_headers(text: str) -> Message:
    """A header block found as text (a DSN block, text/rfc822-headers); compat32 never raises."""
    return HeaderParser(policy=policy.compat32).parsestr(text)


# --- header access that survives broken mail -------------------------------------------------


def _clean(value: str) -> str:
    """Unfold and drop undecodable bytes (surrogates) so values are safe to print and store."""
    value = re.sub(r"\r?\n[ \t]*", " ", str(value)).strip()
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# One classify() call reads the same few headers of the same message dozens of times (each
# rule asks for its own); scanning and cleaning every header for each question was a third
# of the rule chain's time. Inside ``header_index()`` each message's headers are indexed
# once, by lowercased name. The index lives only for that call, so a caller's Message that
# is changed afterwards is read afresh next time.
_Index = dict[str, list[str] | None]  # None: a value of that name could not be cleaned
_HEADER_INDEX: ContextVar[dict[int, tuple[Message, _Index]] | None] = ContextVar(
    "sequencer_header_index", default=None
)


@contextmanager
def header_index() -> Iterator[None]:
    """Index each message's headers once while the block runs (``classify`` uses it)."""
    token = _HEADER_INDEX.set({})
    try:
        yield
    finally:
        _HEADER_INDEX.reset(token)


def _index(msg: Message) -> _Index:
    index: _Index = {}
    for k, v in msg.raw_items():
        key = k.lower()
        values = index.setdefault(key, [])
        if values is None:
            continue
        try:
            values.append(_clean(v))
        except Exception:  # as before: a name with an unreadable value reads as absent
            index[key] = None
    return index


def raw_values(msg: Message, name: str) -> list[str]:
    """Raw header values; ``msg[name]`` can raise on malformed structured headers."""
    name = name.lower()
    cache = _HEADER_INDEX.get()
    if cache is None:
        try:
            return [_clean(v) for k, v in msg.raw_items() if k.lower() == name]
        except Exception:
            return []
    entry = cache.get(id(msg))
    if entry is None or entry[0] is not msg:
        try:
            entry = (msg, _index(msg))
        except Exception:
            return []
        cache[id(msg)] = entry
    values = entry[1].get(name)
    return list(values) if values else []


def first(msg: Message, name: str) -> str:
    values = raw_values(msg, name)
    return values[0] if values else ""


def decoded(value: str) -> str:
    try:
        return _clean(str(make_header(decode_header(value))))
    except Exception:
        return value


def addresses_in(values: Iterable[str]) -> tuple[str, ...]:
    """Lowercased addresses from address-list texts, in order, each once."""
    found = [addr.strip().lower() for _, addr in address_pairs(values) if "@" in addr]
    return tuple(dict.fromkeys(found))


def addresses(msg: Message, *names: str) -> tuple[str, ...]:
    return addresses_in(v for name in names for v in raw_values(msg, name))


def msgids(values: list[str]) -> list[str]:
    """Message-IDs from header values; tolerates a bare ``id@host`` without angle brackets."""
    found: list[str] = []
    for value in values:
        tokens = MSGID.findall(value)
        if not tokens and re.fullmatch(r"[^\s<>@]+@[^\s<>@]+", value.strip()):
            tokens = [f"<{value.strip()}>"]
        found.extend(tokens)
    return found


def message_ids(msg: Message) -> list[str]:
    return msgids(raw_values(msg, "message-id"))


def thread_refs(headers: Message) -> list[str]:
    """In-Reply-To first, then References newest first: the most specific parent leads."""
    references = msgids(raw_values(headers, "references"))
    return msgids(raw_values(headers, "in-reply-to")) + references[::-1]


def date_header(msg: Message) -> date | None:
    try:
        return parsedate_to_datetime(first(msg, "date")).date()
    except Exception:
        return None


# --- MIME walking ----------------------------------------------------------------------------


def content_type(part: Message) -> str:
    """The part's MIME type, read from the raw header: the email package's own accessor
    parses the whole structured header each time, which dominated classification time."""
    raw = first(part, "content-type").split(";", 1)[0].strip().lower()
    if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", raw):
        return raw
    return part.get_default_type()


def leaves(part: Message, depth: int = 0) -> Iterator[Message]:
    """Leaf parts, treating message/* parts as leaves so an attached original stays opaque."""
    payload = part.get_payload()
    if depth > 100 or content_type(part).startswith("message/") or not isinstance(payload, list):
        yield part
        return
    for sub in payload:
        if isinstance(sub, Message):
            yield from leaves(sub, depth + 1)


def part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    found = re.search(r"""charset\s*=\s*["']?([\w.:-]+)""", first(part, "content-type"), re.I)
    charset = found.group(1).lower() if found else "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _is_attachment(part: Message) -> bool:
    return first(part, "content-disposition").lower().startswith("attachment")


Parts = list[tuple[str, Message]]


def typed_leaves(msg: Message) -> Parts:
    return [(content_type(p), p) for p in leaves(msg)]


def _first_text_body(parts: Parts) -> tuple[str, bool]:
    """The first inline text/plain leaf, else the first text/html one (and whether it is HTML)."""
    inline = [(t, p) for t, p in parts if not _is_attachment(p)]
    for wanted, is_html in (("text/plain", False), ("text/html", True)):
        for ctype, part in inline:
            if ctype == wanted:
                return part_text(part), is_html
    return "", False


_HEADER_PARTS = ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers")
# Where a non-MIME bounce pastes the returned message (qmail, Exim, Sendmail, Domino, ...).
_INLINE_COPY = re.compile(
    r"^[ \t]*-{2,}[ \t]*(.*(copy of|original message|below this line|returned message"
    r"|undelivered message|message headers|original headers|message follows|header of message"
    r"|unsent message|returned mail|headers of the original).*)$"
    r"|^[ \t]*(original message headers|"
    r"headers of the original message|here is a copy of the first part of the message"
    r"|message headers follow)\b.*:?[ \t]*$",
    re.I | re.M,
)
_HEADER_LINE = re.compile(
    r"^[ \t]*(return-path|received|from|to|subject|date|message-id)[ \t]*:", re.I | re.M
)


def _embedded_original(parts: Parts) -> Message | None:
    """Headers of the returned message in a bounce or complaint: an attached message/rfc822
    (or message/global), a headers-only part, or a copy pasted into the notice's text."""
    for ctype, part in parts:
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str) and payload.strip():
                return parse_headers(payload.lstrip())
        elif ctype in _HEADER_PARTS:
            return parse_headers(part_text(part).lstrip())
    return None


def inline_original(text: str) -> tuple[int, Message | None]:
    """Where a pasted original starts in a notice (len(text) if none), and its headers."""
    for match in _INLINE_COPY.finditer(text):
        rest = text[match.end() :]
        header = _HEADER_LINE.search(rest[:2000])
        if header:
            block = "\n".join(line.strip() for line in rest[header.start() :].split("\n")[:80])
            return match.start(), parse_headers(block.split("\n\n", 1)[0] + "\n")
    return len(text), None


# --- the facts rules look at -----------------------------------------------------------------


class Inbound:
    """One message plus the caller's context; derived facts are computed once, when needed."""

    def __init__(
        self,
        msg: Message,
        own_addresses: AbstractSet[str],
        unsubscribe_addresses: AbstractSet[str],
    ) -> None:
        self.msg = msg
        self.own_addresses = frozenset(a.lower() for a in own_addresses)
        self.unsubscribe_addresses = frozenset(a.lower() for a in unsubscribe_addresses)

    def header(self, name: str) -> str:
        return first(self.msg, name)

    def has(self, name: str) -> bool:
        return bool(raw_values(self.msg, name))

    @cached_property
    def from_addr(self) -> str:
        found = addresses(self.msg, "from") or addresses(self.msg, "sender")
        return found[0] if found else ""

    @cached_property
    def from_display(self) -> str:
        pairs = address_pairs(raw_values(self.msg, "from"))
        return decoded(pairs[0][0]) if pairs else ""

    @cached_property
    def subject(self) -> str:
        return decoded(self.header("subject"))

    @cached_property
    def refs(self) -> list[str]:
        return thread_refs(self.msg)

    @cached_property
    def null_return_path(self) -> bool:
        """Return-Path <>: the sender wants no replies (bounces, RFC 3834 responders)."""
        return self.header("return-path").replace(" ", "") == "<>"

    @cached_property
    def precedence(self) -> str:
        return self.header("precedence").strip().lower()

    @cached_property
    def parts(self) -> Parts:
        """Leaf parts with their MIME types, computed once for every rule."""
        return typed_leaves(self.msg)

    @cached_property
    def body(self) -> tuple[str, bool]:
        """The first text body, raw, and whether it is HTML; both text views start from it."""
        return _first_text_body(self.parts)

    @cached_property
    def text(self) -> str:
        """The whole first text body (HTML flattened), quotes included."""
        text, is_html = self.body
        return html_to_text(text) if is_html else text.replace("\r\n", "\n")

    @cached_property
    def reply_text(self) -> str:
        """What the sender wrote: quotes, attributions and signature removed."""
        text, is_html = self.body
        if is_html:
            text = html_to_text(cut_html_quote(text))
        return strip_quoted(text)

    @cached_property
    def original(self) -> Message | None:
        """The returned message's headers: attached, or pasted into the notice."""
        attached = _embedded_original(self.parts)
        return attached if attached is not None else inline_original(self.all_text)[1]

    @cached_property
    def all_text(self) -> str:
        """Every inline text leaf (HTML flattened) joined: bounces split their words over parts."""
        texts: list[str] = []
        for ctype, part in self.parts:
            if ctype == "text/plain" or (ctype == "text/html" and not texts):
                text = part_text(part)
                texts.append(html_to_text(text) if ctype == "text/html" else text)
            if sum(len(t) for t in texts) > 200_000:
                break
        return "\n".join(texts).replace("\r\n", "\n")[:200_000]

    @cached_property
    def notice(self) -> str:
        """The sending server's own words: all text before the pasted original, if any."""
        return self.all_text[: inline_original(self.all_text)[0]]
