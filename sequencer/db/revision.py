"""Is the schema already at the shipped head? Answered without importing Alembic.

Every command that opens the database asks this first (an empty or old database is
migrated on first use). Alembic's answer costs ~0.2 s on a small machine (importing
Alembic and Mako, then importing every migration script), paid by every cron ``tick``
although the answer is "yes" almost always. Here the head is read from the
``revision = ...`` / ``down_revision = ...`` lines of the migration files and the current
revision from ``alembic_version`` with one Core query. Anything unusual (no table, several
heads, a line we cannot read) answers "don't know", and the caller asks Alembic.
``tests/cli/test_startup.py`` checks this head against Alembic's.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

VERSIONS = Path(__file__).with_name("migrations") / "versions"
# ``revision = "0019_x"`` or, as newer Alembic templates write it, ``revision: str = "0019_x"``
_ASSIGN = re.compile(
    r"""^(revision|down_revision)(?:\s*:\s*[^=\n]+)?\s*=\s*(None|'[^']*'|"[^"]*")\s*$""", re.M
)


@lru_cache(maxsize=1)
def shipped_head() -> str | None:
    """The one revision no migration revises, or None when the files say otherwise."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        found = dict(m.groups() for m in _ASSIGN.finditer(script.read_text(encoding="utf-8")))
        if "revision" not in found or "down_revision" not in found or found["revision"] == "None":
            return None  # not a plain script: let Alembic read it
        revisions.add(found["revision"][1:-1])
        if found["down_revision"] != "None":
            revised.add(found["down_revision"][1:-1])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def at_shipped_head(engine: Engine) -> bool:
    """True only when the database certainly stands at the shipped head."""
    head = shipped_head()
    if head is None:
        return False
    try:
        # deferred: on SQLite a plain BEGIN, so this read never waits for a sending worker
        with engine.execution_options(sqlite_deferred=True).connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False  # no table yet, or no database: Alembic says what is wrong
    return [r[0] for r in rows] == [head]
