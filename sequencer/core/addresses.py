"""Email addresses: validated once, compared case-insensitively, display kept."""

from __future__ import annotations

from email.utils import parseaddr

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
