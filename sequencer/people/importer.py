"""Streaming CSV import: many prospects into one sequence, bad rows set aside.

The file is read record by record (``csv`` over a UTF-8 text stream; a BOM, quoted
fields with commas or newlines, and CRLF line ends are all fine) and handled in
batches of ``batch_size`` rows, one transaction each, with one bulk lookup per
table per batch. Memory therefore stays flat whatever the file size, except for
the in-file duplicate check, which keeps one small integer per distinct address
(about 100 bytes each: some 10 MB for 100,000 rows).

Row numbers: the header is row 1 and each following CSV record is the next row, so
row N is the spreadsheet's row N unless a quoted cell spans several lines.

Every row that is not enrolled is written, with its row number and reason, to
``<stem>.rejects.csv`` beside the input: the original columns plus ``row`` and
``reason``. A trailing ``row, reason`` column pair in an input is ignored, so a
fixed rejects file imports as it is. The one exception is a row already open in the
same sequence: it is "skipped" (counted, not rejected), which is what makes
re-running an import harmless. Batches commit as they go; an interrupted import is
finished by running it again.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.exc import IntegrityError

from sequencer.config import Config, MailboxConfig
from sequencer.core import lifecycle
from sequencer.core.addresses import normalize
from sequencer.core.planning import template_prospect
from sequencer.core.sequences import Sequence
from sequencer.db import prospects as q
from sequencer.errors import InvalidAddress, NotFound, UserError
from sequencer.people.enroll import (
    ALREADY_ENROLLED,
    enrollment_guard,
    missing_variables,
    new_token,
    parse_deal_value,
    parse_timezone,
    require_sequence,
    sequence_required_variables,
)
from sequencer.project import TouchPlanner, choose_mailbox, prospect_zone

BATCH_SIZE = 500

# Rejection reasons (the keys of ImportSummary.rejected).
MALFORMED = "malformed_row"
INVALID_ADDRESS = "invalid_address"
DUPLICATE = "duplicate"
BAD_TIMEZONE = "bad_timezone"
BAD_VALUE = "bad_value"
UNKNOWN_OWNER = "unknown_owner"
SUPPRESSED = "suppressed"
MISSING_VARIABLES = "missing_variables"

# Header names (normalised: lowercase, runs of other characters -> "_") per prospect field.
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


def column_key(header: str) -> str:
    """``"Quote Number"`` -> ``quote_number``: how a column is named in templates."""
    return _NOT_WORD.sub("_", header.strip().lower()).strip("_")


@dataclass
class ImportSummary:
    """What an import did. ``rejected``/``skipped`` map reason codes to row counts."""

    path: str
    sequence_id: str
    dry_run: bool
    rows: int = 0
    enrolled: int = 0
    created: int = 0
    updated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    rejects_path: str | None = None
    custom_fields: list[str] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


@dataclass
class _Row:
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


@dataclass
class _BatchOutcome:
    """What one batch did; applied to the totals only after its transaction commits."""

    rejects: list[tuple[_Row, str, str]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    created: int = 0
    updated: int = 0
    enrolled: int = 0

    def reject(self, r: _Row, code: str, reason: str) -> None:
        self.rejects.append((r, code, reason))


class _CountingRaw(io.RawIOBase):
    """Counts bytes read, so the progress bar can show how far through the file we are."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer) or 0
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Rejects:
    """The rejects CSV, opened at the first rejected row (none written on a clean run)."""

    def __init__(self, path: Path, header: list[str], enabled: bool) -> None:
        self.path = path
        self.header = header
        self.enabled = enabled
        self._file: Any = None
        self._writer: Any = None
        self.count = 0

    def add(self, row_number: int, cells: list[str], reason: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self._writer is None:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file)
            self._writer.writerow([*self.header, "row", "reason"])
        padded = (cells + [""] * len(self.header))[: len(self.header)]
        self._writer.writerow([*padded, row_number, reason])

    def close(self) -> str | None:
        if self._file is not None:
            self._file.close()
            return str(self.path)
        if self.enabled and self.path.exists():
            self.path.unlink()  # a stale rejects file from an earlier run would mislead
        return None


