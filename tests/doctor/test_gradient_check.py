import numpy as np
import pytest

from babysit.doctor import gradient_check
from babysit.doctor.gradient_check import float64_copy
from babysit.nn import FullyConnectedNet

from .doctor_cases import BrokenBackwardNet, assert_jsonable, fc_factory


def test_healthy_net_passes_with_tiny_errors(small_digits):
    f = gradient_check(fc_factory([50]), small_digits)
    assert f.status == "pass"
    assert f.value < 1e-6
    assert set(f.details["params"]) == {"W1", "b1", "W2", "b2"}
    assert all(p["checked"] >= 3 for p in f.details["params"].values())
    assert_jsonable(f)


def test_wrong_backward_fails_and_points_at_the_layers_before_it(small_digits):
    f = gradient_check(fc_factory([30], cls=BrokenBackwardNet), small_digits)
    assert f.status == "fail"
    assert f.value > 1e-2
    errors = {k: v["error"] for k, v in f.details["params"].items()}
    # the half-gradient ReLU sits after W1/b1: their gradients are wrong, W2/b2's are right
    assert errors["W1"] > 0.1 and errors["b1"] > 0.1
    assert errors["W2"] < 1e-6 and errors["b2"] < 1e-6
    assert "W1" in f.explanation and "b1" in f.explanation


def test_float64_copy_keeps_the_broken_layer_and_the_weights():
    make = fc_factory([8], cls=BrokenBackwardNet)
    model = make()
    copy = float64_copy(make, model)
    assert copy.dtype == np.float64
    assert type(copy.layers[1]).__name__ == "HalfGradientReLU"
    np.testing.assert_array_equal(copy.params["W1"], model.params["W1"].astype(np.float64))


def test_bias_before_batchnorm_has_zero_true_gradient_and_passes(small_digits):
    f = gradient_check(fc_factory([20, 20], normalization="batchnorm"), small_digits)
    assert f.status == "pass"
    assert f.details["params"]["b1"]["zero_gradient_expected"]
    assert f.details["params"]["b2"]["zero_gradient_expected"]
    assert not f.details["params"]["b3"]["zero_gradient_expected"]  # the output layer's bias is not before BN
    assert "bias right before batchnorm" in f.explanation


def test_dropout_masks_are_frozen_during_the_check(small_digits):
    f = gradient_check(fc_factory([30], dropout=0.5), small_digits)
    assert f.status == "pass"


def test_kinks_are_skipped_not_reported_as_errors():
    # A float64 net with a hidden unit whose pre-activation sits 1e-7 from ReLU's kink on one row:
    # perturbing its weights by h = 1e-5 crosses the kink, where the centred difference is meaningless.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 3))
    y = np.arange(5) % 3
    base = FullyConnectedNet([4], input_dim=3, num_classes=3, dtype=np.float64, seed=3)
    pre = X @ base.params["W1"]
    base.params["b1"] = -pre[0] + 1e-7  # every unit is at a kink on row 0

    def make(**overrides):
        model = FullyConnectedNet([4], input_dim=3, num_classes=3, dtype=np.float64, seed=3)
        model.params["b1"] = base.params["b1"]
        return model

    f = gradient_check(make, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, batch_size=5,
                       samples_per_param=12)
    kinks = sum(p["kinks"] for p in f.details["params"].values())
    assert kinks > 0
    assert f.status == "pass", f.explanation
    assert "kinks skipped" in f.explanation


def test_requires_a_factory_that_honours_dtype(small_digits):
    from babysit.errors import ConfigError

    make32 = lambda **_: FullyConnectedNet([5], input_dim=(1, 8, 8), num_classes=10, seed=0)  # noqa: E731
    with pytest.raises(ConfigError, match="dtype=float64"):
        gradient_check(make32, small_digits)


def test_a_model_instance_works_as_factory(small_digits):
    model = fc_factory([10])()
    f = gradient_check(model, small_digits)
    assert f.status == "pass"


def test_conv_net_with_spatial_batchnorm_passes(small_digits):
    from babysit.nn import ConvNet

    def make(**kw):
        return ConvNet(input_dim=(1, 8, 8), conv_channels=[4, 6], hidden_dims=[10], num_classes=10,
                       normalization="batchnorm", seed=0, **kw)

    f = gradient_check(make, small_digits)
    assert f.status == "pass", f.explanation
    zero = {k for k, v in f.details["params"].items() if v["zero_gradient_expected"]}
    assert zero == {"b1", "b2", "b3"}  # conv biases before spatial BN, the affine bias before BN


def test_the_advice_names_the_last_bad_parameter_before_the_broken_layer(small_digits):
    # relu1 and relu2 pass back half the gradient: W1..b2 are wrong, W3/b3 (after relu2) are right
    f = gradient_check(fc_factory([20, 20], cls=BrokenBackwardNet), small_digits)
    assert f.status == "fail"
    assert "b2's layer" in f.advice
