"""Numerical faults in training: NaN/inf appearing mid-run in the data, a gradient or the loss stop the run
('diverged', with the cause and what to do), the weights are never updated with them, and this holds with the
explosion guard off too; the softmax loss of huge scores stays finite."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from babysit.errors import InputError
from babysit.nn import FullyConnectedNet, softmax_loss
from babysit.train import Solver
from babysit.train.callbacks import Callback


def _data(rng, n=200, d=12, classes=3):
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return {"X_train": X, "y_train": y, "X_val": X[:50].copy(), "y_val": y[:50].copy()}


class Faulty:
    """A model that behaves as ``model`` until ``at`` (iteration, 1-based), then returns a NaN/inf ``what``."""

    def __init__(self, model, at: int, what: str):
        self.model, self.at, self.what, self.calls = model, at, what, 0
        self.params = model.params

    def loss(self, X, y=None):
        if y is None:
            return self.model.loss(X)
        self.calls += 1
        loss, grads = self.model.loss(X, y)
        if self.calls >= self.at:
            if self.what == "loss":
                loss = float("nan")
            else:
                grads = {**grads, "W2": np.full_like(grads["W2"], np.inf)}
        return loss, grads


class PoisonData(Callback):
    """Writes NaN into a quarter of the training rows after iteration ``at`` (data going bad mid-run)."""

    def __init__(self, at: int):
        self.at = at

    def on_iteration_end(self, solver):
        if solver.iteration == self.at:
            solver.X_train[::4, 0] = np.nan


def _solver(model, data, callbacks=(), explosion_factor=3.0):
    return Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e-2}, batch_size=20, num_epochs=3,
                  verbose=False, seed=0, callbacks=callbacks, explosion_factor=explosion_factor)


def _weights(model):
    return {k: v.copy() for k, v in model.params.items()}


class Linear:
    """A softmax classifier in the cs231n convention that, unlike babysit's models, does not check its input."""

    def __init__(self, d, classes, rng):
        self.params = {"W": (0.01 * rng.standard_normal((d, classes))).astype(np.float32),
                       "b": np.zeros(classes, np.float32)}

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def test_babysit_models_refuse_nan_input_naming_it(rng):
    model = FullyConnectedNet([8], input_dim=12, num_classes=3, seed=0)
    before = _weights(model)
    solver = _solver(model, _data(rng), [PoisonData(at=5)])
    with pytest.raises(InputError, match=r"input X contains \d+ non-finite value\(s\) \(NaN at index"):
        solver.train()
    assert solver.iteration == 5 and all(np.isfinite(v).all() for v in model.params.values())
    assert any(not np.array_equal(before[k], model.params[k]) for k in before)  # it trained until then


@pytest.mark.parametrize("explosion_factor", [3.0, None])
def test_nan_in_the_data_mid_run_stops_with_the_data_named_as_the_cause(rng, explosion_factor):
    model = Linear(12, 3, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the unchecked model computes on the NaN rows
        solver = _solver(model, _data(rng), [PoisonData(at=5)], explosion_factor).train()
    assert solver.status == "diverged" and solver.nonfinite["cause"] == "data"
    assert solver.nonfinite["iteration"] == 6 == solver.stopped_at == solver.iteration
    assert "holds NaN/inf" in solver.stop_reason and "the learning rate is not the cause" in solver.stop_reason
    assert all(np.isfinite(v).all() for v in model.params.values())  # never stepped on the NaN
    assert solver.metrics()["nonfinite_cause"] == "data" and solver.metrics()["status"] == "diverged"


@pytest.mark.parametrize("explosion_factor", [3.0, None])
def test_an_inf_gradient_with_a_finite_loss_stops_before_the_update(rng, explosion_factor):
    inner = FullyConnectedNet([8], input_dim=12, num_classes=3, seed=0)
    model = Faulty(inner, at=7, what="gradient")
    data = _data(rng)
    solver = _solver(model, data, explosion_factor=explosion_factor)
    before = {}

    class Keep(Callback):
        def on_iteration_end(self, s):
            if s.iteration == 6:
                before.update(_weights(inner))

    solver.callbacks.append(Keep())
    solver.train()
    assert solver.status == "diverged" and solver.nonfinite == {"cause": "gradient", "where": "of W2", "iteration": 7}
    assert "the gradient of W2 became NaN/inf at iteration 7 while the loss was" in solver.stop_reason
    assert all(np.isfinite(v).all() for v in inner.params.values())
    # no epoch completed (10 iterations per epoch): the weights are those after iteration 6, not updated at 7
    assert all(np.array_equal(inner.params[k], before[k]) for k in before)


def test_a_nan_loss_on_finite_data_is_the_loss_and_the_lecture_advice(rng):
    model = Faulty(FullyConnectedNet([8], input_dim=12, num_classes=3, seed=0), at=12, what="loss")
    solver = _solver(model, _data(rng), explosion_factor=None).train()
    assert solver.status == "diverged" and solver.nonfinite["cause"] == "loss" and solver.stopped_at == 12
    assert "lower the learning rate" in solver.stop_reason
    assert solver.epoch == 1 and solver.best_epoch == 1  # the epoch before the NaN is the model kept


def test_a_finite_run_is_not_stopped(rng):
    solver = _solver(FullyConnectedNet([8], input_dim=12, num_classes=3, seed=0), _data(rng)).train()
    assert solver.status == "finished" and solver.nonfinite is None and "nonfinite_cause" not in solver.metrics()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30, "max"])
def test_softmax_of_huge_scores_stays_finite(dtype, scale):
    big = np.finfo(dtype).max / 2 if scale == "max" else scale
    scores = np.array([[big, -big, 0.0], [0.0, big, big], [-big, -big, -big]], dtype=dtype)
    y = np.array([1, 2, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        loss, dscores = softmax_loss(scores, y)
    assert np.isfinite(loss) and np.isfinite(dscores).all()
    # row 0 puts all its mass on class 0, the true class 1 gets none: a loss as large as the gap, finite
    assert loss > 0 and dscores.dtype == dtype
