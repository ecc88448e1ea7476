"""Schema upgrades: stores written by older babysit versions open, upgraded in place, nothing lost."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from babysit.errors import StoreError
from babysit.store import INTERRUPTED, LATEST_VERSION, RunStore, schema

# SHA-256 of migration 1's statements as babysit 0.1.0 shipped them: old migrations are never
# edited (stores in the field were built by them), so the v1 store below is what 0.1.0 wrote.
V1_SHA256 = "2fa9849f91f59367b234d5e804d8af73c3cf2c51122d84123677d59e08fcde43"

SPEC_JSON = '{"seed":0,"trials":4}'


def _write_v1_store(path) -> dict[str, int]:
    """A version-1 store as babysit 0.1.0 left it after a kill: returns run ids by what happened to them."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        assert schema.migrate(conn) == 1
    conn.execute("INSERT INTO searches VALUES (1, 'search', ?, 'hash', 1.0)", (SPEC_JSON,))
    ids = {}
    rows = [  # (name, trial, status, error, val_acc)
        ("finished", 0, "finished", None, 0.41),
        ("crashed", 1, "failed", "ValueError: boom", None),
        ("interrupted", 2, "failed", "interrupted", None),  # 0.1.0's mark for a run its writer left running
        ("left_running", 3, "running", None, None),  # the writer was killed after that; nobody reopened
    ]
    for name, trial, status, error, val_acc in rows:
        cur = conn.execute(
            "INSERT INTO runs (search_id, stage, trial_index, params_json, status, error, started, val_acc) "
            "VALUES (1, 1, ?, ?, ?, ?, 2.0, ?)", (trial, f'{{"lr":{10.0 ** -trial}}}', status, error, val_acc))
        ids[name] = cur.lastrowid
    plain = conn.execute("INSERT INTO runs (params_json, status, started) VALUES ('{}', 'finished', 3.0)")
    ids["plain"] = plain.lastrowid
    conn.executemany("INSERT INTO metrics VALUES (?, 'loss', ?, ?)", [(ids["finished"], s, 2.5 - s) for s in range(3)])
    conn.execute("INSERT INTO findings (run_id, check_name, status, value_json, created) "
                 "VALUES (?, 'loss_curve', 'pass', '1.5', 4.0)", (ids["finished"],))
    conn.execute("INSERT INTO artifacts (run_id, kind, path, created) VALUES (?, 'checkpoint', 'm.safetensors', 5.0)",
                 (ids["finished"],))
    conn.close()
    return ids


def test_migration_1_is_as_shipped():
    assert hashlib.sha256("\n".join(schema.MIGRATIONS[0]).encode()).hexdigest() == V1_SHA256


def test_a_v1_store_is_upgraded_in_place_keeping_every_run(tmp_path):
    path = tmp_path / "runs.sqlite"
    ids = _write_v1_store(path)
    with pytest.raises(StoreError, match="schema version 1; open it once for writing to upgrade it"):
        RunStore(path, readonly=True)
    with RunStore(path) as store:
        runs = {r["id"]: r for r in store.runs()}
        assert sorted(runs) == sorted(ids.values())  # same ids: series, findings, artifacts still attached
        status = {name: (runs[i]["status"], runs[i]["error"]) for name, i in ids.items()}
        assert status == {
            "finished": ("finished", None), "crashed": ("failed", "ValueError: boom"),
            "interrupted": (INTERRUPTED, INTERRUPTED),  # by the migration
            "left_running": (INTERRUPTED, INTERRUPTED),  # by this writer opening the store
            "plain": ("finished", None),
        }
        assert runs[ids["finished"]]["val_acc"] == 0.41 and runs[ids["finished"]]["params"] == {"lr": 1.0}
        assert store.metric_series(ids["finished"], "loss")[1].tolist() == [2.5, 1.5, 0.5]
        assert [f["value"] for f in store.findings(ids["finished"])] == [1.5]
        assert [a["path"] for a in store.artifacts(ids["finished"])] == ["m.safetensors"]
        assert set(store.finished_trials(1)) == {(1, 0), (1, 1)}  # a resume reruns trials 2 and 3
        store.finish_run(store.start_run(1, 1, 2, {"lr": 0.01}), "finished", {"val_acc": 0.5})  # the new table writes
        conn = store.conn
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION,)]
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        index = conn.execute("SELECT tbl_name FROM sqlite_master WHERE name = 'runs_by_trial'").fetchall()
        assert index == [("runs",)]
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs_v2'").fetchone() == (0,)
        # children still reference runs (renaming the old table away would have repointed them at it)
        assert "REFERENCES runs(id)" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'metrics'").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE runs SET status = 'lost' WHERE id = ?", (ids["plain"],))
    with RunStore(path, readonly=True) as reader:
        assert reader.run(ids["interrupted"])["status"] == INTERRUPTED


def test_a_new_store_takes_every_status(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        rid = store.start_run(None, None, None, {})
        store.mark_interrupted()
        assert store.run(rid)["status"] == INTERRUPTED
        sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
        assert "'interrupted'" in sql


def test_an_older_store_is_migrated_in_place_keeping_its_runs(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as s:
        rid = s.start_run(None, None, None, {"lr": 1e-3})
        s.finish_run(rid, "finished", {"val_acc": 0.5})
    v2 = ("ALTER TABLE runs ADD COLUMN note TEXT", "UPDATE runs SET note = 'migrated'")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + (v2,))
    monkeypatch.setattr(schema, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(StoreError, match=f"schema version {LATEST_VERSION}; open it once for writing to upgrade it"):
        RunStore(path, readonly=True)
    with RunStore(path) as s:
        assert s.run(rid)["val_acc"] == 0.5
        assert s.conn.execute("SELECT note FROM runs").fetchall() == [("migrated",)]
        assert s.conn.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION + 1,)]
    with RunStore(path, readonly=True) as s:
        assert s.run(rid)["status"] == "finished"


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as s:
        s.start_run(None, None, None, {})
    broken = ("ALTER TABLE runs ADD COLUMN note TEXT", "THIS IS NOT SQL")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + (broken,))
    monkeypatch.setattr(schema, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(StoreError, match=f"could not be upgraded from schema version {LATEST_VERSION} to "
                       f"{LATEST_VERSION + 1} .*the store is unchanged"):
        RunStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION,)]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    assert "note" not in columns and conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    conn.close()
