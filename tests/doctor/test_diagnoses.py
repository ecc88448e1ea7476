"""The diagnoses on recorded curves of known shapes (synthetic, seeded noise)."""

import math

import numpy as np
import pytest

from babysit.doctor.diagnoses import (diagnose_accuracy_gap, diagnose_loss_curve, diagnose_run, diagnose_solver,
                                      diagnose_units, diagnose_update_ratios)

from .doctor_cases import assert_jsonable, fc_factory

T = np.arange(1000)


def noisy(curve, scale, seed=0):
    return curve + np.random.default_rng(seed).normal(0.0, scale, len(curve))


CURVES = {
    "decreasing": noisy(2.1 * np.exp(-T / 200) + 0.2, 0.05),
    "flat": noisy(np.full(1000, 2.3026), 0.002),  # the lecture's lr 1e-6 run: "loss barely changing"
    "exploding": np.concatenate([2.3 * np.exp(-T[:300] / 200), 2.3 * np.exp(T[300:] / 100 - 3)]),
    "plateau_then_drop": noisy(np.where(T < 400, 2.30, 0.3 + 2.0 * np.exp(-(T - 400) / 50)), 0.01),
    "stuck_high": noisy(1.5 + 0.8 * np.exp(-T / 20), 0.02),
}


@pytest.mark.parametrize("shape", list(CURVES))
def test_loss_curve_shapes_are_recognized(shape):
    f = diagnose_loss_curve(CURVES[shape])
    assert f.value == shape, f.explanation
    assert f.status == {"decreasing": "pass", "flat": "fail", "exploding": "fail", "plateau_then_drop": "warn",
                        "stuck_high": "warn"}[shape]
    assert_jsonable(f)


def test_explanations_say_what_the_lecture_says():
    assert "too low" in diagnose_loss_curve(CURVES["flat"]).explanation
    assert "too high" in diagnose_loss_curve(CURVES["exploding"]).explanation
    plateau = diagnose_loss_curve(CURVES["plateau_then_drop"])
    assert "initialization" in plateau.explanation and "prime suspect" in plateau.explanation
    assert 380 <= plateau.details["drop_at"] <= 420


def test_nan_in_the_loss_is_exploding_and_names_the_iteration():
    curve = [2.3] * 50 + [5.0, math.inf, math.nan]
    f = diagnose_loss_curve(curve)
    assert f.value == "exploding" and f.details["nonfinite_at"] == 52
    assert "NaN/inf" in f.explanation


def test_short_curves_are_not_judged():
    assert diagnose_loss_curve([2.3, 2.2]).value == "too_short"


SLIDE_OVERFIT = [  # epochs 1..20 of the slide's 20-example overfit (init 0.0001 * randn)
    2.302603, 2.302258, 2.301849, 2.301196, 2.300044, 2.297864, 2.293595, 2.285896, 2.268094, 2.234787,
    2.173187, 2.076862, 1.974090, 1.895885, 1.820876, 1.737430, 1.642356, 1.535239, 1.421527, 1.355760]


def test_the_slides_first_20_epochs_show_the_tiny_init_plateau():
    # 8 of 20 epochs within 1% of 2.30 before the fall: the plateau a too-small init causes
    f = diagnose_loss_curve(SLIDE_OVERFIT)
    assert f.value == "plateau_then_drop"


def test_the_slides_whole_200_epoch_run_is_decreasing():
    # epochs 21..200 fall to the slide's final cost 0.002597; the early plateau is then a small part of the run
    tail = np.geomspace(1.3, 0.002597, 180).tolist()
    assert diagnose_loss_curve(SLIDE_OVERFIT + tail).value == "decreasing"


def test_accuracy_gap_overfitting_no_gap_and_healthy():
    over = diagnose_accuracy_gap([0.5, 0.9, 0.99], [0.45, 0.6, 0.62])
    assert over.status == "warn" and over.value == pytest.approx(0.37)
    assert "overfitting" in over.explanation and "regularization" in over.advice
    none = diagnose_accuracy_gap([0.30, 0.35, 0.40], [0.30, 0.36, 0.40])
    assert none.status == "warn" and "capacity" in none.advice
    ok = diagnose_accuracy_gap([0.5, 0.6], [0.45, 0.55])
    assert ok.status == "pass"
    solved = diagnose_accuracy_gap([0.99, 1.0], [0.99, 0.99])  # no gap, but nothing left to fit
    assert solved.status == "pass"
    assert diagnose_accuracy_gap([], []).status == "warn"


def test_update_ratio_diagnosis_against_1e_3():
    good = diagnose_update_ratios({"iteration": [1, 2, 3], "params": {"W1": [1e-3, 2e-3, 1e-3], "W2": [5e-4] * 3}})
    assert good.status == "pass" and good.value == {"W1": 1e-3, "W2": 5e-4}
    high = diagnose_update_ratios({"iteration": [1, 2], "params": {"W1": [0.5, 0.4]}})
    assert high.status == "fail" and "too fast" in high.explanation and "lower" in high.advice
    low = diagnose_update_ratios({"iteration": [1, 2], "params": {"W1": [5e-5, 5e-5], "W2": [1e-3, 1e-3]}})
    assert low.status == "warn" and "W1" in low.explanation and "W2" not in low.explanation
    assert diagnose_update_ratios({}).status == "warn"


