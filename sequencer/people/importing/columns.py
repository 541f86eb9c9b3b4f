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

# Header names (normalised) per prospect field, with the headers of the exports reps
# bring: Outlook (``E-mail Address``, ``Company``), Google Contacts (``E-mail 1 -
# Value``, ``Given Name``, ``Organization 1 - Name``), HubSpot (``Email``, ``Company
# Name``, ``Contact owner``, ``Amount``), Salesforce (``Account Name``, ``Contact
# Owner``), Pipedrive (``Person - Email``, ``Organization - Name``, ``Deal - Value``)
# and LinkedIn (``Email Address``, ``Company``).
COLUMN_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "email",
            "e_mail",
            "email_address",
            "e_mail_address",
            "mail",
            "emailaddress",
            "e_mail_1_value",
            "email_1_value",
            "primary_email",
            "work_email",
            "person_email",
            "email_work",
            "business_email",
            "e_mail_1_address",
        ),
        "email",
    ),
    **dict.fromkeys(
        ("name", "full_name", "contact_name", "fullname", "person_name", "display_name"), "name"
    ),
    **dict.fromkeys(
        ("first_name", "firstname", "first", "given_name", "person_first_name"), "first_name"
    ),
    **dict.fromkeys(
        ("last_name", "lastname", "last", "surname", "family_name", "person_last_name"),
        "last_name",
    ),
    **dict.fromkeys(
        (
            "company",
            "company_name",
            "organization",
            "organisation",
            "account",
            "account_name",
            "organization_1_name",
            "organization_name",
            "organisation_name",
            "associated_company",
            "person_organization",
            "org_name",
        ),
        "company",
    ),
    **dict.fromkeys(
        (
            "owner",
            "rep",
            "sales_rep",
            "owner_name",
            "contact_owner",
            "lead_owner",
            "account_owner",
            "person_owner",
            "deal_owner",
        ),
        "owner",
    ),
    **dict.fromkeys(("timezone", "tz", "time_zone", "ip_timezone"), "timezone"),
    **dict.fromkeys(
        ("deal_value", "value", "amount", "deal_amount", "deal_value_", "opportunity_amount"),
        "deal_value",
    ),
}
# Excel users in other locales type the headers in their language.
COLUMN_ALIASES.update(
    {
        **dict.fromkeys(("vorname", "prenom", "nombre", "nome"), "first_name"),
        **dict.fromkeys(("nachname", "nom", "apellido", "apellidos", "cognome"), "last_name"),
        **dict.fromkeys(("firma", "unternehmen", "societe", "entreprise", "empresa"), "company"),
        **dict.fromkeys(("betrag", "wert", "montant", "importe", "valor", "valore"), "deal_value"),
        **dict.fromkeys(("zeitzone", "fuseau_horaire", "zona_horaria"), "timezone"),
    }
)
FIELDS = frozenset(COLUMN_ALIASES.values())
IGNORE = "-"
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


def parse_mapping(pairs: list[str], source: str = "--map") -> dict[str, str]:
    """``COLUMN=field`` pairs (``--map`` or lines of a mapping file) -> {column key: field}.

    ``field`` is a prospect field (``email``, ``deal_value``, ...), a custom field name,
    or ``-`` to ignore the column.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        if not pair.strip() or pair.lstrip().startswith("#"):
            continue
        column, sep, target = pair.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise UserError(f"{source}: {pair!r} is not COLUMN=field")
        target = target.strip()
        out[column_key(column)] = target if target == IGNORE else column_key(target)
    return out


def read_mapping_file(path: Path) -> dict[str, str]:
    """A saved mapping: one ``COLUMN=field`` per line, ``#`` comments."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the mapping file ({exc.strerror})") from None
    return parse_mapping(lines, str(path))


def map_columns(
    header: list[str], path: Path, mapping: dict[str, str] | None = None
) -> list[Column]:
    """One Column per header cell; UserError for no email column or two columns meaning one field.

    ``mapping`` (from ``--map``) wins over the built-in synonyms.
    """
    mapping = mapping or {}
    keys = [column_key(h) for h in header]
    if len(keys) >= 2 and keys[-2:] == ["row", "reason"]:
        keys = keys[:-2]  # a rejects file being re-imported
    columns: list[Column] = []
    seen: dict[str, str] = {}
    for i, (raw, key) in enumerate(zip(header, keys, strict=False)):
        mapped = mapping.get(key)
        if mapped == IGNORE:
            columns.append(Column("ignore", ""))
            continue
        target = COLUMN_ALIASES.get(mapped or key)
        name = target or mapped or key or f"column_{i + 1}"
        if name in seen and target and name != "email" and not mapped and key not in seen:
            # A second synonym (HubSpot's "Associated Company" beside "Company Name"):
            # the first column keeps the field, this one is kept as a custom field. Two
            # address columns stay an error: sending to the wrong one is not a detail.
            target, name = None, key
        if name in seen:
            raise UserError(
                f"{path}: row 1: columns {seen[name]!r} and {raw!r} both mean {name!r}; "
                f"map one elsewhere, e.g. --map {raw!r}=- to ignore it"
            )
        seen[name] = raw
        columns.append(Column("field" if target else "custom", name))
    columns += [Column("ignore", "")] * (len(header) - len(keys))
    if "email" not in seen:
        raise UserError(
            f"{path}: row 1: no email column (the header has: {', '.join(header) or 'nothing'}); "
            "name one column 'email' or map one, e.g. --map 'Work Mail=email'"
        )
    return columns
