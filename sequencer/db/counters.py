"""The report's counters: kept exact by database triggers, read instead of scanning enrollments.

Four tables (models ``StatusCount``, ``PipelineLead``, ``PipelineCount``, ``ProspectFlag``,
migration 0020):

- ``report_status_counts``: enrollments and replies per (sequence, owner, status, steps
  done, reply step), the rows ``reports.status_groups`` would GROUP BY out of a million
  enrollments. A trigger on enrollments subtracts the old key and adds the new one.
- ``pipeline_leads``: per prospect, its latest enrollment that counts (highest id, not
  unenrolled) with the deal value in cents. Any change to a prospect's enrollments or deal
  value "refreshes" the prospect: its old row is subtracted from the counts, recomputed
  from the enrollments (an index seek), and added back.
- ``pipeline_counts``: prospects and value per (sequence, owner, status, unanswered) of
  those rows, what ``reports.pipeline_value`` sums.
- ``prospect_flags``: per prospect, how many of its enrollments bounced or opted out and
  how many replies wait for the rep's answer (only prospects with either), what rotting
  excludes / requires (db.stage_figures); refreshed with ``pipeline_leads``.

Why triggers and not application code: every writer (services, imports, the CLI, a
worker, a bulk SQL statement) changes the counters in the same transaction as the row,
so they can never drift from the scan they replace; tests/reporting/test_counters.py
checks that over random transitions on SQLite and PostgreSQL. The same statements run
on both: SQLite gets them inline in trigger bodies, PostgreSQL in plpgsql functions.
SQLite (one writer at a time) updates one row per key in place; PostgreSQL appends delta
rows (concurrent writers never lock a shared counter row, so they cannot deadlock or
lose a count; tests/reporting/test_counters_concurrent.py) and folds them now and then.
Readers sum per key and skip zeros, so both layouts read the same.

Lock order on PostgreSQL: an enrollment write locks the enrollment, then (in its trigger)
the prospect. A transaction that changes a prospect and one of its existing enrollments
must therefore write the enrollment first (``people.state_changes.reassign`` flushes it
before the prospect; tests/people/test_reassign_locks.py), or it can deadlock with a
worker recording on that enrollment.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

UNANSWERED = (
    "CASE WHEN {e}.status = 'replied' AND {e}.replied_at IS NOT NULL AND {e}.answered_at IS NULL THEN 1 ELSE 0 END"
)
CENTS = "CAST(ROUND({p}.deal_value * 100) AS BIGINT)"
STATUS_KEY = ("sequence_id", "owner", "status", "steps_done", "replied_step")
STATUS_WATCHED = (*STATUS_KEY, "replied_at")
PIPELINE_WATCHED = ("prospect_id", "sequence_id", "owner", "status", "replied_at", "answered_at", "enrolled_at")


def _same(dialect: str, a: str, b: str) -> str:
    """NULL-safe equality."""
    return f"{a} IS {b}" if dialect == "sqlite" else f"{a} IS NOT DISTINCT FROM {b}"


def _changed(dialect: str, cols: tuple[str, ...]) -> str:
    op = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(f"OLD.{c} {op} NEW.{c}" for c in cols)


def _status_add(dialect: str, row: dict[str, str], dn: str, dr: str) -> list[str]:
    """Add ``dn`` enrollments and ``dr`` replies to the key given as SQL expressions.

    PostgreSQL appends a delta row instead of updating the key's row in place: writers
    then never wait for each other on a counter (two transactions moving counts in
    opposite directions between two keys would otherwise each hold one row and wait for
    the other's, a deadlock), and two writers creating a key at once cannot miss each
    other's row. Readers sum per key; ``compact`` folds the deltas now and then.
    """
    values = ", ".join(row[c] for c in STATUS_KEY)
    if dialect != "sqlite":
        return [
            "INSERT INTO report_status_counts (sequence_id, owner, status, steps_done, replied_step, enrollments, "
            f"replies) VALUES ({values}, {dn}, {dr})"
        ]
    match = " AND ".join(_same(dialect, c, row[c]) for c in STATUS_KEY)
    return [
        f"UPDATE report_status_counts SET enrollments = enrollments + ({dn}), replies = replies + ({dr}) "
        f"WHERE id = (SELECT min(id) FROM report_status_counts WHERE {match})",
        f"INSERT INTO report_status_counts (sequence_id, owner, status, steps_done, replied_step, enrollments, "
        f"replies) SELECT {values}, {dn}, {dr} "
        f"WHERE NOT EXISTS (SELECT 1 FROM report_status_counts WHERE {match})",
    ]


def _status_of(record: str) -> tuple[dict[str, str], str]:
    return {c: f"{record}.{c}" for c in STATUS_KEY}, f"CASE WHEN {record}.replied_at IS NOT NULL THEN 1 ELSE 0 END"


LEAD_INSERT = (
    "INSERT INTO pipeline_leads (prospect_id, enrollment_id, sequence_id, owner, status, unanswered, "
    f"enrolled_at, value_cents) SELECT e.prospect_id, e.id, e.sequence_id, e.owner, e.status, "
    f"{UNANSWERED.format(e='e')}, e.enrolled_at, {CENTS.format(p='p')} "
    "FROM enrollments e JOIN prospects p ON p.id = e.prospect_id "
    "WHERE e.id = (SELECT max(x.id) FROM enrollments x WHERE x.prospect_id = {pid} "
    "AND x.status <> 'unenrolled')"
)


FLAGS_DEAD = "CASE WHEN {e}.status IN ('bounced', 'unsubscribed') THEN 1 ELSE 0 END"
FLAGS_WAITING = (
    "CASE WHEN {e}.status = 'replied' AND {e}.replied_at IS NOT NULL AND {e}.answered_at IS NULL THEN 1 ELSE 0 END"
)


def _flags_refresh(pid: str) -> list[str]:
    """Recount the prospect's dead and waiting enrollments (an index seek on its enrollments)."""
    dead, waiting = FLAGS_DEAD.format(e="e"), FLAGS_WAITING.format(e="e")
    return [
        f"DELETE FROM prospect_flags WHERE prospect_id = {pid}",
        f"INSERT INTO prospect_flags (prospect_id, dead, waiting) SELECT {pid}, sum({dead}), sum({waiting}) "
        f"FROM enrollments e WHERE e.prospect_id = {pid} HAVING sum({dead}) > 0 OR sum({waiting}) > 0",
    ]


def _pipeline_refresh_pg(pid: str) -> list[str]:
    """PostgreSQL: the same refresh, serialised per prospect, counts appended as deltas.

    The prospect's row lock (FOR NO KEY UPDATE: the lock an UPDATE of the prospect takes
    anyway, and no conflict with the foreign-key checks of inserted enrollments or events)
    makes two transactions refreshing one prospect take turns, and each statement after
    it sees the other's committed row (READ COMMITTED), so the old row is subtracted once.
    Different prospects never wait for each other: the counts are appended, not updated.
    """
    cols = "sequence_id, owner, status, unanswered, prospects, value_cents"
    return [
        f"PERFORM 1 FROM prospects WHERE id = {pid} FOR NO KEY UPDATE",
        f"INSERT INTO pipeline_counts ({cols}) SELECT l.sequence_id, l.owner, l.status, l.unanswered, -1, "
        f"-COALESCE(l.value_cents, 0) FROM pipeline_leads l WHERE l.prospect_id = {pid}",
        f"DELETE FROM pipeline_leads WHERE prospect_id = {pid}",
        LEAD_INSERT.format(pid=pid),
        f"INSERT INTO pipeline_counts ({cols}) SELECT l.sequence_id, l.owner, l.status, l.unanswered, 1, "
        f"COALESCE(l.value_cents, 0) FROM pipeline_leads l WHERE l.prospect_id = {pid}",
        *_flags_refresh(pid),
    ]


def _pipeline_refresh(dialect: str, pid: str) -> list[str]:
    """Subtract the prospect's stored row, recompute it from its enrollments, add it back.

    SQLite updates the counter rows in place: it has one writer at a time, so there is
    nothing to deadlock with and the read stays a few hundred rows.
    """
    if dialect != "sqlite":
        return _pipeline_refresh_pg(pid)
    same_key = " AND ".join(
        [
            "c.sequence_id = l.sequence_id",
            _same(dialect, "c.owner", "l.owner"),
            "c.status = l.status",
            "c.unanswered = l.unanswered",
        ]
    )
    counter = f"(SELECT min(c.id) FROM pipeline_counts c JOIN pipeline_leads l ON {same_key} WHERE l.prospect_id = {pid})"
    value = f"COALESCE((SELECT l.value_cents FROM pipeline_leads l WHERE l.prospect_id = {pid}), 0)"
    return [
        f"UPDATE pipeline_counts SET prospects = prospects - 1, value_cents = value_cents - {value} "
        f"WHERE id = {counter}",
        f"DELETE FROM pipeline_leads WHERE prospect_id = {pid}",
        LEAD_INSERT.format(pid=pid),
        f"UPDATE pipeline_counts SET prospects = prospects + 1, value_cents = value_cents + {value} "
        f"WHERE id = {counter}",
        "INSERT INTO pipeline_counts (sequence_id, owner, status, unanswered, prospects, value_cents) "
        "SELECT l.sequence_id, l.owner, l.status, l.unanswered, 1, COALESCE(l.value_cents, 0) "
        f"FROM pipeline_leads l WHERE l.prospect_id = {pid} "
        f"AND NOT EXISTS (SELECT 1 FROM pipeline_counts c WHERE {same_key})",
        *_flags_refresh(pid),
    ]


def _sqlite_trigger(name: str, when: str, table: str, condition: str | None, body: list[str]) -> str:
    cond = f" WHEN {condition}" if condition else ""
    stmts = "".join(f"  {s};\n" for s in body)
    return f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{cond}\nBEGIN\n{stmts}END"


def _sqlite_ddl() -> list[str]:
    d = "sqlite"
    new, new_r = _status_of("NEW")
    old, old_r = _status_of("OLD")
    return [
        _sqlite_trigger(
            "trg_counters_enrollment_insert", "INSERT", "enrollments", None,
            [*_status_add(d, new, "1", new_r), *_pipeline_refresh(d, "NEW.prospect_id")],
        ),
        _sqlite_trigger(
            "trg_counters_enrollment_status", "UPDATE", "enrollments", _changed(d, STATUS_WATCHED),
            [*_status_add(d, old, "-1", f"-{old_r}"), *_status_add(d, new, "1", new_r)],
        ),
        _sqlite_trigger(
            "trg_counters_enrollment_pipeline", "UPDATE", "enrollments", _changed(d, PIPELINE_WATCHED),
            _pipeline_refresh(d, "NEW.prospect_id"),
        ),
        _sqlite_trigger(
            "trg_counters_enrollment_moved", "UPDATE", "enrollments", "OLD.prospect_id IS NOT NEW.prospect_id",
            _pipeline_refresh(d, "OLD.prospect_id"),
        ),
        _sqlite_trigger(
            "trg_counters_enrollment_delete", "DELETE", "enrollments", None,
            [*_status_add(d, old, "-1", f"-{old_r}"), *_pipeline_refresh(d, "OLD.prospect_id")],
        ),
        _sqlite_trigger(
            "trg_counters_prospect_value", "UPDATE", "prospects", "OLD.deal_value IS NOT NEW.deal_value",
            _pipeline_refresh(d, "NEW.id"),
        ),
        _sqlite_trigger(
            "trg_counters_prospect_delete", "DELETE", "prospects", None, _pipeline_refresh(d, "OLD.id")
        ),
    ]


SQLITE_TRIGGERS = (
    "trg_counters_enrollment_insert", "trg_counters_enrollment_status", "trg_counters_enrollment_pipeline",
    "trg_counters_enrollment_moved", "trg_counters_enrollment_delete", "trg_counters_prospect_value",
    "trg_counters_prospect_delete",
)


_SK = "sequence_id, owner, status, steps_done, replied_step"
_PK = "sequence_id, owner, status, unanswered"
COMPACT = [
    f"WITH d AS (DELETE FROM report_status_counts RETURNING {_SK}, enrollments, replies) "
    f"INSERT INTO report_status_counts ({_SK}, enrollments, replies) "
    f"SELECT {_SK}, sum(enrollments), sum(replies) FROM d GROUP BY {_SK} "
    "HAVING sum(enrollments) <> 0 OR sum(replies) <> 0",
    f"WITH d AS (DELETE FROM pipeline_counts RETURNING {_PK}, prospects, value_cents) "
    f"INSERT INTO pipeline_counts ({_PK}, prospects, value_cents) "
    f"SELECT {_PK}, sum(prospects), sum(value_cents) FROM d GROUP BY {_PK} "
    "HAVING sum(prospects) <> 0 OR sum(value_cents) <> 0",
]
# One enrollment write in this many folds the PostgreSQL delta rows (a few thousand rows
# at most, so the read stays small); only one transaction at a time does it (advisory
# lock, tried, never waited for), and it deletes only rows its snapshot sees, so deltas
# appended meanwhile by other transactions are kept.
COMPACT_CHANCE = 0.002


def _plpgsql(stmts: list[str]) -> str:
    return "".join(f"    {s};\n" for s in stmts)


def _postgresql_ddl() -> list[str]:
    d = "postgresql"
    new, new_r = _status_of("NEW")
    old, old_r = _status_of("OLD")
    return [
        "CREATE FUNCTION seq_counters_compact() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n"
        "  IF NOT pg_try_advisory_xact_lock(hashtext('sequencer.report_counters')) THEN\n    RETURN;\n  END IF;\n"
        f"{_plpgsql(COMPACT)}END\n$$",
        "CREATE FUNCTION seq_pipeline_refresh(pid integer) RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"{_plpgsql(_pipeline_refresh(d, 'pid'))}END\n$$",
        "CREATE FUNCTION seq_counters_enrollments() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"  IF random() < {COMPACT_CHANCE} THEN\n    PERFORM seq_counters_compact();\n  END IF;\n"
        "  IF TG_OP = 'INSERT' THEN\n"
        f"{_plpgsql(_status_add(d, new, '1', new_r))}"
        "    PERFORM seq_pipeline_refresh(NEW.prospect_id);\n"
        "    RETURN NEW;\n"
        "  ELSIF TG_OP = 'DELETE' THEN\n"
        f"{_plpgsql(_status_add(d, old, '-1', f'-{old_r}'))}"
        "    PERFORM seq_pipeline_refresh(OLD.prospect_id);\n"
        "    RETURN OLD;\n"
        "  END IF;\n"
        f"  IF {_changed(d, STATUS_WATCHED)} THEN\n"
        f"{_plpgsql(_status_add(d, old, '-1', f'-{old_r}'))}"
        f"{_plpgsql(_status_add(d, new, '1', new_r))}"
        "  END IF;\n"
        f"  IF {_changed(d, PIPELINE_WATCHED)} THEN\n"
        # moved between prospects: lock the two in id order, as any other writer would
        "    PERFORM seq_pipeline_refresh(LEAST(OLD.prospect_id, NEW.prospect_id));\n"
        "    IF OLD.prospect_id <> NEW.prospect_id THEN\n"
        "      PERFORM seq_pipeline_refresh(GREATEST(OLD.prospect_id, NEW.prospect_id));\n"
        "    END IF;\n"
        "  END IF;\n"
        "  RETURN NEW;\nEND\n$$",
        "CREATE FUNCTION seq_counters_prospects() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        "    PERFORM seq_pipeline_refresh(OLD.id);\n"
        "    RETURN OLD;\n"
        "  END IF;\n"
        "  IF OLD.deal_value IS DISTINCT FROM NEW.deal_value THEN\n"
        "    PERFORM seq_pipeline_refresh(NEW.id);\n"
        "  END IF;\n"
        "  RETURN NEW;\nEND\n$$",
        "CREATE TRIGGER trg_counters_enrollments AFTER INSERT OR UPDATE OR DELETE ON enrollments "
        "FOR EACH ROW EXECUTE FUNCTION seq_counters_enrollments()",
        "CREATE TRIGGER trg_counters_prospects AFTER UPDATE OR DELETE ON prospects "
        "FOR EACH ROW EXECUTE FUNCTION seq_counters_prospects()",
    ]


REBUILD = [
    "DELETE FROM prospect_flags",
    "INSERT INTO prospect_flags (prospect_id, dead, waiting) SELECT prospect_id, "
    f"sum({FLAGS_DEAD.format(e='e')}), sum({FLAGS_WAITING.format(e='e')}) FROM enrollments e GROUP BY prospect_id "
    f"HAVING sum({FLAGS_DEAD.format(e='e')}) > 0 OR sum({FLAGS_WAITING.format(e='e')}) > 0",
    "DELETE FROM report_status_counts",
    "DELETE FROM pipeline_counts",
    "DELETE FROM pipeline_leads",
    "INSERT INTO report_status_counts (sequence_id, owner, status, steps_done, replied_step, enrollments, replies) "
    "SELECT sequence_id, owner, status, steps_done, replied_step, count(*), "
    "sum(CASE WHEN replied_at IS NOT NULL THEN 1 ELSE 0 END) FROM enrollments "
    "GROUP BY sequence_id, owner, status, steps_done, replied_step",
    "INSERT INTO pipeline_leads (prospect_id, enrollment_id, sequence_id, owner, status, unanswered, "
    f"enrolled_at, value_cents) SELECT e.prospect_id, e.id, e.sequence_id, e.owner, e.status, "
    f"{UNANSWERED.format(e='e')}, e.enrolled_at, {CENTS.format(p='p')} "
    "FROM enrollments e JOIN prospects p ON p.id = e.prospect_id "
    "WHERE e.id IN (SELECT max(x.id) FROM enrollments x WHERE x.status <> 'unenrolled' GROUP BY x.prospect_id)",
    "INSERT INTO pipeline_counts (sequence_id, owner, status, unanswered, prospects, value_cents) "
    "SELECT sequence_id, owner, status, unanswered, count(*), sum(COALESCE(value_cents, 0)) FROM pipeline_leads "
    "GROUP BY sequence_id, owner, status, unanswered",
]


def create_triggers(conn: Connection) -> None:
    ddl = _sqlite_ddl() if conn.dialect.name == "sqlite" else _postgresql_ddl()
    for stmt in ddl:
        conn.execute(text(stmt))


def drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS trg_counters_enrollments ON enrollments"))
    conn.execute(text("DROP TRIGGER IF EXISTS trg_counters_prospects ON prospects"))
    for fn in ("seq_counters_enrollments()", "seq_counters_prospects()", "seq_pipeline_refresh(integer)",
               "seq_counters_compact()"):
        conn.execute(text(f"DROP FUNCTION IF EXISTS {fn}"))


def compact(conn: Connection) -> None:
    """Fold PostgreSQL's delta rows into one row per key (SQLite keeps one row per key already)."""
    if conn.dialect.name != "sqlite":
        conn.execute(text("SELECT seq_counters_compact()"))


def rebuild(conn: Connection) -> None:
    """Recompute every counter from the enrollments (the migration's backfill; bulk loads)."""
    for stmt in REBUILD:
        conn.execute(text(stmt))


__all__ = ["compact", "create_triggers", "drop_triggers", "rebuild"]
