"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sequencer.db.models import Base
from sequencer.db.session import alembic_config


def test_migrations_have_a_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several migration heads, chain them: {heads}"


def test_migrated_database_matches_models(db) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_a_read_session_does_not_block_a_writer_on_sqlite(tmp_path) -> None:
    """A manager's long report must not stop the sending workers from committing."""
    import sqlite3

    from sequencer.db.models import JobRun
    from sequencer.db.session import Database

    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    with db.read_session() as reader:
        reader.query(JobRun).all()  # the read transaction is open
        writer = sqlite3.connect(path, timeout=0.5, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the reader holds it
        writer.execute("INSERT INTO job_runs (job, period, at) VALUES ('j', 'p', '2026-03-02 09:00:00')")
        writer.execute("COMMIT")
        writer.close()
    with db.read_session() as reader:
        assert reader.query(JobRun).count() == 1
