"""Search trials record the training monitors (sampled), their histograms and diagnoses: every trial gets a full run page."""

from __future__ import annotations

from babysit.dashboard import views
from babysit.dashboard.source import StoreSource
from babysit.doctor.monitor_series import histogram_series
from babysit.search.trial import TRIAL_MONITOR_EVERY, DataRef, TrialTask, run_trial
from babysit.store import RunStore
from babysit.store.recording import record_run


def test_a_trial_records_its_monitors_histograms_and_diagnoses(tmp_path):
    task = TrialTask(DataRef("digits"), "fc:16", {"lr": 5e-2, "reg": 1e-4}, epochs=2, seed=1, stage=1, index=0)
    record = run_trial(task)
    assert record.status == "finished", record.error
    steps, ratios = record.series["update_ratio:W1"]
    assert steps[0] == 1 and all(b - a == TRIAL_MONITOR_EVERY for a, b in zip(steps, steps[1:]))
    assert all(r > 0 for r in ratios)
    assert any(k.startswith("act_hist:relu1@") for k in record.series) and "weight_std:W2" in record.series
    assert {f.check for f in record.findings} >= {"loss_curve", "accuracy_gap"}
    assert record.metrics["val_examples"] > 0 and record.metrics["train_examples"] > record.metrics["val_examples"]
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_id = store.start_run(None, 1, 0, task.params)
        record_run(store, run_id, record)
    page = views.run_view(StoreSource(tmp_path / "runs.sqlite"), run_id)
    assert "update_ratio:W1" in page["series"] and page["histograms"]["relu1"]
    assert page["diagnosis"] != "" and page["accuracy"]["intervals"]["val_acc"]["n"] == record.metrics["val_examples"]


def test_monitors_off_gives_the_plain_series():
    record = run_trial(TrialTask(DataRef("digits"), "fc:16", {"lr": 5e-2}, epochs=1, seed=1), monitor_every=0)
    assert sorted(record.series) == ["loss", "lr", "train_acc", "val_acc"] and record.findings == []


def test_histogram_series_pairs_counts_with_edges():
    history = {"activations": {"histograms": [{"iteration": 7, "epoch": 1, "layers": {
        "relu1": {"counts": [1, 2, 3], "edges": [0.0, 0.5, 1.0, 1.5]}}}]}}
    assert histogram_series(history) == {"act_hist:relu1@7": ([0, 1, 2], [1.0, 2.0, 3.0]),
                                         "act_edges:relu1@7": ([0, 1, 2, 3], [0.0, 0.5, 1.0, 1.5])}
    assert histogram_series(None) == {}
