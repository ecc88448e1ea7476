"""Schema version 3: status 'stopped' for early-stopped search trials; a version-2 store upgrades in place."""

from __future__ import annotations

import sqlite3

import pytest

from babysit.store import FINAL_STATUSES, LATEST_VERSION, RunStore, schema


def _write_v2_store(path) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        assert schema.migrate(conn) == 2
    with pytest.raises(sqlite3.IntegrityError):  # version 2 does not know the status
        conn.execute("INSERT INTO runs (params_json, status, started) VALUES ('{}', 'stopped', 1.0)")
    conn.execute("INSERT INTO searches VALUES (1, 'search', '{}', 'hash', 1.0)")
    run_id = conn.execute("INSERT INTO runs (search_id, stage, trial_index, params_json, status, started, val_acc) "
                          "VALUES (1, 1, 0, '{\"lr\":0.1}', 'finished', 2.0, 0.4)").lastrowid
    conn.execute("INSERT INTO metrics VALUES (?, 'loss', 0, 2.5)", (run_id,))
    conn.close()
    return run_id


def test_a_v2_store_upgrades_and_takes_stopped_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    old = _write_v2_store(path)
    assert "stopped" in FINAL_STATUSES and LATEST_VERSION == 3
    with RunStore(path) as store:
        (run,) = store.runs()
        assert (run["id"], run["status"], run["val_acc"]) == (old, "finished", 0.4)
        assert store.metric_series(old, "loss")[1].tolist() == [2.5]
        new = store.start_run(1, 1, 1, {"lr": 1e-5})
        store.finish_run(new, "stopped", {"val_acc": 0.1, "epochs": 1, "rung": 1})
        assert store.run(new)["status"] == "stopped" and store.run(new)["extra"]["rung"] == 1
        assert set(store.finished_trials(1)) == {(1, 0), (1, 1)}  # a stopped trial is done: resume skips it
        conn = store.conn
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
