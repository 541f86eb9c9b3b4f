"""Prospect values as a rep types them (``--tz``, ``--value``, CSV cells), checked once.

Both ``enroll`` and the CSV import read time zones and deal values through here, so a
value means the same whichever way it came in; a bad one is a ``UserError`` that
names it.

Deal values come from spreadsheets in every locale: ``1,200.50`` (English),
``1.200,50`` (German), ``1 200,50`` (French), ``€ 1.200,50``, ``$1,200``, ``1'200.50``
(Swiss). With both separators present the last one is the decimal point; a single
separator followed by other than three digits is the decimal point. ``1,200`` is
twelve hundred (as it always was here, and as every English CRM exports it), but
``1.200`` alone could be 1.2 or 1200: it is refused unless ``decimal`` says which
character is the decimal separator, because a silent factor of 1,000 in a pipeline
is worse than a rejected row.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from sequencer.core.schedule import zone
from sequencer.errors import UserError

_CURRENCY = re.compile(
    r"^(?:[$€£¥₹]|eur|usd|gbp|chf|jpy|cad|aud)|(?:[$€£¥₹]|eur|usd|gbp|chf|jpy|cad|aud)$"
)
_GROUPING_SPACES = re.compile(r"[\s\u00a0\u202f'’_]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def parse_timezone(value: str | None) -> str | None:
    """An IANA zone name or None; UserError names the bad value."""
    if value is None or not value.strip():
        return None
    try:
        zone(value.strip())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return value.strip()


def _plain_number(text: str, decimal: str | None, original: object) -> str:
    """``1.200,50`` -> ``1200.50`` by the rules in the module docstring."""
    if not _NUMBER.fullmatch(text):
        raise UserError(f"deal value {original!r} is not a number")
    if decimal is not None:
        group = "," if decimal == "." else "."
        if text.count(decimal) > 1:
            raise UserError(f"deal value {original!r} has more than one decimal {decimal!r}")
        return text.replace(group, "").replace(decimal, ".")
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        point = "." if text.rfind(".") > text.rfind(",") else ","
        group = "," if point == "." else "."
        if text.count(point) > 1:
            raise UserError(f"deal value {original!r} is not a number")
        return text.replace(group, "").replace(point, ".")
    sep = "." if dots else "," if commas else None
    if sep is None:
        return text
    if text.count(sep) > 1:
        return text.replace(sep, "")  # 1.200.000 / 1,200,000: grouping only
    digits_after = len(text) - text.rfind(sep) - 1
    if digits_after != 3:
        return text.replace(sep, ".")  # 1200,5 / 12.50
    if sep == ",":
        return text.replace(",", "")  # 1,200: twelve hundred
    raise UserError(
        f"deal value {original!r} is ambiguous (1.2 or 1200?); "
        "say which with --decimal . or --decimal ,"
    )


def parse_deal_value(
    value: str | int | float | Decimal | None, decimal: str | None = None
) -> Decimal | None:
    """``12000``, ``12,000.50``, ``1.200,50``, ``$12,000``, ``€ 900`` -> Decimal; empty -> None.

    ``decimal`` (``"."`` or ``","``) fixes the decimal separator for a whole file.
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | float):
        amount = Decimal(str(value))
    else:
        text = _GROUPING_SPACES.sub("", str(value)).lower()
        text = _CURRENCY.sub("", text)
        if not text:
            return None
        try:
            amount = Decimal(_plain_number(text, decimal, value))
        except InvalidOperation:
            raise UserError(f"deal value {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise UserError(f"deal value {value!r} must be a positive amount below 1e12")
    return amount.quantize(Decimal("0.01"))
