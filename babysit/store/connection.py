"""Opening a run store's SQLite file: recognise it, refuse what is not ours, set WAL, migrate."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from babysit.errors import StoreError
from babysit.store import schema
from babysit.store.schema import APPLICATION_ID, stored_version, user_tables


# what SQLite's error names mean for the user (sqlite3.Error.sqlite_errorname)
_WRITE_FAULTS = {
    "SQLITE_FULL": "the disk (or file system) holding it is full",
    "SQLITE_IOERR": "an I/O error on the disk holding it",
    "SQLITE_READONLY": "the file or its folder is read-only",
    "SQLITE_CANTOPEN": "its file or journal could not be opened",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "the file is not an SQLite database",
    "SQLITE_BUSY": "another process kept it locked",
}


def write_error(path: Path, err: sqlite3.DatabaseError) -> StoreError:
    """The StoreError for a write to the store at ``path`` that SQLite refused with ``err``."""
    code = getattr(err, "sqlite_errorname", "") or ""
    what = next((text for name, text in _WRITE_FAULTS.items() if code.startswith(name)), "SQLite refused it")
    return StoreError(f"cannot write store {path}: {what} ({err}); this write was rolled back and everything "
                      "recorded before it is kept; free space or fix the file, then run the same command again")


# What reading a damaged file raises: SQLite's own errors for a damaged page, and for a damaged cell what
# decoding it gives (text that is not UTF-8, JSON that does not parse, NULL where babysit wrote a number).
DAMAGE = (sqlite3.DatabaseError, ValueError, TypeError)


def read_error(path: Path, err: Exception) -> StoreError:
    """The StoreError for a read of the store at ``path`` that failed with ``err`` (one of ``DAMAGE``)."""
    code = getattr(err, "sqlite_errorname", "") or ""
    what = next((text for name, text in _WRITE_FAULTS.items() if code.startswith(name)),
                "SQLite failed" if isinstance(err, sqlite3.Error) else "a value in it is damaged")
    detail = " ".join(str(err).split())[:200]
    return StoreError(f"cannot read store {path}: {what} ({type(err).__name__}: {detail}); "
                      f"`sqlite3 {path} .recover` salvages what is readable into a new file")


def _is_write_fault(err: sqlite3.Error) -> bool:
    return any((getattr(err, "sqlite_errorname", "") or "").startswith(name) for name in _WRITE_FAULTS)


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
        try:
            _configure(conn, path, readonly)
        except DAMAGE as err:  # a damaged page or cell met while recognising or migrating the file
            raise read_error(path, err) from None
    except StoreError:
        conn.close()
        if not (readonly and _on_read_only_media(path)):
            raise
        # a WAL store on a read-only file system: SQLite cannot create the -shm file a reader needs. Nobody can
        # change the file there, so it is opened immutable (read as it is, no locks, no -shm)
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, timeout=30.0, isolation_level=None)
        try:
            _configure(conn, path, readonly)
        except DAMAGE as err:
            conn.close()
            raise read_error(path, err) from None
        except BaseException:
            conn.close()
            raise
    except BaseException:
        conn.close()
        raise
    return conn


def _on_read_only_media(path: Path) -> bool:
    """Whether ``path`` sits in a folder this process cannot write (a read-only mount) with no WAL file
    beside it (whose unmerged commits an immutable open would not see)."""
    wal = path.with_name(path.name + "-wal")
    return not os.access(path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size > 0)


def _configure(conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = user_tables(conn)
    except sqlite3.DatabaseError as err:
        if (getattr(err, "sqlite_errorname", "") or "").startswith("SQLITE_CANTOPEN"):
            raise StoreError(f"cannot open store {path}: {err} (its folder may be read-only or missing); "
                             "check the path and its permissions") from None
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
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except sqlite3.OperationalError as err:  # a full disk or read-only folder: no room for the WAL file
        raise write_error(path, err) from None
    if mode.lower() != "wal":
        raise StoreError(f"store {path}: SQLite refused WAL mode (got {mode!r}); use a local disk")
    conn.execute("PRAGMA synchronous = NORMAL")
    # a writer checks the file first: writing on into a damaged store could spread the damage
    problems = [" ".join(str(row[0]).split()) for row in conn.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise StoreError(f"store {path} is damaged (SQLite's quick_check: {'; '.join(problems)}); nothing was "
                         f"written; `sqlite3 {path} .recover` salvages what is readable into a new file")
    try:
        schema.migrate(conn)
    except sqlite3.Error as err:
        if _is_write_fault(err):
            raise write_error(path, err) from None
        raise StoreError(
            f"store {path} could not be upgraded from schema version {version} to "
            f"{schema.LATEST_VERSION} ({err}); the store is unchanged, use the babysit that wrote it"
        ) from None
