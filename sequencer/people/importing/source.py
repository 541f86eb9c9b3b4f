"""Reading the CSV file: records streamed from disk, with how far through it we are.

The file is read record by record (``csv`` over a UTF-8 text stream; a BOM, quoted
fields with commas or newlines, and CRLF line ends are all fine), so memory stays
flat whatever its size. A file that is not UTF-8 or not CSV is a ``UserError`` naming
it. Record N (the header is 1) is the spreadsheet's row N unless a quoted cell spans
several lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sequencer.errors import UserError


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


@dataclass
class CsvSource:
    """An open CSV file: its header, its remaining records, and the bytes read so far."""

    path: Path
    size: int
    header: list[str]
    records: Iterator[list[str]]
    _counter: _CountingRaw

    @property
    def bytes_read(self) -> int:
        return self._counter.count


def _records(text: io.TextIOBase, path: Path) -> Iterator[list[str]]:
    try:
        yield from csv.reader(text, strict=False)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file: {exc}") from None


@contextmanager
def open_csv(path: Path) -> Iterator[CsvSource]:
    """An existing file opened for streaming; UserError when it is empty or unreadable."""
    size = path.stat().st_size
    counting = _CountingRaw(open(path, "rb", buffering=0))  # noqa: SIM115
    with io.TextIOWrapper(
        io.BufferedReader(counting, 1 << 16), encoding="utf-8-sig", newline=""
    ) as text:
        records = _records(text, path)
        header = next(records, None)
        if header is None:
            raise UserError(
                f"{path}: the file is empty (expected a header row with an email column)"
            )
        yield CsvSource(path, size, header, records, counting)
