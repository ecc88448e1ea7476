import math

import pytest

from babysit.doctor import initial_loss, regularization
from babysit.doctor.advice import in_words
from babysit.doctor.initial_checks import INIT_EXCESS_PASS

from .doctor_cases import IgnoresRegNet, assert_jsonable, fc_factory


def test_initial_loss_of_the_lectures_tiny_init_is_ln_c(small_digits):
    # the lecture's init_two_layer_model: 0.0001 * randn gives 2.3026 for 10 classes
    f = initial_loss(fc_factory([50], weight_scale=1e-4), small_digits)
    assert f.status == "pass"
    assert f.value == pytest.approx(math.log(10), abs=1e-3)
    assert "ln(10)" in f.expected
    assert_jsonable(f)


def test_initial_loss_passes_he_init_and_starts_near_ln_c(small_digits):
    # issue 10: babysit's default build scales the classifier layer, so the first loss is ~ln C
    # (it was ~3.4, "fine to train from", before); one rule: within INIT_EXCESS_PASS * ln C
    f = initial_loss(fc_factory([50]), small_digits)
    assert f.status == "pass" and f.cause == "healthy"
    assert math.log(10) - 0.05 < f.value < math.log(10) * (1 + INIT_EXCESS_PASS)
    assert f.details["scores_std"] < 0.5


def test_initial_loss_fails_for_weights_far_too_large(small_digits):
    f = initial_loss(fc_factory([100, 100, 100], activation="tanh", weight_scale=1.0), small_digits)
    assert f.status == "fail"
    assert f.value > 3 * math.log(10)
    assert "far above" in f.explanation and "--init" in in_words(f.advice, {"init": "--init"})


def test_initial_loss_ignores_the_models_reg(small_digits):
    # with reg 1e3 the full loss would be ~6e4: the check must switch reg off
    f = initial_loss(fc_factory([50], weight_scale=1e-4, reg=1e3), small_digits)
    assert f.value == pytest.approx(math.log(10), abs=1e-3)


def test_regularization_raises_the_loss_by_the_l2_term(small_digits):
    f = regularization(fc_factory([50], weight_scale=1e-4), small_digits)
    assert f.status == "pass"
    d = f.details
    assert d["loss_reg"] > d["loss_reg0"]
    assert d["rise"] == pytest.approx(d["predicted_rise"], rel=1e-3)
    assert_jsonable(f)


def test_regularization_fails_when_the_loss_ignores_reg(small_digits):
    f = regularization(fc_factory([50], cls=IgnoresRegNet), small_digits)
    assert f.status == "fail"
    assert f.details["rise"] == pytest.approx(0.0, abs=1e-6)
    assert "ignores the regularization" in f.explanation


def test_regularization_with_dropout_compares_the_same_masks(small_digits):
    f = regularization(fc_factory([50], dropout=0.5), small_digits)
    assert f.status == "pass"
    assert f.details["rise"] == pytest.approx(f.details["predicted_rise"], rel=1e-3)


def test_regularization_warns_when_all_weights_are_zero(small_digits):
    f = regularization(fc_factory([50], init="zeros"), small_digits)
    assert f.status == "warn"
    assert "zero" in f.explanation


def test_initial_loss_flags_a_loss_summed_over_the_batch(small_digits):
    from babysit.nn import FullyConnectedNet

    class SummedLoss(FullyConnectedNet):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            return out if y is None else (out[0] * len(y), out[1])

    f = initial_loss(fc_factory([50], cls=SummedLoss, weight_scale=1e-4), small_digits)
    assert f.status == "fail"
    assert "summed" in f.explanation


def test_initial_loss_flags_raw_unpreprocessed_pixels():
    from babysit.data import load_source

    ds = load_source("digits")
    f = initial_loss(fc_factory([50]), {"X_train": ds.X_train, "y_train": ds.y_train, "X_val": ds.X_val,
                                        "y_val": ds.y_val})
    assert f.status in ("warn", "fail") and f.value > math.log(10) * (1 + INIT_EXCESS_PASS)
    assert "standardize" in f.advice and f.cause == "unnormalized_input"
