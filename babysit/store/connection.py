"""Opening a run store's SQLite file: recognise it, refuse what is not ours, set WAL, migrate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from babysit.errors import StoreError
from babysit.store import schema
from babysit.store.schema import APPLICATION_ID, stored_version, user_tables


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """An autocommit connection to the store at ``path``, migrated to the latest schema unless ``readonly``.

    Raises StoreError for a file that is not a babysit store, a store newer than this code,
    an old store opened read-only, or a failed upgrade (the store is then left as it was).
    """
    # isolation_level=None: no implicit transactions; RunStore opens each one itself.
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreError(f"cannot open store {path}: {err}; check the path and its permissions") from None
    try:
        _configure(conn, path, readonly)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = user_tables(conn)
    except sqlite3.DatabaseError as err:
        raise StoreError(
            f"{path} is not a babysit run store (not an SQLite database: {err}); "
            "give a new path or an existing store"
        ) from None
    if app_id != APPLICATION_ID and tables:
        raise StoreError(
            f"{path} is an SQLite database but not a babysit run store "
            f"(application_id {app_id}, tables: {', '.join(tables)}); give a new path or an existing store"
        )
    if readonly and app_id != APPLICATION_ID:
        raise StoreError(f"{path} is not a babysit run store (an empty file); expected a store to read")
    version = stored_version(conn)
    if version > schema.LATEST_VERSION:
        raise StoreError(
            f"store {path} has schema version {version}, newer than this babysit "
            f"(knows up to {schema.LATEST_VERSION}); upgrade babysit to read it"
        )
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
        if version < schema.LATEST_VERSION:
            raise StoreError(f"store {path} has schema version {version}; open it once for writing to upgrade it")
        return
    # WAL: readers never block the writer nor the other way round. synchronous=NORMAL in WAL
    # mode loses no committed transaction when the process dies (kill -9); only a power cut
    # can drop the last commits, and the file stays consistent even then.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise StoreError(f"store {path}: SQLite refused WAL mode (got {mode!r}); use a local disk")
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        schema.migrate(conn)
    except sqlite3.Error as err:
        raise StoreError(
            f"store {path} could not be upgraded from schema version {version} to "
            f"{schema.LATEST_VERSION} ({err}); the store is unchanged, use the babysit that wrote it"
        ) from None
