"""One CSV row -> a checked ``ImportRow``, or a ``Rejection`` with its reason.

Everything that can be said about a row without the database is said here: a usable
address (not a duplicate of an earlier row), a known time zone, a deal value, and an
owner with a mailbox. What needs the database (suppressions, existing enrollments,
template variables of the merged prospect) is checked per batch in ``batch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from sequencer.config import Config, MailboxConfig
from sequencer.core.addresses import normalize
from sequencer.core.sequences import Sequence
from sequencer.errors import InvalidAddress, NotFound, UserError
from sequencer.people.importing.columns import Column
from sequencer.people.values import parse_deal_value, parse_timezone
from sequencer.project import choose_mailbox

# Rejection reasons (the keys of ImportSummary.rejected), with the guards' codes.
MALFORMED = "malformed_row"
INVALID_ADDRESS = "invalid_address"
DUPLICATE = "duplicate"
BAD_TIMEZONE = "bad_timezone"
BAD_VALUE = "bad_value"
UNKNOWN_OWNER = "unknown_owner"
SUPPRESSED = "suppressed"
MISSING_VARIABLES = "missing_variables"
BAD_CELL = "bad_cell"

# A cell this big is no prospect's data (the csv module's own limit was 128 KiB, and it
# aborted the whole import); NUL bytes are refused by PostgreSQL text columns.
MAX_CELL = 128 * 1024


# Plain addresses (the overwhelming majority of CRM exports) are checked by this
# pattern plus one full validation per distinct domain; anything else (display names,
# quoting, non-ASCII, unusual characters) takes the full ``addresses.normalize`` path.
# The pattern only accepts what email-validator accepts, so both paths agree.
_PLAIN_ADDRESS = re.compile(
    r"(?=.{1,254}$)(?=[^@]{1,64}@)"
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
)


class _AddressChecker:
    """``addresses.normalize`` with a per-domain cache for plain addresses (10x faster)."""

    def __init__(self) -> None:
        self._domains: dict[str, bool] = {}

    def __call__(self, raw: str) -> str:
        m = _PLAIN_ADDRESS.fullmatch(raw)
        if m is not None and "--" not in m.group(1):  # xn-- (IDNA) domains are normalised
            domain = m.group(1).lower()
            ok = self._domains.get(domain)
            if ok is None:
                try:
                    normalize("postmaster@" + domain)
                    ok = True
                except InvalidAddress:
                    ok = False
                if len(self._domains) < 100_000:
                    self._domains[domain] = ok
            if ok:
                return raw.lower()
        return normalize(raw)


@dataclass
class ImportRow:
    """A row that passed every check that needs no database."""

    number: int
    cells: list[str]
    email: str
    display_email: str
    name: str | None
    company: str | None
    owner: str | None
    timezone: str | None
    deal_value: Decimal | None
    fields: dict[str, str]
    mailbox: MailboxConfig


@dataclass(frozen=True)
class Rejection:
    """Why a row is not enrolled: a code (summary key) and a sentence for the rejects file."""

    code: str
    reason: str


class RowChecker:
    """Checks rows in file order; remembers each address's first row to find duplicates.

    The duplicate check keeps one small integer per distinct address (about 100 bytes
    each: some 10 MB for 100,000 rows); time zones and owners are looked up once each.
    """

    def __init__(
        self, config: Config, sequence: Sequence, *, owner: str | None, decimal: str | None = None
    ) -> None:
        self.config = config
        self.decimal = decimal
        self.sequence = sequence
        self.owner = owner
        self._normalize = _AddressChecker()
        self._seen: dict[int, int] = {}  # hash(address) -> first row number
        self._zones: dict[str, str | None] = {}
        self._mailboxes: dict[str | None, MailboxConfig | str] = {}

    def _mailbox(self, owner: str | None) -> MailboxConfig | str:
        if owner not in self._mailboxes:
            try:
                self._mailboxes[owner] = choose_mailbox(self.config, self.sequence, owner)
            except NotFound as exc:
                self._mailboxes[owner] = str(exc)
        return self._mailboxes[owner]

    def _tz(self, value: str) -> str | None:
        if value not in self._zones:
            self._zones[value] = parse_timezone(value)
        return self._zones[value]

    def check(self, number: int, cells: list[str], columns: list[Column]) -> ImportRow | Rejection:
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
            return Rejection(MALFORMED, f"{len(cells)} fields where the header has {len(columns)}")
        for i, cell in enumerate(cells):
            if len(cell) > MAX_CELL:
                return Rejection(
                    BAD_CELL, f"column {i + 1}: cell of {len(cell) // 1024} KiB (limit 128 KiB)"
                )
            if "\x00" in cell:
                return Rejection(BAD_CELL, f"column {i + 1}: contains a NUL byte")
        values: dict[str, str] = {}
        custom: dict[str, str] = {}
        for (kind, key), cell in zip(columns, cells, strict=False):
            text = cell.strip()
            if kind == "field":
                values[key] = text
            elif kind == "custom" and text:
                custom[key] = text
        raw_email = values.get("email", "")
        if not raw_email:
            return Rejection(INVALID_ADDRESS, "no email address")
        try:
            email = self._normalize(raw_email)
        except InvalidAddress as exc:
            return Rejection(INVALID_ADDRESS, str(exc))
        digest = hash(email)
        first = self._seen.get(digest)
        if first is not None:
            return Rejection(DUPLICATE, f"duplicate of row {first} ({email})")
        try:
            tz = self._tz(values.get("timezone", ""))
        except UserError as exc:
            return Rejection(BAD_TIMEZONE, str(exc))
        try:
            deal_value = parse_deal_value(values.get("deal_value"), self.decimal)
        except UserError as exc:
            return Rejection(BAD_VALUE, str(exc))
        owner = values.get("owner") or self.owner
        mailbox = self._mailbox(owner)
        if isinstance(mailbox, str):
            return Rejection(UNKNOWN_OWNER, mailbox)
        name = (
            values.get("name")
            or " ".join(v for v in (values.get("first_name"), values.get("last_name")) if v)
            or None
        )
        for key in ("first_name", "last_name"):
            if values.get(key):
                custom[key] = values[key]
        self._seen[digest] = number
        return ImportRow(
            number=number,
            cells=cells,
            email=email,
            display_email=raw_email,
            name=name,
            company=values.get("company") or None,
            owner=owner,
            timezone=tz,
            deal_value=deal_value,
            fields=custom,
            mailbox=mailbox,
        )
