"""The run store: searches, runs, metric series, doctor findings and artifacts in one SQLite file.

Only the driver process writes (``RunStore(path)`` takes an exclusive writer lock); any
number of readers (``RunStore(path, readonly=True)``: ``babysit runs``, the reports) read
at the same time thanks to WAL mode. Every write is one transaction, so a kill -9
never loses a committed run and never leaves a half-written one.

Interrupted runs: a run still ``running`` when its writer died gets the status
``interrupted`` the next time a writer opens the store (the writer lock proves nobody
is still running it). ``finished_trials`` leaves such runs out, so resuming a search
redoes exactly those trials; the interrupted rows stay as history.

Workers never write: a forked worker must not use the connection it inherits (SQLite
forbids carrying a connection across fork); it does not inherit the writer lock.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from babysit.errors import StoreError
from babysit.store.codec import (
    RUN_METRIC_COLUMNS,
    RUN_SELECT,
    differing_keys,
    finding_fields,
    float_or_none,
    from_json,
    run_dict,
    spec_hash,
    to_json,
)
from babysit.store.connection import DAMAGE, connect, read_error, write_error
from babysit.store.schema import FINAL_STATUSES, INTERRUPTED
from babysit.store.writer_lock import WriterLock

def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite may have rolled back itself, e.g. on SQLITE_FULL)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.DatabaseError:
            pass  # the failure being reported is the one that matters; SQLite undoes the rest on close


class RunNotFound(ValueError):
    """``RunStore.run`` of an id the store does not hold."""


def _reads(method):
    """A read of the store: SQLite's failures of the file (a damaged page, an I/O error) become a StoreError."""
    @functools.wraps(method)
    def read(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DAMAGE as err:
            if isinstance(err, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
                                RunNotFound)):
                raise  # a bug in babysit's SQL or a question about a run that is not there, not a fault of the file
            raise read_error(self.path, err) from None
    return read


__all__ = ["INTERRUPTED", "RUN_METRIC_COLUMNS", "RunStore", "spec_hash", "to_json"]


