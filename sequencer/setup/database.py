"""The project's database: opened for a command, and its schema revision (``sequencer db``).

``open_database`` is how a process gets its ``Database``: an empty database is
migrated on first use, so a rep never has to learn Alembic to start. ``schema_state``
and ``upgrade_schema`` open the database without that automatic upgrade, for teams
that deploy schema changes on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from sequencer.config import Config
from sequencer.db.session import Database, current_revision, head_revision, upgrade

__all__ = ["Database", "SchemaState", "open_database", "schema_state", "upgrade_schema"]


def open_database(config: Config) -> Database:
    """The config's database, brought up to the shipped schema if it is empty or behind.

    The caller owns the returned object and disposes it when done; services given it
    run their own transactions in it (see ``sequencer.db.unit``).
    """
    return Database(config.database_url)


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against the newest migration shipped."""

    current: str | None  # None: no schema at all yet
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_state(config: Config) -> SchemaState:
    """The database's revision, read without migrating anything."""
    database = Database(config.database_url, migrate=False)
    try:
        return SchemaState(current_revision(database.engine), head_revision())
    finally:
        database.dispose()


def upgrade_schema(config: Config) -> tuple[SchemaState, SchemaState]:
    """Apply the shipped migrations; returns the state before and after (equal when nothing to do)."""
    database = Database(config.database_url, migrate=False)
    try:
        head = head_revision()
        before = SchemaState(current_revision(database.engine), head)
        upgrade(database.engine)
        return before, SchemaState(current_revision(database.engine), head)
    finally:
        database.dispose()
