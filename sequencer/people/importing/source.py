"""Reading the CSV file: records streamed from disk, with how far through it we are.

Spreadsheets arrive in whatever their tool saved: Excel in a German locale writes
``;``-separated cp1252, Excel's "Unicode text" is tab-separated UTF-16, Google and
CRMs write UTF-8 with or without a BOM. So the encoding is detected (a BOM names it;
otherwise the whole file is checked as UTF-8 in one streaming pass, and anything else
is read as cp1252, whose gaps fall back to latin-1) and the delimiter is sniffed from
the header line (the most frequent of ``, ; tab |`` outside quotes); ``encoding`` and
``delimiter`` override both. The file is then read record by record, so memory stays
flat whatever its size. Record N (the header is 1) is the spreadsheet's row N unless
a quoted cell spans several lines.

Cells are read whatever their size (the csv module's 128 KiB limit would abort the
whole import at one oversized cell); ``rows`` rejects such a row alone.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sequencer.errors import UserError

DELIMITERS = (",", ";", "\t", "|")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class _CountingRaw(io.RawIOBase):
    """Counts bytes read, so progress can say how far through the file we are."""

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
    encoding: str
    delimiter: str
    _counter: _CountingRaw

    @property
    def bytes_read(self) -> int:
        return self._counter.count


def _latin1_gap(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("latin1-gap", _latin1_gap)


def detect_encoding(path: Path) -> str:
    """``utf-8-sig``, ``utf-16`` (by BOM), ``utf-8`` when every byte decodes, else ``cp1252``."""
    with path.open("rb") as f:
        head = f.read(4)
        for bom, name in _BOMS:
            if head.startswith(bom):
                return name
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def sniff_delimiter(line: str) -> str:
    """The most frequent of ``, ; tab |`` outside quotes in the header line (``,`` on a tie)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _records(text: io.TextIOBase, path: Path, delimiter: str) -> Iterator[list[str]]:
    try:
        yield from csv.reader(text, delimiter=delimiter, strict=False)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not {exc.encoding} text ({exc.reason} at byte {exc.start}); "
            "say which with --encoding (e.g. --encoding cp1252)"
        ) from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file: {exc}") from None


def _text_stream(counting: _CountingRaw, encoding: str) -> io.TextIOWrapper:
    buffered = io.BufferedReader(counting, 1 << 16)
    if encoding == "cp1252":
        return io.TextIOWrapper(buffered, encoding="cp1252", errors="latin1-gap", newline="")
    return io.TextIOWrapper(buffered, encoding=encoding, newline="")


@contextmanager
def open_csv(
    path: Path, *, encoding: str | None = None, delimiter: str | None = None
) -> Iterator[CsvSource]:
    """An existing file opened for streaming; UserError when it is empty or unreadable."""
    csv.field_size_limit(1 << 30)  # rows.MAX_CELL rejects big cells one row at a time
    size = path.stat().st_size
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise UserError(f"--encoding {encoding!r}: unknown encoding") from None
        if encoding == "utf-8" and path.open("rb").read(3) == codecs.BOM_UTF8:
            encoding = "utf-8-sig"
    else:
        encoding = detect_encoding(path)
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UserError(f"--delimiter {delimiter!r}: one character (or 'tab')")
    counting = _CountingRaw(open(path, "rb", buffering=0))  # noqa: SIM115
    with _text_stream(counting, encoding) as text:
        try:
            first = text.readline()
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not {encoding} text ({exc.reason}); try --encoding") from None
        delimiter = delimiter or sniff_delimiter(first)
        records = _records(_Chain(first, text), path, delimiter)
        header = next(records, None)
        if header is None:
            raise UserError(
                f"{path}: the file is empty (expected a header row with an email column)"
            )
        yield CsvSource(path, size, header, records, encoding, delimiter, counting)


class _Chain(io.TextIOBase):
    """The header line already read for sniffing, then the rest of the stream."""

    def __init__(self, first: str, rest: io.TextIOBase) -> None:
        self._first: str | None = first
        self._rest = rest

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._first is not None:
            line, self._first = self._first, None
            if line:
                return line
        line = self._rest.readline()
        if not line:
            raise StopIteration
        return line
