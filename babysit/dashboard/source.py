"""Reading a run store for the dashboard: read-only (SQLite ``mode=ro``), one connection per thread.

``StoreSource(path)`` first opens the file with ``RunStore(path, readonly=True)`` (which refuses
a missing file, an empty one or another program's database with a one-line ``StoreError``), then
reads through its own ``file:PATH?mode=ro`` connections: SQLite itself refuses any write, and in
WAL mode a reader never blocks the running search that writes the store (nor the other way round).
Each query is one read transaction, so a run is seen either before or after ``record_run``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from urllib.parse import quote

import numpy as np

from babysit.errors import StoreError
from babysit.store import RunStore
from babysit.store.codec import RUN_SELECT, run_dict
from babysit.store.schema import APPLICATION_ID, LATEST_VERSION, stored_version

CACHE_RUNS = 4096  # finished runs whose reduced overview curves the server keeps (least recently used out)


class StoreSource:
    """Read-only queries over the store at ``path``; safe to share between the server's threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []  # every thread's connection, for close()
        self._lock = threading.Lock()
        self.cache = LruCache(CACHE_RUNS)  # run id -> its overview curves, for runs finished when read (views.curves)
        self.schema_version = self._check()

    def _check(self) -> int:
        """The store's schema version. An older store (version 1 or 2: the runs table has the same columns,
        only fewer statuses) is read as it is, without the upgrade a writer would make; anything else
        goes through ``RunStore(path, readonly=True)``'s checks and their one-line messages."""
        if self.path.is_file():
            try:
                conn = self.conn()
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                version = stored_version(conn) if app_id == APPLICATION_ID else None
            except (StoreError, sqlite3.DatabaseError):
                version = None
            if version is not None and 1 <= version < LATEST_VERSION:
                return version
            self.close()
        with RunStore(self.path, readonly=True):  # the store's own checks and messages
            pass
        self.conn()  # fail now, not on the first request
        return LATEST_VERSION

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{quote(str(self.path))}?mode=ro"
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.Error as err:
                raise StoreError(f"cannot open store {self.path} read-only: {err}") from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection (the writer's last close then removes the WAL files, as without a reader)."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> StoreSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self, fn):
        """Run ``fn(conn)`` inside one read transaction (a consistent snapshot in WAL mode)."""
        conn = self.conn()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    # -- runs --------------------------------------------------------------------------------

    def runs(self, after: int = 0, limit: int | None = None, ids=(), *, with_cursor: bool = False):
        """Runs with id > ``after`` (at most ``limit``) and the runs ``ids``, as ``RunStore.runs`` dicts;
        ``with_cursor``: ``(cursor, runs)`` read in the same snapshot (see ``cursor``)."""
        def read(conn):
            if with_cursor:
                cursor = int(conn.execute("SELECT max(rowid) FROM metrics").fetchone()[0] or 0)
                return cursor, rows_of(conn)
            return rows_of(conn)

        def rows_of(conn):
            sql = RUN_SELECT + " WHERE r.id > ? ORDER BY r.id"
            rows = conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), (int(after),)).fetchall()
            wanted = sorted({int(i) for i in ids if int(i) <= after})
            if wanted:
                marks = ",".join("?" * len(wanted))
                rows += conn.execute(RUN_SELECT + f" WHERE r.id IN ({marks}) ORDER BY r.id", wanted).fetchall()
            return [run_dict(r) for r in rows]
        return self._read(read)

    def run(self, run_id: int) -> dict | None:
        rows = self.runs(after=int(run_id) - 1, limit=1)
        return rows[0] if rows and rows[0]["id"] == int(run_id) else None

    def searches(self) -> list[dict]:
        rows = self.conn().execute("SELECT id, name, spec_json, created FROM searches ORDER BY id").fetchall()
        return [{"id": i, "name": n, "spec": json.loads(s), "created": c} for i, n, s, c in rows]

    def findings(self, run_id) -> list[dict]:
        """Findings of run ``run_id`` (None: those about the data and setup), decoded."""
        where = "run_id IS NULL" if run_id is None else "run_id = ?"
        args = () if run_id is None else (int(run_id),)
        rows = self.conn().execute(
            "SELECT check_name, status, value_json, expected_json, explanation, advice, details_json FROM findings "
            f"WHERE {where} ORDER BY id", args).fetchall()
        out = []
        for check, status, value, expected, explanation, advice, details in rows:
            out.append({"check": check, "status": status, "value": _json(value), "expected": _json(expected),
                        "explanation": explanation, "advice": advice, "details": _json(details) or {}})
        return out

    # -- series ------------------------------------------------------------------------------

    def cursor(self) -> int:
        """The newest point's rowid: a client that has seen everything up to it asks for ``after`` it."""
        row = self.conn().execute("SELECT max(rowid) FROM metrics").fetchone()
        return int(row[0] or 0)

    def kinds(self, run_id: int) -> list[str]:
        rows = self.conn().execute("SELECT DISTINCT kind FROM metrics WHERE run_id = ? ORDER BY kind", (int(run_id),))
        return [r[0] for r in rows]

    def series(self, run_id: int, kind: str, after: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one series, points with rowid > ``after`` only; NULL (NaN) comes back as NaN."""
        rows = self.conn().execute(
            "SELECT step, value FROM metrics WHERE run_id = ? AND kind = ? AND rowid > ? ORDER BY step, rowid",
            (int(run_id), kind, int(after))).fetchall()
        if not rows:
            return np.empty(0, np.int64), np.empty(0)
        arr = np.array(rows, dtype=np.float64)  # None -> nan
        return arr[:, 0].astype(np.int64), arr[:, 1]

    def series_many(self, ids, kinds, after: int = 0, upto: int | None = None, *, last: dict | None = None) -> dict:
        """{run_id: {kind: (steps, values)}} for the runs ``ids``, points with rowid in (``after``, ``upto``],
        in one snapshot; ``last``, when given, receives {run_id: its newest point's rowid among them}.
        (Reducing the series in SQL, min/max per bucket, measured no faster: the cost is reading the rows.)"""
        ids = sorted({int(i) for i in ids})
        top = 2**62 if upto is None else int(upto)

        def read(conn):
            out = {i: {} for i in ids}
            for run_id in ids:
                for kind in kinds:
                    rows = conn.execute(
                        "SELECT step, value, rowid FROM metrics WHERE run_id = ? AND kind = ? AND rowid > ? "
                        "AND rowid <= ? ORDER BY step, rowid", (run_id, kind, int(after), top)).fetchall()
                    if rows:
                        arr = np.array(rows, dtype=np.float64)
                        out[run_id][kind] = (arr[:, 0].astype(np.int64), arr[:, 1])
                        if last is not None:
                            last[run_id] = max(last.get(run_id, 0), int(arr[:, 2].max()))
            return out
        return self._read(read)


class LruCache:
    """A dict of at most ``size`` entries, the least recently used dropped first; safe between threads."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def __setitem__(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def _json(text):
    return None if text is None else json.loads(text)


def finite_or_none(value):
    """A JSON-safe number: None for None, NaN and ±inf (JSON has none of them)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
