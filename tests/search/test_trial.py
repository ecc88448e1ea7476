"""run_trial: a pure, picklable function from a task to a RunRecord; explosions stop early; errors become 'failed'."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from babysit.search.trial import DataRef, TrialTask, prepared, run_trial, trial_config, trial_seed
from babysit.train.outcome import RunRecord
from babysit.train.recipe import build_model, make_solver

DIGITS = DataRef("digits", seed=0, preprocess="standardize")


def task(params, epochs=2, seed=5, model="fc:32"):
    return TrialTask(DIGITS, model, params, epochs, seed, stage=1, index=0)


def test_a_good_trial_learns_and_returns_plain_values():
    result = run_trial(task({"lr": 3e-2, "reg": 1e-3}, epochs=3))
    assert isinstance(result, RunRecord)
    m = result.metrics
    assert result.status == "finished" and result.error is None
    assert m["val_acc"] > 0.8 and m["train_acc"] > 0.8  # digits, 3 epochs
    assert m["epochs"] == 3
    n_train = len(prepared(DIGITS)[0].y_train)
    assert m["iterations"] == 3 * (n_train // 100)
    series = result.series
    assert len(series["loss"][1]) == m["iterations"] and series["val_acc"] == ([1, 2, 3], series["val_acc"][1])
    assert m["val_acc"] == max(series["val_acc"][1])  # the kept model is the best epoch's
    # lecture's per-epoch decay 0.95: the rate changes at the first iteration of each epoch
    per_epoch = n_train // 100
    assert series["lr"][0] == [1, 1 + per_epoch, 1 + 2 * per_epoch]
    assert series["lr"][1] == pytest.approx([3e-2, 3e-2 * 0.95, 3e-2 * 0.95**2])
    assert 0 <= m["data_seconds"] < 60 and m["seconds"] > 0  # loading is kept out of 'seconds'
    assert pickle.loads(pickle.dumps(result)) == result  # plain values: travels from any worker as is


def test_same_task_same_result_and_the_seed_matters():
    a = run_trial(task({"lr": 1e-2, "reg": 1e-4}))
    b = run_trial(task({"lr": 1e-2, "reg": 1e-4}))
    c = run_trial(task({"lr": 1e-2, "reg": 1e-4}, seed=6))
    assert a.series == b.series and a.metrics["val_acc"] == b.metrics["val_acc"]
    assert a.series["loss"] != c.series["loss"]


def test_a_huge_learning_rate_explodes_within_a_few_iterations():
    result = run_trial(task({"lr": 1e3, "reg": 0.0}, epochs=5))
    assert result.status in ("exploded", "diverged")
    assert result.metrics["iterations"] <= 5  # stopped at once, not after 5 epochs of 14 iterations
    assert result.metrics["epochs"] == 0 and result.metrics["val_acc"] is None
    assert "first loss" in result.metrics["stop_reason"] or "became" in result.metrics["stop_reason"]


def test_a_trial_that_raises_returns_failed_with_the_error():
    # weight_scale applies to init 'small' only: building the model raises ConfigError inside the trial
    result = run_trial(task({"lr": 1e-2, "init": "he", "weight_scale": 1e-2}))
    assert result.status == "failed"
    assert result.error.startswith("ConfigError: ") and "weight_scale" in result.error
    assert result.metrics.get("val_acc") is None and result.series == {}
    assert "Traceback" in result.traceback


def test_a_missing_data_source_fails_the_trial_not_the_caller(tmp_path):
    bad = TrialTask(DataRef(f"npz:{tmp_path / 'missing.npz'}"), "fc:8", {"lr": 1e-2}, 1, 0)
    result = run_trial(bad)
    assert result.status == "failed" and "DataError" in result.error


def test_hyperparameters_reach_the_model_and_the_solver():
    dataset, _ = prepared(DIGITS)
    params = {"hidden": 17, "dropout": 0.25, "reg": 0.5, "lr": 1e-3, "momentum": 0.5, "batch_size": 50,
              "lr_decay": 0.8, "update": "nesterov"}
    config = trial_config(DIGITS, "fc:100,100", params, 2, seed=0)
    model = build_model(config, dataset.input_shape, dataset.num_classes)
    assert model.params["W1"].shape == (64, 17) and model.params["W2"].shape == (17, 17)
    assert model.reg == 0.5 and model.params["W1"].dtype == np.float32
    solver = make_solver(config, model, dataset)
    assert solver.batch_size == 50 and solver.optimizer.config["momentum"] == 0.5
    assert type(solver.optimizer).__name__ == "Nesterov"
    assert solver.schedule.lr_at(1, 0) == pytest.approx(1e-3 * 0.8)


def test_horizon_compresses_the_long_runs_decay_into_the_trials_epochs():
    dataset, _ = prepared(DIGITS)
    params = {"lr": 1e-2, "lr_decay": 0.95, "horizon": 80}
    assert trial_config(DIGITS, "fc:8", params, 80, 0).epoch_decay() == pytest.approx(0.95)
    config = trial_config(DIGITS, "fc:8", params, 5, 0)
    assert config.epoch_decay() == pytest.approx(0.95 ** 16)
    assert trial_config(DIGITS, "fc:8", {"lr_decay": 0.9}, 5, 0).epoch_decay() == 0.9  # no horizon: as given
    solver = make_solver(config, build_model(config, dataset.input_shape, dataset.num_classes), dataset)
    # after its 5 epochs the trial's rate is where an 80-epoch run's is after 80
    assert solver.schedule.lr_at(5, 0) == pytest.approx(1e-2 * 0.95 ** 80, rel=1e-6)
    solver.train()
    assert solver.lr_history[-1] == pytest.approx(1e-2 * 0.95 ** 64, rel=1e-5)  # the last epoch's rate


def test_hidden_needs_a_hidden_layer_and_unknown_names_are_refused():
    assert str(trial_config(DIGITS, "conv:8,16/100", {"hidden": 64}, 1, 0).model_spec()) == "conv:8,16/64"
    result = run_trial(task({"lr": 1e-2, "hidden": 50}, model="fc"))
    assert result.status == "failed" and "has no hidden affine layer" in result.error
    result = run_trial(task({"lr": 1e-2, "lr_rate": 1e-2}))
    assert result.status == "failed" and "'lr_rate'" in result.error


def test_trial_seeds_depend_on_seed_stage_and_index_only():
    seeds = {trial_seed(s, st, i) for s in range(3) for st in (1, 2) for i in range(5)}
    assert len(seeds) == 30
    assert trial_seed(1, 2, 3) == trial_seed(1, 2, 3)


def test_a_trial_on_a_stratified_subset_trains_on_those_rows_and_says_how_many():
    from babysit.search.trial import subset

    full = prepared(DIGITS)[0]
    small, preprocessor = subset(DIGITS, 300)
    assert len(small.y_train) == 300 and preprocessor is prepared(DIGITS)[1]
    counts = np.bincount(small.y_train, minlength=full.num_classes)
    assert counts.max() - counts.min() <= 1  # every class, as evenly as 300 rows allow
    rows = {r.tobytes() for r in full.X_train}
    assert all(r.tobytes() in rows for r in small.X_train)  # rows of the training split, never of val/test
    assert small.X_val is full.X_val and small.X_test is full.X_test
    assert np.array_equal(subset(DIGITS, 300)[0].y_train, small.y_train)  # the same rows for every trial
    assert subset(DIGITS, None)[0] is full and subset(DIGITS, 10**6)[0] is full
    record = run_trial(TrialTask(DIGITS, "fc:32", {"lr": 3e-2, "reg": 1e-3}, 2, seed=5, train_examples=300))
    assert record.status == "finished"
    assert record.metrics["train_examples"] == 300 and record.metrics["iterations"] == 2 * 3
    assert record.metrics["val_examples"] == len(full.y_val)
