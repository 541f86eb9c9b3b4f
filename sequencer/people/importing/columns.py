"""Which column means what: header cells -> prospect fields, custom fields or nothing.

Header names are compared normalised (lowercase, runs of other characters -> "_"), so
``E-mail``, ``Email Address`` and ``email`` are one column; any column that names no
prospect field becomes a custom field named after its header ("Quote Number" ->
``quote_number``), which templates use as ``{{ quote_number }}``. A trailing
``row, reason`` pair (a rejects file being re-imported) is ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, NamedTuple

from sequencer.errors import UserError

# Header names (normalised) per prospect field.
COLUMN_ALIASES: dict[str, str] = {
    **dict.fromkeys(("email", "e_mail", "email_address", "mail", "emailaddress"), "email"),
    **dict.fromkeys(("name", "full_name", "contact_name", "fullname"), "name"),
    **dict.fromkeys(("first_name", "firstname", "first", "given_name"), "first_name"),
    **dict.fromkeys(("last_name", "lastname", "last", "surname", "family_name"), "last_name"),
    **dict.fromkeys(
        ("company", "company_name", "organization", "organisation", "account", "account_name"),
        "company",
    ),
    **dict.fromkeys(("owner", "rep", "sales_rep", "owner_name"), "owner"),
    **dict.fromkeys(("timezone", "tz", "time_zone"), "timezone"),
    **dict.fromkeys(("deal_value", "value", "amount", "deal_amount"), "deal_value"),
}
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def column_key(header: str) -> str:
    """``"Quote Number"`` -> ``quote_number``: how a column is named in templates."""
    return _NOT_WORD.sub("_", header.strip().lower()).strip("_")


class Column(NamedTuple):
    """What one header cell means: a prospect ``field``, a ``custom`` field, or ``ignore``.

    A tuple, so the per-cell loop of a 100,000-row import unpacks it cheaply.
    """

    kind: Literal["field", "custom", "ignore"]
    name: str


def map_columns(header: list[str], path: Path) -> list[Column]:
    """One Column per header cell; UserError for no email column or two columns meaning one field."""
    keys = [column_key(h) for h in header]
    if len(keys) >= 2 and keys[-2:] == ["row", "reason"]:
        keys = keys[:-2]  # a rejects file being re-imported
    columns: list[Column] = []
    seen: dict[str, str] = {}
    for i, (raw, key) in enumerate(zip(header, keys, strict=False)):
        target = COLUMN_ALIASES.get(key)
        name = target or key or f"column_{i + 1}"
        if name in seen:
            raise UserError(f"{path}: row 1: columns {seen[name]!r} and {raw!r} both mean {name!r}")
        seen[name] = raw
        columns.append(Column("field" if target else "custom", name))
    columns += [Column("ignore", "")] * (len(header) - len(keys))
    if "email" not in seen:
        raise UserError(
            f"{path}: row 1: no email column (the header has: {', '.join(header) or 'nothing'}); "
            "name one column 'email'"
        )
    return columns
