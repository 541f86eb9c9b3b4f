"""``import_csv``: stream a file through the row checks and the batch writer, and tally.

Rows are checked in file order (``rows``) and written ``batch_size`` at a time
(``batch``), each batch its own transaction; every row that is not enrolled goes to
the rejects file (``rejects``) with its row number and reason. Batches commit as they
go: an interrupted import is finished by running it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sequencer.config import Config
from sequencer.core.sequences import Sequence
from sequencer.db.session import Database
from sequencer.errors import UserError
from sequencer.people.enroll import require_sequence
from sequencer.people.importing.batch import BatchOutcome, BatchWriter
from sequencer.people.importing.columns import map_columns
from sequencer.people.importing.rejects import RejectsFile, rejects_path_for
from sequencer.people.importing.rows import ImportRow, Rejection, RowChecker
from sequencer.people.importing.source import open_csv
from sequencer.project import choose_mailbox

BATCH_SIZE = 500


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
    encoding: str = ""
    delimiter: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # header cell -> field ("" = ignored)
    preview: list[dict[str, object]] = field(default_factory=list)  # first rows as parsed

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class _Tally:
    """Running totals; a batch's counts are added only after it has committed."""

    def __init__(self, rejects: RejectsFile) -> None:
        self.rejects = rejects
        self.skipped: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.enrolled = self.created = self.updated = 0

    def reject(self, number: int, cells: list[str], rejection: Rejection) -> None:
        self.rejected[rejection.code] += 1
        self.rejects.add(number, cells, rejection.reason)

    def add(self, outcome: BatchOutcome) -> None:
        for r, rejection in outcome.rejects:
            self.reject(r.number, r.cells, rejection)
        self.skipped.update(outcome.skipped)
        self.created += outcome.created
        self.updated += outcome.updated
        self.enrolled += outcome.enrolled


def import_csv(
    db: Database,
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
    progress: Callable[[int, int, int], None] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    decimal: str | None = None,
    preview_rows: int = 5,
) -> ImportSummary:
    """Import a CSV of prospects into one sequence (rules: ``sequencer.people.importing``).

    Who commits: each batch of ``batch_size`` rows is its own transaction on ``db``,
    committed as the import goes (a dry run commits nothing). ``progress(rows,
    bytes_read, total_bytes)`` is called after every batch. ``owner`` is the default
    owner for rows whose owner cell is empty. ``encoding``/``delimiter`` override the
    detection (``source``), ``mapping`` ({column: field}) the header synonyms
    (``columns``), ``decimal`` the guess of the deal values' decimal separator
    (``sequencer.people.values``). The first ``preview_rows`` good rows are kept, as
    parsed, in ``ImportSummary.preview`` (what ``import --dry-run`` shows).
    """
    if decimal not in (None, ".", ","):
        raise UserError(f"--decimal {decimal!r}: '.' or ','")
    sequence = require_sequence(sequences, sequence_id)
    source_path = Path(path)
    if not source_path.is_file():
        raise UserError(f"{source_path}: file not found")
    # A fixed mailbox or --owner that matches no mailbox would reject every row: say it once.
    choose_mailbox(config, sequence, owner)
    checker = RowChecker(config, sequence, owner=owner, decimal=decimal)
    writer = BatchWriter(
        db,
        config,
        sequence,
        dry_run=dry_run,
        allow_parallel=allow_parallel,
        now=now,
        actor=actor,
        source_name=source_path.name,
    )
    summary = ImportSummary(path=str(source_path), sequence_id=sequence.id, dry_run=dry_run)
    with open_csv(source_path, encoding=encoding, delimiter=delimiter) as source:
        columns = map_columns(source.header, source_path, mapping)
        summary.custom_fields = [name for kind, name in columns if kind == "custom"]
        summary.encoding, summary.delimiter = source.encoding, source.delimiter
        summary.columns = {h: c.name for h, c in zip(source.header, columns, strict=False)}
        tally = _Tally(RejectsFile(rejects_path_for(source_path), source.header, not dry_run))
        try:
            batch: list[ImportRow] = []
            number = 1
            for cells in source.records:
                number += 1
                if not cells or not any(c.strip() for c in cells):
                    continue  # blank line
                summary.rows += 1
                row = checker.check(number, cells, columns)
                if isinstance(row, Rejection):
                    tally.reject(number, cells, row)
                    continue
                if len(summary.preview) < preview_rows:
                    summary.preview.append(_as_parsed(row))
                batch.append(row)
                if len(batch) >= batch_size:
                    tally.add(writer.write(batch))
                    batch = []
                    if progress:
                        progress(summary.rows, source.bytes_read, source.size)
            tally.add(writer.write(batch))
            if progress:
                progress(summary.rows, source.size, source.size)
        finally:
            summary.rejects_path = tally.rejects.close()
    summary.enrolled = tally.enrolled
    summary.created = tally.created
    summary.updated = tally.updated
    summary.skipped = dict(tally.skipped)
    summary.rejected = dict(tally.rejected)
    return summary


def _as_parsed(r: ImportRow) -> dict[str, object]:
    return {
        "row": r.number,
        "email": r.email,
        "name": r.name,
        "company": r.company,
        "owner": r.owner,
        "mailbox": r.mailbox.name,
        "timezone": r.timezone,
        "deal_value": r.deal_value,
        "fields": r.fields,
    }
