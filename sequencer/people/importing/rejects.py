"""The rejects file: every row not enrolled, with its row number and reason.

Written beside the input as ``<stem>.rejects.csv``: the original columns plus ``row``
and ``reason``, so a rep can fix it in the spreadsheet and import it as it is. It is
opened at the first rejected row (none is written on a clean run, and a stale one
from an earlier run is removed).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any


def rejects_path_for(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


class RejectsFile:
    """Rejected rows as they come; ``enabled=False`` (a dry run) counts and writes nothing."""

    def __init__(self, path: Path, header: list[str], enabled: bool) -> None:
        self.path = path
        self.header = header
        self.enabled = enabled
        self._file: IO[str] | None = None
        self._writer: Any = None  # a csv writer (its type is private to the csv module)

    def add(self, row_number: int, cells: list[str], reason: str) -> None:
        if not self.enabled:
            return
        if self._writer is None:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file)
            self._writer.writerow([*self.header, "row", "reason"])
        padded = (cells + [""] * len(self.header))[: len(self.header)]
        self._writer.writerow([*padded, row_number, reason])

    def close(self) -> str | None:
        """The path written, or None when no row was rejected."""
        if self._file is not None:
            self._file.close()
            return str(self.path)
        if self.enabled and self.path.exists():
            self.path.unlink()  # a stale rejects file from an earlier run would mislead
        return None