def rejects_path_for(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


class _Importer:
    def __init__(
        self,
        db: Any,
        config: Config,
        sequence: Sequence,
        *,
        owner: str | None,
        dry_run: bool,
        allow_parallel: bool,
        now: datetime,
        actor: str,
        source_name: str,
    ) -> None:
        self.db = db
        self.config = config
        self.sequence = sequence
        self.owner = owner
        self.dry_run = dry_run
        self.allow_parallel = allow_parallel
        self.now = now
        self.actor = actor
        self.source_name = source_name
        self.planner = TouchPlanner(config, sequence)
        self.required = sequence_required_variables(config, sequence)
        self.normalize = _AddressChecker()
        self.seen: dict[int, int] = {}  # hash(address) -> first row number
        self.tz_ok: dict[str, str | None] = {}
        self.mailboxes: dict[str | None, MailboxConfig | str] = {}
        self.skipped: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.enrolled = self.created = self.updated = 0
        self.batches = 0

    # -- per-row validation (no database) ---------------------------------------------

    def _mailbox(self, owner: str | None) -> MailboxConfig | str:
        if owner not in self.mailboxes:
            try:
                self.mailboxes[owner] = choose_mailbox(self.config, self.sequence, owner)
            except NotFound as exc:
                self.mailboxes[owner] = str(exc)
        return self.mailboxes[owner]

    def _tz(self, value: str) -> str | None:
        if value not in self.tz_ok:
            self.tz_ok[value] = parse_timezone(value)
        return self.tz_ok[value]

    def parse(
        self, number: int, cells: list[str], columns: list[tuple[str, str]], rejects: _Rejects
    ) -> _Row | None:
        def reject(code: str, reason: str) -> None:
            self.rejected[code] += 1
            rejects.add(number, cells, reason)

        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
            reject(MALFORMED, f"{len(cells)} fields where the header has {len(columns)}")
            return None
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
            reject(INVALID_ADDRESS, "no email address")
            return None
        try:
            email = self.normalize(raw_email)
        except InvalidAddress as exc:
            reject(INVALID_ADDRESS, str(exc))
            return None
        digest = hash(email)
        first = self.seen.get(digest)
        if first is not None:
            reject(DUPLICATE, f"duplicate of row {first} ({email})")
            return None
        try:
            tz = self._tz(values.get("timezone", ""))
        except UserError as exc:
            reject(BAD_TIMEZONE, str(exc))
            return None
        try:
            deal_value = parse_deal_value(values.get("deal_value"))
        except UserError as exc:
            reject(BAD_VALUE, str(exc))
            return None
        owner = values.get("owner") or self.owner
        mailbox = self._mailbox(owner)
        if isinstance(mailbox, str):
            reject(UNKNOWN_OWNER, mailbox)
            return None
        name = (
            values.get("name")
            or " ".join(v for v in (values.get("first_name"), values.get("last_name")) if v)
            or None
        )
        for key in ("first_name", "last_name"):
            if values.get(key):
                custom[key] = values[key]
        self.seen[digest] = number
        return _Row(
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

    # -- per-batch database work ------------------------------------------------------

    def flush(self, batch: list[_Row], rejects: _Rejects) -> None:
        """Write one batch in one transaction; counts and rejects apply only once it commits.

        A concurrent import (or enroll) can insert the same address between our lookup
        and our insert; the unique constraint then fails the batch, and it is redone
        once, this time seeing the other writer's rows.
        """
        if not batch:
            return
        try:
            outcome = self._write(batch)
        except IntegrityError:
            outcome = self._write(batch)
        for r, code, reason in outcome.rejects:
            self.rejected[code] += 1
            rejects.add(r.number, r.cells, reason)
        self.skipped.update(outcome.skipped)
        self.created += outcome.created
        self.updated += outcome.updated
        self.enrolled += outcome.enrolled
        self.batches += 1
        if not self.dry_run and self.batches & (self.batches - 1) == 0:  # batch 1, 2, 4, 8, ...
            with self.db.session() as s:
                q.refresh_planner_statistics(s)

    def _write(self, batch: list[_Row]) -> _BatchOutcome:
        out = _BatchOutcome()
        with self.db.session() as s:
            emails = [r.email for r in batch]
            existing = q.prospects_by_emails(s, emails)
            suppressed = q.suppressions_among(s, emails)
            by_prospect: dict[int, list[q.EnrollmentBrief]] = defaultdict(list)
            for brief in q.enrollments_of_prospects(s, [p.id for p in existing.values()]):
                by_prospect[brief.prospect_id].append(brief)
            new_prospects: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            to_enroll: list[_Row] = []
            for r in batch:
                hit = suppressed.get(r.email)
                if hit is not None:
                    out.reject(r, SUPPRESSED, f"suppressed ({hit.kind} {hit.value}: {hit.reason})")
                    continue
                p = existing.get(r.email)
                merged = self._merged(r, p)
                missing = missing_variables(self.required, template_prospect(**merged))
                if missing:
                    out.reject(
                        r,
                        MISSING_VARIABLES,
                        f"missing required template variable(s): {', '.join(sorted(missing))}",
                    )
                    continue
                verdict = enrollment_guard(
                    self.sequence.id,
                    by_prospect.get(p.id, []) if p else [],
                    allow_parallel=self.allow_parallel,
                    force=False,
                )
                if verdict is not None and verdict.code != ALREADY_ENROLLED:
                    out.reject(r, verdict.code, verdict.message)
                    continue
                if p is None:
                    new_prospects.append(self._new_prospect(r))
                    out.created += 1
                else:
                    change = self._update(p, merged)
                    if change:
                        updates.append(change)
                        out.updated += 1
                if verdict is not None:
                    out.skipped[verdict.code] += 1
                    continue
                to_enroll.append(r)
            out.enrolled = len(to_enroll)
            if self.dry_run:
                s.rollback()
                return out
            q.update_prospects(s, updates)
            ids = {p.email: p.id for p in existing.values()}
            ids.update(q.insert_prospects(s, new_prospects))
            enrollments, tokens = [], []
            for r in to_enroll:
                token = new_token()
                tokens.append(token)
                enrollments.append(self._enrollment(r, ids[r.email], token, existing.get(r.email)))
            enrollment_ids = q.insert_enrollments(s, enrollments)
            q.insert_events(
                s,
                [
                    {
                        "at": self.now,
                        "enrollment_id": enrollment_ids[token],
                        "prospect_id": e["prospect_id"],
                        "kind": "enrolled",
                        "actor": self.actor,
                        "reason": f"enrolled in {self.sequence.id}",
                        "step": 1,
                        "data": {
                            "sequence": self.sequence.id,
                            "mailbox": e["mailbox"],
                            "source": "import",
                            "file": self.source_name,
                            "row": r.number,
                            "next_send_at": e["next_send_at"].isoformat(),
                        },
                    }
                    for r, token, e in zip(to_enroll, tokens, enrollments, strict=True)
                ],
            )
        return out

    @staticmethod
    def _merged(r: _Row, p: Any) -> dict[str, Any]:
        """The prospect as it will be after this row: stored values, row values on top."""
        if p is None:
            return {
                "email": r.email,
                "name": r.name,
                "company": r.company,
                "owner": r.owner,
                "timezone": r.timezone,
                "deal_value": r.deal_value,
                "fields": r.fields,
            }
        return {
            "email": p.email,
            "name": r.name or p.name,
            "company": r.company or p.company,
            "owner": r.owner or p.owner,
            "timezone": r.timezone or p.timezone,
            "deal_value": r.deal_value if r.deal_value is not None else p.deal_value,
            "fields": {**(p.fields or {}), **r.fields},
        }

    def _new_prospect(self, r: _Row) -> dict[str, Any]:
        return {
            "email": r.email,
            "display_email": r.display_email,
            "name": r.name,
            "company": r.company,
            "owner": r.owner,
            "timezone": r.timezone,
            "deal_value": r.deal_value,
            "fields": r.fields,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _update(self, p: Any, merged: Mapping[str, Any]) -> dict[str, Any] | None:
        keys = ("name", "company", "owner", "timezone", "deal_value", "fields")
        if all(getattr(p, k) == merged[k] for k in keys):
            return None
        return {"id": p.id, **{k: merged[k] for k in keys}, "updated_at": self.now}

    def _enrollment(self, r: _Row, prospect_id: int, token: str, p: Any) -> dict[str, Any]:
        tz_name = prospect_zone(
            self.config, self.sequence, r.mailbox, r.timezone or (p.timezone if p else None)
        )
        next_send_at = self.planner.first_touch(
            base=self.now, now=self.now, tz_name=tz_name, mailbox=r.mailbox
        )
        return {
            "prospect_id": prospect_id,
            "sequence_id": self.sequence.id,
            "mailbox": r.mailbox.name,
            "owner": r.owner or (p.owner if p else None) or r.mailbox.rep,
            "status": lifecycle.ACTIVE,
            "status_reason": "enrolled",
            "status_changed_at": self.now,
            "steps_done": 0,
            "total_steps": self.sequence.total_steps,
            "next_send_at": next_send_at,
            "retry_count": 0,
            "token": token,
            "thread_refs": [],
            "enrolled_at": self.now,
            "source": "import",
        }


def _columns(header: list[str], path: Path) -> list[tuple[str, str]]:
    """Per header cell: ("field", prospect field) | ("custom", key) | ("ignore", "")."""
    keys = [column_key(h) for h in header]
    if len(keys) >= 2 and keys[-2:] == ["row", "reason"]:
        keys = keys[:-2]  # a rejects file being re-imported
    columns: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for i, (raw, key) in enumerate(zip(header, keys, strict=False)):
        target = COLUMN_ALIASES.get(key)
        kind = "field" if target else "custom"
        name = target or key or f"column_{i + 1}"
        if name in seen:
            raise UserError(f"{path}: row 1: columns {seen[name]!r} and {raw!r} both mean {name!r}")
        seen[name] = raw
        columns.append((kind, name))
    columns += [("ignore", "")] * (len(header) - len(keys))
    if "email" not in seen:
        raise UserError(
            f"{path}: row 1: no email column (the header has: {', '.join(header) or 'nothing'}); "
            "name one column 'email'"
        )
    return columns


def _records(text: io.TextIOBase, path: Path) -> Iterator[list[str]]:
    try:
        yield from csv.reader(text, strict=False)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file: {exc}") from None


def import_csv(
    db: Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    path: str | Path,
    *,
    sequence_id: str,
    now: datetime,
    owner: str | None = None,
    dry_run: bool = False,
    allow_parallel: bool = False,
    actor: str = "cli",
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a CSV of prospects into one sequence; see the module docstring for the rules.

    ``db`` is a Database (each batch is its own transaction). ``progress(bytes_read,
    total_bytes)`` is called after every batch. ``--owner`` is the default owner for
    rows whose owner cell is empty.
    """
    sequence = require_sequence(sequences, sequence_id)
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: file not found")
    total = os.path.getsize(source)
    # A fixed mailbox or --owner that matches no mailbox would reject every row: say it once.
    choose_mailbox(config, sequence, owner)
    importer = _Importer(
        db,
        config,
        sequence,
        owner=owner,
        dry_run=dry_run,
        allow_parallel=allow_parallel,
        now=now,
        actor=actor,
        source_name=source.name,
    )
    summary = ImportSummary(path=str(source), sequence_id=sequence.id, dry_run=dry_run)
    counting = _CountingRaw(open(source, "rb", buffering=0))  # noqa: SIM115
    with io.TextIOWrapper(
        io.BufferedReader(counting, 1 << 16), encoding="utf-8-sig", newline=""
    ) as text:
        records = _records(text, source)
        header = next(records, None)
        if header is None:
            raise UserError(
                f"{source}: the file is empty (expected a header row with an email column)"
            )
        columns = _columns(header, source)
        summary.custom_fields = [k for kind, k in columns if kind == "custom"]
        rejects = _Rejects(rejects_path_for(source), header, enabled=not dry_run)
        try:
            batch: list[_Row] = []
            number = 1
            for cells in records:
                number += 1
                if not cells or not any(c.strip() for c in cells):
                    continue  # blank line
                summary.rows += 1
                row = importer.parse(number, cells, columns, rejects)
                if row is not None:
                    batch.append(row)
                if len(batch) >= batch_size:
                    importer.flush(batch, rejects)
                    batch = []
                    if progress:
                        progress(counting.count, total)
            importer.flush(batch, rejects)
            if progress:
                progress(total, total)
        finally:
            summary.rejects_path = rejects.close()
    summary.enrolled = importer.enrolled
    summary.created = importer.created
    summary.updated = importer.updated
    summary.skipped = dict(importer.skipped)
    summary.rejected = dict(importer.rejected)
    return summary
