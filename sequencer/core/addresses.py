"""Email addresses: validated once, compared case-insensitively, display kept."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses, parseaddr
from functools import lru_cache

from sequencer.errors import InvalidAddress


def normalize(address: str) -> str:
    """The comparison key of an address: validated and lowercased.

    Raises InvalidAddress with the validator's own explanation. The validator is imported
    here, not at the top: it costs ~40 ms (its IDNA tables), and a tick that validates no
    new address should not pay it.
    """
    from email_validator import EmailNotValidError, validate_email

    raw = parseaddr(address.strip())[1] or address.strip()
    try:
        info = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{address!r} is not a valid email address: {exc}") from None
    return info.normalized.lower()


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def plain(address: str | None) -> str | None:
    """The bare lowercased address from a header value like 'Dana <Dana@X.com>' (no validation)."""
    if not address:
        return None
    addr = parseaddr(address)[1]
    return addr.lower() if addr and "@" in addr else None


_ATOM = r"[A-Za-z0-9_+-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE = re.compile(
    rf"[ \t\r\n]*(?:({_ADDR})|([A-Za-z0-9]+(?:[ \t\r\n]+[A-Za-z0-9]+)*)?[ \t\r\n]*<({_ADDR})>)"
    r"[ \t\r\n]*"
)
MEMO_CHARS = 2000  # longer address lists are parsed every time (never kept in memory)


def _simple_pairs(text: str) -> list[tuple[str, str]] | None:
    """``getaddresses`` of a list of plain ``addr`` / ``Name Words <addr>`` items (ASCII
    words, dot-atoms), or None for anything else: those take the email package's parser.
    Gives exactly what that parser gives for them (tests/core/test_addresses.py)."""
    out: list[tuple[str, str]] = []
    for item in text.split(","):
        found = _SIMPLE.fullmatch(item)
        if found is None:
            return None
        bare, name, routed = found.groups()
        out.append(("", bare) if bare else (" ".join((name or "").split()), routed))
    return out


@lru_cache(maxsize=512)
def _memo_pairs(text: str) -> tuple[tuple[str, str], ...]:
    fast = _simple_pairs(text)
    return tuple(fast if fast is not None else getaddresses([text]))


def address_pairs(values: Iterable[str]) -> list[tuple[str, str]]:
    """``email.utils.getaddresses(values)``, faster: plain lists skip the email package's
    parser (a fifth of classifying a message), and short lists are remembered, since one
    message's From and To are asked for several times and a rep's address is in every To."""
    text = ", ".join(str(v) for v in values)  # what getaddresses itself parses
    if len(text) > MEMO_CHARS:
        return getaddresses([text])
    return list(_memo_pairs(text))

