"""run_record: a trained Solver as the plain RunRecord every writer stores."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from babysit.nn import FullyConnectedNet
from babysit.train.outcome import RunRecord, lr_changes, run_record
from babysit.train.solver import Solver


def _solver(lr=1e-2, epochs=2, lr_decay=0.5):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    model = FullyConnectedNet([8], input_dim=5, num_classes=3, seed=0)
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}, update_rule="sgd",
                    optim_config={"learning_rate": lr}, lr_decay=lr_decay, batch_size=20, num_epochs=epochs,
                    verbose=False, seed=0)
    return solver.train()


def test_the_record_holds_status_metrics_and_every_series_including_lr():
    solver = _solver()
    record = run_record(solver, extra_metrics={"role": "final"})
    assert record.status == "finished" and record.error is None
    assert "status" not in record.metrics  # the status is the record's own field
    assert record.metrics["val_acc"] == solver.best_val_acc and record.metrics["role"] == "final"
    assert record.metrics["epochs"] == 2 and record.metrics["iterations"] == 6
    assert record.series["loss"] == ([1, 2, 3, 4, 5, 6], pytest.approx(solver.loss_history))
    assert record.series["val_acc"][0] == [1, 2] and record.series["train_acc"][1] == solver.train_acc_history
    # the rate halves after each epoch of 3 iterations: recorded where it changes
    assert record.series["lr"] == ([1, 4], [1e-2, 5e-3])
    assert pickle.loads(pickle.dumps(record)) == record


def test_a_run_stopped_on_purpose_is_stored_as_finished_with_its_reason():
    from babysit.train.callbacks import Callback

    class StopNow(Callback):
        def on_epoch_end(self, solver):
            solver.request_stop("stopped", "enough")

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    solver = Solver(FullyConnectedNet([4], input_dim=4, num_classes=2, seed=0),
                    {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, num_epochs=5, verbose=False,
                    callbacks=[StopNow()], batch_size=20)
    solver.train()
    record = run_record(solver)
    assert solver.status == "stopped" and record.status == "finished"
    assert record.metrics["stop_reason"] == "enough" and record.metrics["epochs"] == 1


def test_an_exploded_run_keeps_its_status_and_a_nonfinite_loss_becomes_none():
    solver = _solver(lr=1e6, epochs=3, lr_decay=1.0)
    record = run_record(solver, series={"extra": ([1], [0.5])})
    assert record.status in ("exploded", "diverged")
    assert record.metrics["loss"] is None or np.isfinite(record.metrics["loss"])
    assert record.series["extra"] == ([1], [0.5]) and "loss" in record.series


def test_lr_changes_keeps_only_the_change_points():
    assert lr_changes([0.1, 0.1, 0.05, 0.05, 0.05, 0.01]) == [(1, 0.1), (3, 0.05), (6, 0.01)]
    assert lr_changes([]) == []
    assert RunRecord("failed").series == {} and RunRecord("failed").metrics == {}
