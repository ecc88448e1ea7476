"""record_run: the one way a RunRecord reaches the store (series and findings first, status last)."""

from __future__ import annotations

import pytest

from babysit.doctor import Finding
from babysit.errors import BabysitError
from babysit.store import RunStore
from babysit.store.recording import record_run
from babysit.train.outcome import RunRecord


def test_record_run_writes_series_findings_status_metrics_and_artifacts(tmp_path):
    artifact = tmp_path / "model.safetensors"
    artifact.write_bytes(b"x")
    record = RunRecord(
        "finished", {"val_acc": 0.5, "epochs": 2, "seconds": 1.5, "host": "h"},
        series={"loss": ([1, 2, 3], [2.3, 2.0, 1.5]), "lr": ([1], [0.1]), "empty": ([], [])},
        findings=[Finding("loss_curve", "pass", "decreasing", None, "goes down", "")],
        artifacts=[("checkpoint", artifact)],
    )
    with RunStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(None, None, None, {"lr": 0.1})
        record_run(store, run_id, record, extra_metrics={"test_acc": 0.4})
        run = store.run(run_id)
        assert run["status"] == "finished" and run["val_acc"] == 0.5 and run["seconds"] == pytest.approx(1.5)
        assert run["extra"]["test_acc"] == 0.4 and run["extra"]["host"] == "h"
        assert list(store.metric_series(run_id, "loss")[1]) == pytest.approx([2.3, 2.0, 1.5])
        assert sorted(store.metric_kinds(run_id)) == ["loss", "lr"]  # an empty series is not written
        assert [f["check"] for f in store.findings(run_id)] == ["loss_curve"]
        assert [a["kind"] for a in store.artifacts(run_id)] == ["checkpoint"]


def test_a_failed_record_keeps_its_error(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(None, 1, 0, {})
        record_run(store, run_id, RunRecord("failed", {"epochs": 0}, error="ValueError: boom"))
        run = store.run(run_id)
        assert run["status"] == "failed" and run["error"] == "ValueError: boom" and store.metric_kinds(run_id) == []


def test_a_record_with_a_status_the_store_does_not_know_writes_nothing_final(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(None, None, None, {})
        with pytest.raises((ValueError, BabysitError)):
            record_run(store, run_id, RunRecord("paused", {}))  # no status of the store
        assert store.run(run_id)["status"] == "running"
