"""Prospect values as a rep types them (``--tz``, ``--value``, CSV cells), checked once.

Both ``enroll`` and the CSV import read time zones and deal values through here, so a
value means the same whichever way it came in; a bad one is a ``UserError`` that
names it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sequencer.core.schedule import zone
from sequencer.errors import UserError


def parse_timezone(value: str | None) -> str | None:
    """An IANA zone name or None; UserError names the bad value."""
    if value is None or not value.strip():
        return None
    try:
        zone(value.strip())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return value.strip()


def parse_deal_value(value: str | int | float | Decimal | None) -> Decimal | None:
    """``12000``, ``12,000.50``, ``$12,000``, ``€ 900`` -> Decimal; empty -> None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().replace(",", "").replace("_", "").replace(" ", "")
        if not text:
            return None
        text = text.lstrip("$€£¥")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise UserError(f"deal value {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise UserError(f"deal value {value!r} must be a positive amount below 1e12")
    return amount.quantize(Decimal("0.01"))
