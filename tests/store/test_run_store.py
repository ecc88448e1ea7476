"""RunStore on real SQLite files: round trips and resume bookkeeping.

Refusals and the writer lock: test_store_open.py; schema upgrades: test_store_migrations.py;
kill -9 and concurrent readers: test_store_crash.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3

import numpy as np
import pytest

from babysit.errors import StoreError
from babysit.store import INTERRUPTED, LATEST_VERSION, RUN_STATUSES, RunStore, spec_hash

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


def test_finished_trials_skip_running_and_interrupted_and_keep_the_latest(store):
    sid = store.create_or_open_search("s", SPEC)
    interrupted = store.start_run(sid, 1, 4, {"trial": 4})
    assert store.mark_interrupted() == 1  # what a writer opening the store after a kill does
    outcomes = {0: ("finished", None), 1: ("exploded", None), 2: ("diverged", None), 3: ("failed", "boom")}
    for trial, (status, error) in outcomes.items():
        store.finish_run(store.start_run(sid, 1, trial, {"trial": trial}), status, {"val_acc": trial / 10},
                         error=error)
    still_running = store.start_run(sid, 1, 5, {})
    redo = store.start_run(sid, 1, 0, {"trial": 0})  # a trial run twice: the latest counts
    store.finish_run(redo, "finished", {"val_acc": 0.9})
    other = store.create_or_open_search("other", {})
    store.finish_run(store.start_run(other, 1, 6, {}), "finished", {})
    done = store.finished_trials(sid)
    assert set(done) == {(1, 0), (1, 1), (1, 2), (1, 3)}
    assert done[(1, 0)]["id"] == redo and done[(1, 0)]["val_acc"] == 0.9
    assert done[(1, 3)]["status"] == "failed" and done[(1, 3)]["error"] == "boom"
    assert {still_running, interrupted}.isdisjoint(r["id"] for r in done.values())
    assert store.run(interrupted)["status"] == INTERRUPTED


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
        # the error keeps the word 'interrupted' too, as before the status existed
        assert (run["status"], run["error"]) == (INTERRUPTED, INTERRUPTED) and run["finished"] >= run["started"]
        assert s.run(done)["status"] == "finished"
        assert set(s.finished_trials(sid)) == {(1, 0)}
        assert s.mark_interrupted() == 0
        with pytest.raises(ValueError, match="already interrupted"):
            s.finish_run(left, "finished", {})


def test_finish_run_rejects_bad_status_and_double_finish(store):
    assert INTERRUPTED in RUN_STATUSES
    rid = store.start_run(None, None, None, {})
    for status in ("running", INTERRUPTED):  # 'interrupted' is the store's word, not a run's outcome
        with pytest.raises(ValueError, match=f"must be one of finished, exploded, diverged, failed, stopped; got '{status}'"):
            store.finish_run(rid, status, {})
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
    with pytest.raises(TypeError, match="cannot write a object as JSON"):
        store.start_run(None, None, None, {"bad": object()})
    assert store.runs() == []


def test_spec_json_is_canonical_text(store):
    sid = store.create_or_open_search("s", {"b": 1, "a": np.float32(0.5)})
    text = store.conn.execute("SELECT spec_json FROM searches WHERE id = ?", (sid,)).fetchone()[0]
    assert text == '{"a":0.5,"b":1}'
    assert json.loads(text) == store.searches()[0]["spec"]


def test_spec_text_and_hash_are_what_earlier_versions_wrote(store):
    """A resume matches the stored spec by its hash: the canonical text must never change."""
    assert spec_hash(SPEC) == "84b85d46731cab1d5f8476ea5ce8e52bba6297879245c6c6b049b27be8bdd542"
    odd = {"b": (1, np.float32(0.1), np.int64(3), True, None),
           "a": {"x": np.arange(3), "2": "two", "y": np.float64(1e-7)}, "u": "é"}
    sid = store.create_or_open_search("odd", odd)
    text = store.conn.execute("SELECT spec_json FROM searches WHERE id = ?", (sid,)).fetchone()[0]
    assert text == '{"a":{"2":"two","x":[0,1,2],"y":1e-07},"b":[1,0.10000000149011612,3,true,null],"u":"\\u00e9"}'
    assert spec_hash(odd) == "b8e51704382d72ae8d510cb6d0ab42920866dba5980b869b80891afd55304302"


def test_non_finite_values_in_json_columns_are_null(store):
    rid = store.start_run(None, None, None, {"lr": float("nan"), "grid": (1e-3, float("inf"))})
    store.finish_run(rid, "diverged", {"loss": float("nan"), "lr_final": float("-inf")})
    params_json, extra_json = store.conn.execute("SELECT params_json, extra_json FROM runs").fetchone()
    assert "NaN" not in params_json + extra_json and "Infinity" not in params_json + extra_json
    run = store.run(rid)
    assert run["params"] == {"lr": None, "grid": [1e-3, None]} and run["extra"] == {"lr_final": None}
    assert run["loss"] is None  # a metric column: NaN is NULL there too
