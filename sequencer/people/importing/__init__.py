"""Streaming CSV import: many prospects into one sequence, bad rows set aside.

The file is read record by record (``source``) and handled in batches, one
transaction each, with one bulk lookup per table per batch (``batch``). Memory
therefore stays flat whatever the file size, except for the in-file duplicate check
(``rows``), which keeps one small integer per distinct address.

Columns are matched by header (``columns``). Row numbers: the header is row 1 and each
following CSV record is the next row, so row N is the spreadsheet's row N unless a
quoted cell spans several lines.

Every row that is not enrolled is written, with its row number and reason, to
``<stem>.rejects.csv`` beside the input (``rejects``): the original columns plus
``row`` and ``reason``. A trailing ``row, reason`` column pair in an input is ignored,
so a fixed rejects file imports as it is. The one exception is a row already open in
the same sequence: it is "skipped" (counted, not rejected), which is what makes
re-running an import harmless. Batches commit as they go; an interrupted import is
finished by running it again (``run``).
"""

from sequencer.people.importing.rejects import rejects_path_for
from sequencer.people.importing.run import BATCH_SIZE, ImportSummary, import_csv

__all__ = ["BATCH_SIZE", "ImportSummary", "import_csv", "rejects_path_for"]