def test_update_ratios_are_judged_over_the_whole_run_and_say_why_they_fell():
    # issue 10: the verdict quoted the first fifth (1e-3) while 80% of the run sat at 1e-6
    its = list(range(1, 101))
    annealed = {"iteration": its, "params": {"W1": [1e-3] * 20 + [1e-6] * 80}}
    bare = diagnose_update_ratios(annealed)
    assert bare.status == "fail" and bare.value == {"W1": 1e-6}
    assert "from iteration 21" in bare.explanation and "too low" in bare.explanation and bare.cause == "lr_too_low"
    # the same ratios under an lr decayed to 1% by then: decay, by design, not a rate too low
    lrs = [1e-2] * 20 + [1e-4] * 80
    decayed = diagnose_update_ratios(annealed, lr_history=lrs)
    assert decayed.status == "warn" and "decayed" in decayed.explanation and decayed.cause is None
    # ... or a loss that had converged by then
    loss = [2.3 - 2.2 * min(i, 20) / 20 for i in range(100)]
    converged = diagnose_update_ratios(annealed, lr_history=[1e-2] * 100, loss_history=loss)
    assert "converged" in converged.explanation and converged.status == "warn"
    # a rate too low from the start is still caught
    slow = {"iteration": its, "params": {"W1": [1e-6] * 60 + [1e-3] * 40}}
    assert diagnose_update_ratios(slow).status != "pass"


def test_units_that_die_during_training_are_reported():
    f = diagnose_units({"iteration": [1, 11], "layers": {"relu1": {"dead": [0.02, 0.8], "saturated": [None, None]},
                                                         "relu2": {"dead": [0.0, 0.01], "saturated": [None, None]}}})
    assert f.status == "warn" and "relu1" in f.explanation and "relu2" not in f.explanation
    assert "learning rate" in f.advice


def test_diagnose_run_on_a_real_training_run(small_digits):
    from babysit.doctor.monitors import TrainingMonitor
    from babysit.train.solver import Solver

    monitor = TrainingMonitor(every=2)
    solver = Solver(fc_factory([50])(), small_digits, optim_config={"learning_rate": 3e-2}, num_epochs=5,
                    batch_size=50, verbose=False, seed=0, callbacks=[monitor]).train()
    findings = diagnose_solver(solver, monitor)
    assert [f.check for f in findings] == ["loss_curve", "accuracy_gap", "update_ratios", "unit_health", "diagnosis"]
    by = {f.check: f for f in findings}
    assert by["loss_curve"].value == "decreasing"
    # the hidden layer moves ~1e-3; the classifier layer, initialized 0.3x smaller (first loss ~ln C), moves
    # faster relative to its size while it grows
    assert 1e-4 < by["update_ratios"].value["W1"] < 1e-2 and by["update_ratios"].value["W2"] > by["update_ratios"].value["W1"]
    # 40 iterations, the loss still falling: the diagnosis says train longer, in Python words
    assert by["diagnosis"].cause == "too_few_epochs" and "`epochs=" in by["diagnosis"].advice
    assert diagnose_run(solver.loss_history)[0].check == "loss_curve"


def test_diagnose_run_on_a_run_at_lr_1e_9_says_flat(small_digits):
    from babysit.train.solver import Solver

    solver = Solver(fc_factory([50])(), small_digits, optim_config={"learning_rate": 1e-9}, num_epochs=5,
                    batch_size=400, verbose=False, seed=0).train()  # full batch: no minibatch noise
    assert diagnose_solver(solver)[0].value == "flat"


def test_a_fast_classifier_layer_alone_is_not_an_lr_too_high():
    # the classifier starts 0.3x small (first loss ~ln C): it moves fast relative to its size while it grows
    f = diagnose_update_ratios({"iteration": [1, 11, 21], "params": {"W1": [1e-3] * 3, "W2": [3e-2] * 3}})
    assert f.status == "pass" and "classifier layer W2" in f.explanation and f.cause is None
    both = diagnose_update_ratios({"iteration": [1, 11, 21], "params": {"W1": [3e-2] * 3, "W2": [3e-2] * 3}})
    assert both.status == "warn" and both.cause == "lr_too_high"


def test_an_lr_too_high_explanation_names_a_non_finite_iteration_only_where_there_is_one():
    from babysit.doctor.cause_rules import _explain

    exploded = _explain("lr_too_high", {"start": 2.33, "end": 9.12, "peak_ratio": 3.91, "status": "exploded"})
    assert exploded.endswith(": the loss goes from 2.33 to 9.12 (peak 3.91x its first value, status exploded)")
    diverged = _explain("lr_too_high", {"start": 2.33, "end": float("nan"), "peak_ratio": 5.0, "nonfinite_at": 17,
                                        "status": "diverged"})
    assert "non-finite at iteration 17, status diverged" in diverged
