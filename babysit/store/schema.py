"""The run store's SQLite schema and its migrations.

A store is recognised by ``PRAGMA application_id`` (``APPLICATION_ID``) and a
``schema_version`` table holding one row. ``MIGRATIONS[k]`` takes a store from
version ``k`` to ``k + 1``; a new column or table is a new entry appended to the
list, never an edit of an old one, so stores written by older versions upgrade
in place when they are opened. A migration that rebuilds a table runs with foreign keys
off (SQLite's documented procedure) and must leave ``PRAGMA foreign_key_check`` clean.
"""

from __future__ import annotations

import sqlite3

# "Bbys" in ASCII: marks the file as a babysit store (see `sqlite3 FILE 'PRAGMA application_id'`).
APPLICATION_ID = 0x42627973

# A run that stopped without reporting: its writer died (kill, crash, power cut) or was
# stopped (Ctrl-C) while it ran. Set by RunStore.mark_interrupted when a writer next opens the
# store; a resumed search runs it again.
INTERRUPTED = "interrupted"
# A search trial ended early on purpose: a rung of the search's successive halving found it
# clearly behind the others of its bracket (babysit.search.rungs). Since schema version 3.
STOPPED = "stopped"
# What finish_run accepts: the outcomes a run reports itself.
FINAL_STATUSES = ("finished", "exploded", "diverged", "failed", STOPPED)
RUN_STATUSES = ("running", *FINAL_STATUSES, INTERRUPTED)


def _runs_table(name: str, statuses: tuple[str, ...]) -> str:
    """CREATE TABLE of the runs table. Versions 1 and 2 both use it: never edit it (add columns
    with a new migration), or the old migrations would no longer build what they built."""
    check = ", ".join(f"'{s}'" for s in statuses)
    return f"""CREATE TABLE {name} (
        id INTEGER PRIMARY KEY,
        search_id INTEGER REFERENCES searches(id),
        stage INTEGER,
        trial_index INTEGER,
        params_json TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({check})),
        error TEXT,
        started REAL NOT NULL,
        finished REAL,
        seconds REAL,
        val_acc REAL,
        train_acc REAL,
        loss REAL,
        epochs REAL,
        best_val_acc REAL,
        extra_json TEXT)"""


_RUNS_BY_TRIAL = "CREATE INDEX runs_by_trial ON runs (search_id, stage, trial_index)"

# Version 0 -> 1: the initial schema. Times are Unix seconds (REAL).
_V1 = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (0)",
    """CREATE TABLE searches (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        spec_json TEXT NOT NULL,
        spec_hash TEXT NOT NULL,
        created REAL NOT NULL)""",
    _runs_table("runs", ("running", "finished", "exploded", "diverged", "failed")),
    _RUNS_BY_TRIAL,
    # One row per logged point; (run_id, kind, step) is how every reader queries it.
    """CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        kind TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL)""",
    "CREATE INDEX metrics_by_run_kind ON metrics (run_id, kind, step)",
    # `check` is an SQL keyword, hence check_name; the API calls it 'check'.
    """CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        check_name TEXT NOT NULL,
        status TEXT NOT NULL,
        value_json TEXT,
        expected_json TEXT,
        explanation TEXT,
        advice TEXT,
        details_json TEXT,
        created REAL NOT NULL)""",
    "CREATE INDEX findings_by_run ON findings (run_id)",
    """CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        created REAL NOT NULL)""",
    "CREATE INDEX artifacts_by_run ON artifacts (run_id)",
)

_RUN_COLUMN_LIST = (
    "id, search_id, stage, trial_index, params_json, status, error, started, finished, seconds, "
    "val_acc, train_acc, loss, epochs, best_val_acc, extra_json"
)

# Version 1 -> 2: status 'interrupted'. Version 1 marked a run left running by a dead writer
# 'failed' with error 'interrupted'; those become 'interrupted' (the error text stays, so queries
# on it still find them). The CHECK on status can only change by rebuilding the table: create,
# copy (ids kept, so metrics/findings/artifacts still point at their runs), drop, rename.
_V2 = (
    _runs_table("runs_v2", ("running", "finished", "exploded", "diverged", "failed", INTERRUPTED)),
    f"INSERT INTO runs_v2 ({_RUN_COLUMN_LIST}) SELECT {_RUN_COLUMN_LIST} FROM runs",
    "DROP TABLE runs",
    "ALTER TABLE runs_v2 RENAME TO runs",
    _RUNS_BY_TRIAL,
    f"UPDATE runs SET status = '{INTERRUPTED}' WHERE status = 'failed' AND error = '{INTERRUPTED}'",
)

# Version 2 -> 3: status 'stopped' (early-stopped search trials), the same rebuild as version 2.
_V3 = (
    _runs_table("runs_v3", RUN_STATUSES),
    f"INSERT INTO runs_v3 ({_RUN_COLUMN_LIST}) SELECT {_RUN_COLUMN_LIST} FROM runs",
    "DROP TABLE runs",
    "ALTER TABLE runs_v3 RENAME TO runs",
    _RUNS_BY_TRIAL,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3)
LATEST_VERSION = len(MIGRATIONS)


def user_tables(conn: sqlite3.Connection) -> list[str]:
    """Names of the tables in the database, SQLite's internal ones excluded."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [r[0] for r in rows]


def stored_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the store (0 for a database without the table)."""
    if "schema_version" not in user_tables(conn):
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the stored version, each in its own transaction.

    The connection must be in autocommit mode (``isolation_level=None``); returns the
    version reached. A store newer than this code is left untouched by the caller.
    """
    version = stored_version(conn)
    latest = len(MIGRATIONS)
    if version >= latest:
        return version
    # Off outside the transactions (SQLite ignores it inside one): dropping a table that others
    # reference would otherwise fail; foreign_key_check below proves nothing was broken.
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for target in range(version + 1, latest + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[target - 1]:
                    conn.execute(statement)
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise sqlite3.IntegrityError(f"migration {target} broke foreign keys: {broken[:3]}")
                conn.execute("UPDATE schema_version SET version = ?", (target,))
                if target == 1:
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return latest
