"""run_trial: a pure, picklable function from settings to a plain dict; explosions stop early; errors become 'failed'."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.search.trial import (
    DataRef,
    TrialTask,
    lr_changes,
    model_spec_with_hidden,
    prepared_data,
    run_trial,
    trial_seed,
)

DIGITS = DataRef("digits", seed=0, preprocess="standardize")


def task(params, epochs=2, seed=5, model="fc:32"):
    return TrialTask(DIGITS, model, params, epochs, seed, stage=1, index=0)


def test_a_good_trial_learns_and_returns_plain_values():
    result = run_trial(task({"lr": 3e-2, "reg": 1e-3}, epochs=3))
    assert result["status"] == "finished" and result["error"] is None
    assert result["val_acc"] > 0.8 and result["train_acc"] > 0.8  # digits, 3 epochs
    assert result["epochs"] == 3
    n_train = len(prepared_data(DIGITS).y_train)
    assert result["iterations"] == 3 * (n_train // 100)
    series = result["series"]
    assert len(series["loss"]) == result["iterations"] and len(series["val_acc"]) == 3
    assert result["val_acc"] == max(series["val_acc"])  # the kept model is the best epoch's
    # lecture's per-epoch decay 0.95: the rate changes at the first iteration of each epoch
    per_epoch = n_train // 100
    assert series["lr"] == [[1, 3e-2], [1 + per_epoch, 3e-2 * 0.95], [1 + 2 * per_epoch, 3e-2 * 0.95**2]]
    assert 0 <= result["data_seconds"] < 60 and result["seconds"] > 0  # loading is kept out of 'seconds'
    json.dumps(result)  # plain values only: travels from any worker and into the store as is
    assert pickle.loads(pickle.dumps(result)) == result


def test_same_task_same_result_and_the_seed_matters():
    a = run_trial(task({"lr": 1e-2, "reg": 1e-4}))
    b = run_trial(task({"lr": 1e-2, "reg": 1e-4}))
    c = run_trial(task({"lr": 1e-2, "reg": 1e-4}, seed=6))
    assert a["series"] == b["series"] and a["val_acc"] == b["val_acc"]
    assert a["series"]["loss"] != c["series"]["loss"]


def test_a_huge_learning_rate_explodes_within_a_few_iterations():
    result = run_trial(task({"lr": 1e3, "reg": 0.0}, epochs=5))
    assert result["status"] in ("exploded", "diverged")
    assert result["iterations"] <= 5  # stopped at once, not after 5 epochs of 14 iterations
    assert result["epochs"] == 0 and result["val_acc"] is None
    assert "first loss" in result["stop_reason"] or "became" in result["stop_reason"]


def test_a_trial_that_raises_returns_failed_with_the_error():
    # weight_scale applies to init 'small' only: building the model raises ConfigError inside the trial
    result = run_trial(task({"lr": 1e-2, "init": "he", "weight_scale": 1e-2}))
    assert result["status"] == "failed"
    assert result["error"].startswith("ConfigError: weight_scale applies to init='small' only")
    assert result["val_acc"] is None and result["series"]["loss"] == []
    json.dumps(result)


def test_a_missing_data_source_fails_the_trial_not_the_caller(tmp_path):
    bad = TrialTask(DataRef(f"npz:{tmp_path / 'missing.npz'}"), "fc:8", {"lr": 1e-2}, 1, 0)
    result = run_trial(bad)
    assert result["status"] == "failed" and "DataError" in result["error"]


def test_hyperparameters_reach_the_model_and_the_solver():
    from babysit.search.trial import build_trial_model, make_solver

    data = prepared_data(DIGITS)
    params = {"hidden": 17, "dropout": 0.25, "reg": 0.5, "lr": 1e-3, "momentum": 0.5, "batch_size": 50,
              "lr_decay": 0.8, "update": "nesterov"}
    model = build_trial_model("fc:100,100", params, data.input_shape, data.num_classes, seed=0)
    assert model.params["W1"].shape == (64, 17) and model.params["W2"].shape == (17, 17)
    assert model.reg == 0.5 and model.params["W1"].dtype == np.float32
    solver = make_solver(model, data.solver_data(), params, 2, seed=0)
    assert solver.batch_size == 50 and solver.optimizer.config["momentum"] == 0.5
    assert type(solver.optimizer).__name__ == "Nesterov"
    assert solver.schedule.lr_at(1, 0) == pytest.approx(1e-3 * 0.8)


def test_horizon_compresses_the_long_runs_decay_into_the_trials_epochs():
    from babysit.search.trial import build_trial_model, epoch_decay, make_solver

    data = prepared_data(DIGITS)
    params = {"lr": 1e-2, "lr_decay": 0.95, "horizon": 80}
    assert epoch_decay(params, 80) == pytest.approx(0.95)
    assert epoch_decay(params, 5) == pytest.approx(0.95 ** 16)
    assert epoch_decay({"lr_decay": 0.9}, 5) == 0.9  # no horizon: the per-epoch decay as given
    model = build_trial_model("fc:8", params, data.input_shape, data.num_classes, seed=0)
    solver = make_solver(model, data.solver_data(), params, 5, seed=0)
    # after its 5 epochs the trial's rate is where an 80-epoch run's is after 80
    assert solver.schedule.lr_at(5, 0) == pytest.approx(1e-2 * 0.95 ** 80, rel=1e-6)
    solver.train()
    assert solver.lr_history[-1] == pytest.approx(1e-2 * 0.95 ** 64, rel=1e-5)  # the last epoch's rate


def test_hidden_needs_a_hidden_layer_and_unknown_names_are_refused():
    assert model_spec_with_hidden("conv:8,16/100", 64) == "conv:8,16/64"
    with pytest.raises(ConfigError, match="--hidden: the model fc has no hidden affine layer"):
        model_spec_with_hidden("fc", 50)
    result = run_trial(task({"lr": 1e-2, "lr_rate": 1e-2}))
    assert result["status"] == "failed" and "'name' parameter of hyperparameter" in result["error"]
    assert "Got 'lr_rate' instead" in result["error"]


def test_trial_seeds_depend_on_seed_stage_and_index_only():
    seeds = {trial_seed(s, st, i) for s in range(3) for st in (1, 2) for i in range(5)}
    assert len(seeds) == 30
    assert trial_seed(1, 2, 3) == trial_seed(1, 2, 3)


def test_lr_changes_keeps_only_the_change_points():
    assert lr_changes([0.1, 0.1, 0.05, 0.05, 0.05, 0.01]) == [[1, 0.1], [3, 0.05], [6, 0.01]]
    assert lr_changes([]) == []
