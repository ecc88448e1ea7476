import json
import math

import numpy as np
import pytest

from babysit.doctor.monitors import (HOOKS, ActivationMonitor, GradientMonitor, TrainingMonitor, UpdateRatioMonitor,
                                     WeightStatsMonitor, update_ratio)
from babysit.errors import ConfigError
from babysit.train.solver import Solver

from .doctor_cases import fc_factory


def train(model, data, callbacks, *, epochs=2, lr=1e-2, update_rule="sgd", batch_size=50):
    solver = Solver(model, data, update_rule=update_rule, optim_config={"learning_rate": lr}, num_epochs=epochs,
                    batch_size=batch_size, verbose=False, seed=0, callbacks=callbacks)
    return solver.train()


def test_training_monitor_history_is_sampled_and_json_able(small_digits):
    monitor = TrainingMonitor(every=5)
    solver = train(fc_factory([30, 30])(), small_digits, [monitor])  # 400 rows / 50 = 8 iterations per epoch
    h = monitor.history
    assert solver.iteration == 16
    assert h["every"] == 5
    assert h["update_ratio"]["iteration"] == [1, 6, 11, 16]
    assert h["activations"]["iteration"] == [1, 6, 11, 16]
    assert h["gradients"]["iteration"] == [1, 6, 11, 16]
    assert h["weights"]["epoch"] == [0, 1, 2]
    assert set(h["update_ratio"]["params"]) == {"W1", "W2", "W3"}
    assert set(h["activations"]["layers"]) == {"relu1", "relu2"}
    assert set(h["gradients"]["params"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    # histograms: the first sampled iteration, then the last iteration of every epoch
    assert [x["iteration"] for x in h["activations"]["histograms"]] == [1, 8, 16]
    assert [x["iteration"] for x in h["gradients"]["histograms"]] == [8, 16]
    json.dumps(h, allow_nan=False)


def test_update_ratio_matches_the_lectures_formula_for_sgd(small_digits):
    # the slide: update = -learning_rate * dW; ratio = norm(update) / norm(W), with W before the update
    model = fc_factory([20])()
    W_before = model.params["W1"].copy()
    monitor = UpdateRatioMonitor(every=1)
    grads = {}

    class KeepFirstGrad(UpdateRatioMonitor):
        def on_iteration_end(self, solver):
            if solver.iteration == 1:
                grads.update({k: np.array(v) for k, v in solver.grads.items()})

    train(model, small_digits, [monitor, KeepFirstGrad()], epochs=1, lr=1e-2)
    expected = np.linalg.norm(1e-2 * grads["W1"]) / np.linalg.norm(W_before)
    assert monitor.history["params"]["W1"][0] == pytest.approx(expected, rel=1e-4)
    assert len(monitor.history["iteration"]) == 8


def test_update_ratio_works_for_any_update_rule(small_digits):
    monitor = UpdateRatioMonitor(every=2)
    train(fc_factory([20])(), small_digits, [monitor], update_rule="adam", lr=1e-3, epochs=1)
    ratios = monitor.history["params"]["W1"]
    assert monitor.history["iteration"] == [1, 3, 5, 7]
    assert all(1e-5 < r < 1e-1 for r in ratios)


def test_update_ratio_edge_cases():
    z = np.zeros(3, np.float32)
    assert update_ratio(z, z) == 0.0
    assert update_ratio(z, np.ones(3, np.float32)) == math.inf
    assert update_ratio(np.ones(4, np.float32), np.full(4, 1.5, np.float32)) == pytest.approx(0.5)


def test_weight_stats_track_each_epoch(small_digits):
    model = fc_factory([20])()
    monitor = WeightStatsMonitor()
    train(model, small_digits, [monitor], epochs=3)
    series = monitor.history["params"]["W1"]
    assert monitor.history["epoch"] == [0, 1, 2, 3]
    assert len(series["mean"]) == len(series["std"]) == 4
    assert series["std"][0] == pytest.approx(math.sqrt(2 / 64), rel=0.1)  # He init over 64 inputs


def test_activation_monitor_sees_dead_units(small_digits):
    model = fc_factory([20])()
    model.params["b1"] = np.full_like(model.params["b1"], -100.0)  # no ReLU ever fires
    monitor = ActivationMonitor(every=1)
    train(model, small_digits, [monitor], epochs=1)
    assert all(d == 1.0 for d in monitor.history["layers"]["relu1"]["dead"])
    assert all(s is None for s in monitor.history["layers"]["relu1"]["saturated"])


def test_activation_monitor_sees_saturation(small_digits):
    monitor = ActivationMonitor(every=4)
    train(fc_factory([100, 100], activation="tanh", weight_scale=1.0)(), small_digits, [monitor], epochs=1, lr=1e-4)
    assert monitor.history["layers"]["tanh2"]["saturated"][0] > 0.5
    assert monitor.history["layers"]["tanh2"]["dead"][0] is None


def test_gradient_monitor_norms_match_the_solvers_grads(small_digits):
    seen = {}

    class Spy(GradientMonitor):
        def on_iteration_end(self, solver):
            super().on_iteration_end(solver)
            if solver.iteration == 1:
                seen["W2"] = float(np.linalg.norm(solver.grads["W2"]))

    spy = Spy(every=3)
    train(fc_factory([20])(), small_digits, [spy], epochs=1)
    assert spy.history["params"]["W2"]["norm"][0] == pytest.approx(seen["W2"], rel=1e-5)


@pytest.mark.parametrize("monitor", [TrainingMonitor, UpdateRatioMonitor, ActivationMonitor, GradientMonitor])
@pytest.mark.parametrize("every", [0, -1, 1.5, "3", True, None])
def test_every_must_be_a_positive_integer(monitor, every):
    with pytest.raises(ConfigError, match=rf"The 'every' parameter of {monitor.__name__} must be an int in "
                                          r"\[1, inf\)\. Got "):
        monitor(every=every)


def test_update_ratio_monitor_params_choice():
    with pytest.raises(ConfigError, match="The 'params' parameter of UpdateRatioMonitor must be one of 'weights', "
                                          "'all'. Got 'biases' instead."):
        UpdateRatioMonitor(params="biases")


def test_training_monitor_fires_every_hook_of_every_monitor():
    calls = []

    class Probe:
        def __getattr__(self, hook):
            return lambda solver, *args: calls.append((hook, *args))

    monitor = TrainingMonitor()
    monitor.monitors = {"a": Probe(), "b": Probe()}
    interrupt = KeyboardInterrupt()
    for hook in HOOKS:
        getattr(monitor, hook)(None, *([interrupt] if hook == "on_train_abort" else []))
    assert calls == [(h, *([interrupt] if h == "on_train_abort" else [])) for h in HOOKS for _ in "ab"]
    assert set(HOOKS) == {"on_train_begin", "on_epoch_begin", "on_iteration_end", "on_epoch_end", "on_train_end",
                          "on_train_abort"}


def test_monitor_on_an_exploding_run_records_non_finite_values_without_warnings(small_digits):
    monitor = TrainingMonitor(every=1)
    solver = train(fc_factory([20])(), small_digits, [monitor], lr=1e6, epochs=1)
    assert solver.status in ("exploded", "diverged")
    assert len(monitor.history["update_ratio"]["iteration"]) == solver.iteration