class RunStore:
    """A babysit run store at ``path``: created when missing, opened (and migrated) when present.

    Inputs: ``path`` of the SQLite file (parent folders are created); ``readonly=True`` opens
    an existing store for reading only, without the writer lock. Raises ``StoreError`` when
    the file is not a babysit store, is newer than this code, or is locked by another writer.
    """

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._lock = None
        self._conn = None
        if self.path.is_dir():
            raise StoreError(f"store {self.path} is a folder; expected an SQLite file path")
        if readonly and not self.path.exists():
            raise StoreError(f"no run store at {self.path}; expected the file written by a --store option")
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._lock = WriterLock(self.path)
            except OSError as err:
                raise StoreError(
                    f"cannot create store {self.path}: {err.strerror}: {err.filename}; check the path"
                ) from None
        try:
            self._conn = connect(self.path, readonly)
            if not readonly:
                self.mark_interrupted()
        except BaseException:
            self.close()
            raise

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and release the writer lock (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed")
        return self._conn

    @contextmanager
    def _transaction(self):
        """One write transaction: every write of the store goes through here.

        SQLite's failures of the file itself (disk full, I/O error, a read-only file or folder, a damaged
        page) roll the transaction back and become a ``StoreError`` naming the file; earlier commits stay.
        """
        if self.readonly:
            raise StoreError(f"store {self.path} was opened read-only; open it without readonly=True to write")
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        except sqlite3.DatabaseError as err:
            if isinstance(err, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
                raise  # a bug in babysit's SQL, not a fault of the file
            raise write_error(self.path, err) from None

    # -- searches --------------------------------------------------------------------

    def create_or_open_search(self, name: str, spec: Mapping) -> int:
        """Id of the search ``name``, created with ``spec`` unless it exists.

        Raises ``StoreError`` when the store already holds ``name`` with a different spec
        (a resume must use the same arguments).
        """
        spec_text = to_json(spec)
        digest = spec_hash(spec)
        with self._transaction() as conn:
            row = conn.execute("SELECT id, spec_json, spec_hash FROM searches WHERE name = ?", (name,)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO searches (name, spec_json, spec_hash, created) VALUES (?, ?, ?, ?)",
                    (name, spec_text, digest, time.time()),
                )
                return cur.lastrowid
        search_id, old_text, old_hash = row
        if old_hash != digest:
            differing = differing_keys(json.loads(old_text), json.loads(spec_text))
            detail = f" (differs in: {', '.join(differing)})" if differing else ""
            raise StoreError(
                f"store {self.path} holds search {name} with a different spec{detail}; "
                "use another --store or the same arguments"
            )
        return search_id

    @_reads
    def searches(self) -> list[dict]:
        """All searches: dicts with id, name, spec (decoded), spec_hash, created."""
        rows = self.conn.execute("SELECT id, name, spec_json, spec_hash, created FROM searches ORDER BY id")
        return [
            {"id": i, "name": n, "spec": json.loads(s), "spec_hash": h, "created": c} for i, n, s, h, c in rows
        ]

    # -- runs ------------------------------------------------------------------------

    def start_run(self, search_id: int | None, stage: int | None, trial_index: int | None, params: Mapping) -> int:
        """Record a new ``running`` run and return its id.

        Inputs: ``search_id`` (None for a plain ``babysit train`` run), ``stage`` and
        ``trial_index`` within the search (None outside a search), ``params`` JSON-able dict.
        """
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs (search_id, stage, trial_index, params_json, status, started) "
                "VALUES (?, ?, ?, ?, 'running', ?)",
                (search_id, stage, trial_index, to_json(dict(params)), time.time()),
            )
            return cur.lastrowid

    def finish_run(self, run_id: int, status: str, metrics: Mapping | None = None, error: str | None = None) -> None:
        """Record the outcome of a running run in one transaction.

        Inputs: ``status`` one of finished|exploded|diverged|failed|stopped; ``metrics`` with any of
        val_acc, train_acc, loss, epochs, best_val_acc, seconds (wall time; default: since
        start_run) — other keys are kept in ``extra``; ``error`` text for failed runs.
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish_run status must be one of {', '.join(FINAL_STATUSES)}; got {status!r}")
        metrics = dict(metrics or {})
        seconds = metrics.pop("seconds", None)
        columns = {k: float_or_none(metrics.pop(k, None)) for k in RUN_METRIC_COLUMNS}
        extra = to_json(metrics) if metrics else None
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute("SELECT status, started FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise ValueError(f"run {run_id} does not exist in store {self.path}")
            if row[0] != "running":
                raise ValueError(f"run {run_id} is already {row[0]}; only a running run can be finished")
            seconds = now - row[1] if seconds is None else float(seconds)
            conn.execute(
                "UPDATE runs SET status = ?, error = ?, finished = ?, seconds = ?, "
                + ", ".join(f"{k} = ?" for k in RUN_METRIC_COLUMNS)
                + ", extra_json = ? WHERE id = ?",
                (status, error, now, seconds, *columns.values(), extra, run_id),
            )

    def mark_interrupted(self) -> int:
        """Mark every ``running`` run ``interrupted`` (error 'interrupted' too); returns how many.

        Safe only while holding the writer lock (the constructor calls it): then no live
        process is running those runs.
        """
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, error = ?, finished = ? WHERE status = 'running'",
                (INTERRUPTED, INTERRUPTED, time.time()),
            )
            return cur.rowcount

    @_reads
    def run(self, run_id: int) -> dict:
        """One run as a dict (see ``runs``); ValueError (``RunNotFound``) if it does not exist."""
        row = self.conn.execute(RUN_SELECT + " WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"run {run_id} does not exist in store {self.path}")
        return run_dict(row)

    @_reads
    def runs(self, search_id: int | None = None) -> list[dict]:
        """Runs in id order, all or those of one search.

        Each dict: id, search_id, search (name or None), stage, trial_index, params, status,
        error, started, finished, seconds, val_acc, train_acc, loss, epochs, best_val_acc, extra.
        """
        sql = RUN_SELECT
        args: tuple = ()
        if search_id is not None:
            sql += " WHERE r.search_id = ?"
            args = (search_id,)
        return [run_dict(row) for row in self.conn.execute(sql + " ORDER BY r.id", args)]

    @_reads
    def finished_trials(self, search_id: int) -> dict[tuple[int, int], dict]:
        """Trials of a search that resume must not redo: ``(stage, trial_index) -> run``.

        Every final status counts (a trial that exploded or raised would do so again); running
        and interrupted runs do not. Where a trial ran more than once, the latest wins.
        """
        done = {}
        for run in self.runs(search_id):
            if run["status"] in ("running", INTERRUPTED):
                continue
            done[(run["stage"], run["trial_index"])] = run
        return done

    # -- metric series ---------------------------------------------------------------

    def log_metrics(self, run_id: int, kind: str, steps: Iterable[int], values: Iterable[float]) -> None:
        """Append points of the series ``kind`` ('loss', 'train_acc', 'val_acc', 'lr', a monitor name).

        Inputs: ``steps`` integers (iteration or epoch), ``values`` floats, equal lengths.
        NaN is stored as SQL NULL and read back as NaN.
        """
        steps = [int(s) for s in steps]
        values = [float_or_none(v) for v in values]
        if len(steps) != len(values):
            raise ValueError(f"log_metrics {kind!r}: {len(steps)} steps but {len(values)} values")
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO metrics (run_id, kind, step, value) VALUES (?, ?, ?, ?)",
                [(run_id, kind, s, v) for s, v in zip(steps, values)],
            )

    @_reads
    def metric_series(self, run_id: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """The series ``kind`` of a run ordered by step: ``(steps int64 (T,), values float64 (T,))``."""
        rows = self.conn.execute(
            "SELECT step, value FROM metrics WHERE run_id = ? AND kind = ? ORDER BY step, rowid", (run_id, kind)
        ).fetchall()
        steps = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([math.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
        return steps, values

    @_reads
    def metric_kinds(self, run_id: int) -> list[str]:
        """Names of the series logged for a run, sorted."""
        rows = self.conn.execute("SELECT DISTINCT kind FROM metrics WHERE run_id = ? ORDER BY kind", (run_id,))
        return [r[0] for r in rows]

    # -- findings and artifacts ------------------------------------------------------

    def add_findings(self, run_id: int | None, findings: Iterable) -> None:
        """Record doctor findings: ``babysit.doctor.Finding`` objects or dicts with the same fields.

        Fields: check, status, value, expected, explanation, advice, details; ``value``,
        ``expected`` and ``details`` are stored as JSON. ``run_id`` None for findings about
        the data or setup rather than one run.
        """
        now = time.time()
        rows = []
        for finding in findings:
            f = finding_fields(finding)
            rows.append(
                (
                    run_id,
                    f["check"],
                    f["status"],
                    to_json(f.get("value")),
                    to_json(f.get("expected")),
                    f.get("explanation"),
                    f.get("advice"),
                    to_json(f.get("details") or {}),
                    now,
                )
            )
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO findings (run_id, check_name, status, value_json, expected_json, explanation, advice, "
                "details_json, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    @_reads
    def findings(self, run_id: int | None = None) -> list[dict]:
        """Findings in insertion order, all or those of one run: dicts with id, run_id, check,
        status, value, expected, explanation, advice, details, created."""
        sql = (
            "SELECT id, run_id, check_name, status, value_json, expected_json, explanation, advice, details_json, "
            "created FROM findings"
        )
        args: tuple = ()
        if run_id is not None:
            sql += " WHERE run_id = ?"
            args = (run_id,)
        keys = ("id", "run_id", "check", "status", "value", "expected", "explanation", "advice", "details", "created")
        out = []
        for row in self.conn.execute(sql + " ORDER BY id", args):
            d = dict(zip(keys, row))
            for key in ("value", "expected", "details"):
                d[key] = from_json(d[key])
            out.append(d)
        return out

    def add_artifact(self, run_id: int | None, kind: str, path: str | Path) -> int:
        """Record a file produced by a run ('checkpoint', 'report', 'plot', ...); returns its id."""
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO artifacts (run_id, kind, path, created) VALUES (?, ?, ?, ?)",
                (run_id, kind, str(path), time.time()),
            )
            return cur.lastrowid

    @_reads
    def artifacts(self, run_id: int | None = None) -> list[dict]:
        """Artifacts in insertion order, all or those of one run: dicts with id, run_id, kind, path, created."""
        sql = "SELECT id, run_id, kind, path, created FROM artifacts"
        args: tuple = ()
        if run_id is not None:
            sql += " WHERE run_id = ?"
            args = (run_id,)
        keys = ("id", "run_id", "kind", "path", "created")
        return [dict(zip(keys, row)) for row in self.conn.execute(sql + " ORDER BY id", args)]

