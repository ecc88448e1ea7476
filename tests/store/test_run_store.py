"""RunStore on real SQLite files: round trips, resume bookkeeping, refusals, the writer lock."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from babysit.errors import StoreError
from babysit.store import INTERRUPTED, LATEST_VERSION, RunStore, spec_hash

SPEC = {"space": {"lr": {"type": "log", "low": 1e-6, "high": 1e-3}}, "trials": 10, "stages": 2, "seed": 0}


@pytest.fixture
def store(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as s:
        yield s


def test_new_store_is_wal_with_schema_version_and_application_id(tmp_path):
    path = tmp_path / "sub" / "runs.sqlite"  # parent folder is created
    RunStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION,)]
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x42627973
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"searches", "runs", "metrics", "findings", "artifacts", "schema_version"} <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "metrics_by_run_kind" in indexes


def test_run_round_trip_keeps_params_metrics_and_extra(store):
    sid = store.create_or_open_search("s", SPEC)
    params = {"lr": np.float64(1.405206e-04), "reg": 4.793564e-01, "hidden": np.int64(50), "update": "momentum"}
    rid = store.start_run(sid, 1, 3, params)
    assert store.run(rid)["status"] == "running"
    store.finish_run(
        rid,
        "finished",
        {"val_acc": 0.412, "train_acc": np.float32(0.5), "loss": 1.7, "epochs": 5, "best_val_acc": 0.43,
         "seconds": 12.5, "lr_final": 1e-5},
    )
    run = store.run(rid)
    assert run["params"] == {"lr": 1.405206e-04, "reg": 4.793564e-01, "hidden": 50, "update": "momentum"}
    assert isinstance(run["params"]["hidden"], int)
    assert (run["search"], run["search_id"], run["stage"], run["trial_index"]) == ("s", sid, 1, 3)
    assert run["status"] == "finished" and run["error"] is None
    assert run["val_acc"] == 0.412 and run["loss"] == 1.7 and run["epochs"] == 5 and run["best_val_acc"] == 0.43
    assert run["train_acc"] == pytest.approx(0.5)
    assert run["seconds"] == 12.5
    assert run["extra"] == {"lr_final": 1e-5}
    assert run["finished"] >= run["started"]
    assert store.runs() == [run]


def test_seconds_default_to_wall_time_since_start(store):
    rid = store.start_run(None, None, None, {})
    store.finish_run(rid, "failed", {}, error="ValueError: boom")
    run = store.run(rid)
    assert run["status"] == "failed" and run["error"] == "ValueError: boom"
    assert 0 <= run["seconds"] < 5
    assert run["search"] is None and run["val_acc"] is None


def test_metric_series_round_trip_in_step_order_with_nan(store):
    rid = store.start_run(None, None, None, {"lr": 1e-3})
    store.log_metrics(rid, "loss", range(3), [2.30, 2.1, float("nan")])
    store.log_metrics(rid, "loss", [3, 4], np.array([1.5, 1.4], dtype=np.float32))
    store.log_metrics(rid, "val_acc", [1], [0.3])
    steps, values = store.metric_series(rid, "loss")
    assert steps.dtype == np.int64 and values.dtype == np.float64
    np.testing.assert_array_equal(steps, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(values, [2.30, 2.1, np.nan, 1.5, 1.4], rtol=1e-6)
    assert store.metric_kinds(rid) == ["loss", "val_acc"]
    steps, values = store.metric_series(rid, "missing")
    assert steps.shape == (0,) and values.shape == (0,)
    with pytest.raises(ValueError, match="3 steps but 2 values"):
        store.log_metrics(rid, "loss", [5, 6, 7], [1.0, 2.0])


def test_runs_filter_by_search(store):
    a = store.create_or_open_search("a", SPEC)
    b = store.create_or_open_search("b", {**SPEC, "seed": 1})
    ra = store.start_run(a, 1, 0, {})
    rb = store.start_run(b, 1, 0, {})
    plain = store.start_run(None, None, None, {})
    assert [r["id"] for r in store.runs(a)] == [ra]
    assert [r["id"] for r in store.runs(b)] == [rb]
    assert [r["id"] for r in store.runs()] == [ra, rb, plain]
    assert [s["name"] for s in store.searches()] == ["a", "b"]
    assert store.searches()[0]["spec"] == SPEC


def test_same_search_reopens_whatever_the_key_order(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as s:
        sid = s.create_or_open_search("s", SPEC)
    reordered = dict(reversed(list(SPEC.items())))
    assert spec_hash(reordered) == spec_hash(SPEC)
    with RunStore(path) as s:
        assert s.create_or_open_search("s", reordered) == sid
        assert len(s.searches()) == 1


def test_same_name_with_different_spec_is_refused_and_nothing_lost(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as s:
        sid = s.create_or_open_search("s", SPEC)
        rid = s.start_run(sid, 1, 0, {"lr": 1e-4})
        s.finish_run(rid, "finished", {"val_acc": 0.4})
    with RunStore(path) as s:
        with pytest.raises(StoreError) as err:
            s.create_or_open_search("s", {**SPEC, "trials": 20})
        assert str(err.value) == (
            f"store {path} holds search s with a different spec (differs in: trials); "
            "use another --store or the same arguments"
        )
        assert s.run(rid)["val_acc"] == 0.4
        assert len(s.searches()) == 1


def test_finished_trials_skip_interrupted_and_keep_the_latest(store):
    sid = store.create_or_open_search("s", SPEC)
    outcomes = {0: ("finished", None), 1: ("exploded", None), 2: ("diverged", None), 3: ("failed", "boom"),
                4: ("failed", INTERRUPTED)}
    ids = {}
    for trial, (status, error) in outcomes.items():
        ids[trial] = store.start_run(sid, 1, trial, {"trial": trial})
        store.finish_run(ids[trial], status, {"val_acc": trial / 10}, error=error)
    still_running = store.start_run(sid, 1, 5, {})
    redo = store.start_run(sid, 1, 0, {"trial": 0})  # a trial run twice: the latest counts
    store.finish_run(redo, "finished", {"val_acc": 0.9})
    other = store.create_or_open_search("other", {})
    store.finish_run(store.start_run(other, 1, 6, {}), "finished", {})
    done = store.finished_trials(sid)
    assert set(done) == {(1, 0), (1, 1), (1, 2), (1, 3)}
    assert done[(1, 0)]["id"] == redo and done[(1, 0)]["val_acc"] == 0.9
    assert done[(1, 3)]["status"] == "failed" and done[(1, 3)]["error"] == "boom"
    assert still_running not in {r["id"] for r in done.values()}


def test_reopen_marks_runs_left_running_as_interrupted(tmp_path):
    path = tmp_path / "runs.sqlite"
    s = RunStore(path)
    sid = s.create_or_open_search("s", SPEC)
    done = s.start_run(sid, 1, 0, {})
    s.finish_run(done, "finished", {"val_acc": 0.5})
    left = s.start_run(sid, 1, 1, {})
    s.close()  # as if the driver died with `left` running
    with RunStore(path) as s:
        run = s.run(left)
        assert (run["status"], run["error"]) == ("failed", INTERRUPTED)
        assert s.run(done)["status"] == "finished"
        assert set(s.finished_trials(sid)) == {(1, 0)}
        assert s.mark_interrupted() == 0
        with pytest.raises(ValueError, match="already failed"):
            s.finish_run(left, "finished", {})


def test_finish_run_rejects_bad_status_and_double_finish(store):
    rid = store.start_run(None, None, None, {})
    with pytest.raises(ValueError, match="must be one of finished, exploded, diverged, failed; got 'running'"):
        store.finish_run(rid, "running", {})
    store.finish_run(rid, "exploded", {"loss": float("inf")})
    assert store.run(rid)["loss"] == math.inf
    with pytest.raises(ValueError, match="already exploded"):
        store.finish_run(rid, "finished", {})
    with pytest.raises(ValueError, match="run 99 does not exist"):
        store.finish_run(99, "finished", {})


@dataclasses.dataclass
class PlainFinding:
    check: str
    status: str
    value: object
    expected: object
    explanation: str
    advice: str


def test_findings_round_trip_from_dicts_and_objects(store):
    rid = store.start_run(None, None, None, {})
    store.add_findings(None, [{"check": "data_mean", "status": "pass", "value": [0.1, 0.2], "expected": 0.0,
                               "explanation": "centred", "advice": None}])
    store.add_findings(rid, [PlainFinding("initial_loss", "pass", np.float32(2.3026), "≈ ln(10) = 2.303",
                                          "the loss at init matches chance", "")])
    everything = store.findings()
    assert [f["check"] for f in everything] == ["data_mean", "initial_loss"]
    assert everything[0]["run_id"] is None and everything[0]["value"] == [0.1, 0.2]
    assert everything[0]["expected"] == 0.0 and everything[0]["details"] == {}
    [f] = store.findings(rid)
    assert f["value"] == pytest.approx(2.3026, rel=1e-6)
    assert f["expected"] == "≈ ln(10) = 2.303" and f["explanation"] == "the loss at init matches chance"


def test_doctor_findings_keep_expected_ranges_details_and_non_finite_values(store):
    Finding = pytest.importorskip("babysit.doctor.finding", reason="babysit.doctor.finding not there yet").Finding

    rid = store.start_run(None, None, None, {})
    finding = Finding("lr_probe", "warn", value=float("nan"), expected=(1e-4, 1e-3),
                      explanation="the loss never fell", advice="lower the learning rate",
                      details={"lrs": np.array([1e-5, 1e-4]), "losses": [2.3, float("inf")]})
    store.add_findings(rid, [finding])
    [f] = store.findings(rid)
    assert f["check"] == "lr_probe" and f["status"] == "warn" and f["advice"] == "lower the learning rate"
    assert f["value"] == finding.to_dict()["value"] and f["expected"] == [1e-4, 1e-3]
    assert f["details"] == finding.to_dict()["details"]
    assert f["details"]["lrs"] == [1e-5, 1e-4]


def test_artifacts_round_trip(store, tmp_path):
    rid = store.start_run(None, None, None, {})
    aid = store.add_artifact(rid, "checkpoint", tmp_path / "best.safetensors")
    store.add_artifact(None, "report", "report.html")
    assert [a["id"] for a in store.artifacts(rid)] == [aid]
    assert [(a["kind"], a["path"]) for a in store.artifacts()] == [
        ("checkpoint", str(tmp_path / "best.safetensors")), ("report", "report.html")]


def test_readonly_reader_sees_data_and_cannot_write(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as writer:
        rid = writer.start_run(None, None, None, {"lr": 1e-3})
        with RunStore(path, readonly=True) as reader:  # no writer lock needed
            assert [r["id"] for r in reader.runs()] == [rid]
            with pytest.raises(StoreError, match="read-only"):
                reader.start_run(None, None, None, {})
            with pytest.raises(sqlite3.OperationalError):
                reader.conn.execute("DELETE FROM runs")
        assert writer.run(rid)["status"] == "running"  # a reader does not mark live runs interrupted


def test_unknown_json_type_is_refused_before_anything_is_written(store):
    with pytest.raises(TypeError, match="cannot store a object as JSON"):
        store.start_run(None, None, None, {"bad": object()})
    assert store.runs() == []


# -- refusals --------------------------------------------------------------------------


def test_text_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 20)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"notes.txt is not a babysit run store \(not an SQLite database"):
        RunStore(path)
    assert path.read_bytes() == before


def test_other_sqlite_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.execute("INSERT INTO customers VALUES ('ada')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="is an SQLite database but not a babysit run store .*tables: customers"):
            RunStore(path, readonly=readonly)
    assert path.read_bytes() == before


def test_missing_or_empty_file_for_reading_and_folder_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no run store at"):
        RunStore(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    (tmp_path / "empty.sqlite").write_bytes(b"")
    with pytest.raises(StoreError, match="not a babysit run store"):
        RunStore(tmp_path / "empty.sqlite", readonly=True)
    with pytest.raises(StoreError, match="is a folder"):
        RunStore(tmp_path)


def test_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(StoreError, match=f"cannot create store .*plain/runs.sqlite: File exists: {tmp_path / 'plain'}; check the path"):
        RunStore(tmp_path / "plain" / "runs.sqlite")


def test_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"")
    with RunStore(path) as s:
        assert s.runs() == []


def test_store_from_a_newer_babysit_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=f"schema version 99, newer than this babysit \\(knows up to {LATEST_VERSION}\\)"):
        RunStore(path)


def test_closed_store_says_so(tmp_path):
    s = RunStore(tmp_path / "runs.sqlite")
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="is closed"):
        s.runs()


# -- one writer ------------------------------------------------------------------------


def test_second_writer_in_this_process_is_refused_until_the_first_closes(tmp_path):
    path = tmp_path / "runs.sqlite"
    first = RunStore(path)
    rid = first.start_run(None, None, None, {})
    with pytest.raises(StoreError, match=rf"is already open for writing in this process \(pid {os.getpid()}\)"):
        RunStore(path)
    assert first.run(rid)["status"] == "running"  # the refused writer marked nothing interrupted
    first.close()
    with RunStore(path) as second:
        assert second.run(rid)["error"] == INTERRUPTED


def test_writer_in_another_process_is_named_by_pid(tmp_path):
    path = tmp_path / "runs.sqlite"
    code = textwrap.dedent(
        f"""
        import sys, time
        from babysit.store import RunStore
        s = RunStore({str(path)!r})
        print("open", flush=True)
        sys.stdin.readline()
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match=f"pid {child.pid}"):
            RunStore(path)
    finally:
        child.communicate("\n", timeout=30)
    with RunStore(path):
        pass  # the lock went with the process


def test_spec_json_is_canonical_text(store):
    sid = store.create_or_open_search("s", {"b": 1, "a": np.float32(0.5)})
    text = store.conn.execute("SELECT spec_json FROM searches WHERE id = ?", (sid,)).fetchone()[0]
    assert text == '{"a":0.5,"b":1}'
    assert json.loads(text) == store.searches()[0]["spec"]


def test_forked_child_does_not_keep_the_store_locked(tmp_path):
    """Workers forked by the driver must not hold the writer lock once the driver lets go of it."""
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait until the parent says it is done, touch nothing
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    try:
        store.close()
        other = subprocess.run(
            [sys.executable, "-c", f"from babysit.store import RunStore; RunStore({str(path)!r}).close()"],
            capture_output=True, text=True, timeout=60,
        )
        assert other.returncode == 0, other.stderr
    finally:
        os.write(write_end, b"x")
        os.close(write_end)
        os.waitpid(pid, 0)


def test_an_older_store_is_migrated_in_place_keeping_its_runs(tmp_path, monkeypatch):
    from babysit.store import schema

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
    from babysit.store import schema

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
