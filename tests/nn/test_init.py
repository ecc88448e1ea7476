"""Initialization schemes: their standard deviations, the zero-init symmetry problem, the defaults."""

import math

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.nn import Affine, Conv2d, FullyConnectedNet, Maxout, init_weight
from babysit.nn.init import INIT_SCHEMES, default_init, init_scale
from babysit.nn.models import CLASSIFIER_SCALE

FAN_IN, FAN_OUT = 400, 500  # 200,000 draws: the sample std is within ~0.16% (1 sigma) of the truth


@pytest.mark.parametrize("scheme, weight_scale, std", [
    ("small", None, 0.01),
    ("small", 0.05, 0.05),
    ("xavier", None, 1 / math.sqrt(FAN_IN)),
    ("he", None, math.sqrt(2 / FAN_IN)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scheme_standard_deviations(scheme, weight_scale, std, dtype):
    w = init_weight((FAN_IN, FAN_OUT), FAN_IN, scheme, np.random.default_rng(0), dtype, weight_scale)
    assert w.dtype == dtype and w.shape == (FAN_IN, FAN_OUT)
    assert w.std() == pytest.approx(std, rel=0.01)  # ~6 sigma
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)


def test_zeros_is_all_zero():
    w = init_weight((3, 4), 3, "zeros", np.random.default_rng(0))
    assert not w.any() and w.dtype == np.float32


def test_conv_fan_in_counts_channels_and_kernel():
    conv = Conv2d(16, 32, 5, init="he", rng=0)  # fan_in = 16 * 5 * 5 = 400
    assert conv.params["W"].std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)


def test_layers_use_fan_in_of_their_inputs():
    assert Affine(FAN_IN, 300, init="xavier", rng=0).params["W"].std() == pytest.approx(1 / math.sqrt(FAN_IN), rel=0.02)
    assert Maxout(FAN_IN, 150, init="he", rng=0).params["W"].std() == pytest.approx(math.sqrt(2 / FAN_IN), rel=0.02)


def test_zero_init_gives_every_hidden_unit_the_same_gradient_forever():
    """The symmetry problem: with all-zero weights every hidden unit computes, and learns, the same thing."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    model = FullyConnectedNet([5], input_dim=6, num_classes=3, activation="sigmoid", init="zeros",
                              dtype=np.float64, seed=0)
    for _ in range(5):  # plain SGD steps
        _, grads = model.loss(X, y)
        dW1, dW2 = grads["W1"].copy(), grads["W2"].copy()
        # W1's columns (one per hidden unit) get identical gradients, and so do W2's rows
        np.testing.assert_allclose(dW1, np.repeat(dW1[:, :1], 5, axis=1), atol=1e-15)
        np.testing.assert_allclose(dW2, np.repeat(dW2[:1], 5, axis=0), atol=1e-15)
        for key, g in grads.items():
            model.params[key] -= 0.5 * g
    assert np.abs(model.params["W2"]).max() > 1e-3  # it did learn something...
    w1 = model.params["W1"]
    np.testing.assert_allclose(w1, np.repeat(w1[:, :1], 5, axis=1), atol=1e-15)  # ...but all units alike


def test_zero_init_relu_net_gets_no_weight_gradient_at_all():
    X, y = np.random.default_rng(0).standard_normal((4, 6)), np.array([0, 1, 2, 0])
    _, grads = FullyConnectedNet([5], input_dim=6, num_classes=3, init="zeros", dtype=np.float64).loss(X, y)
    assert not grads["W1"].any() and not grads["W2"].any() and grads["b2"].any()


@pytest.mark.parametrize("activation, scheme", [("relu", "he"), ("leaky_relu", "he"), ("prelu", "he"), ("elu", "he"),
                                                ("maxout", "he"), ("tanh", "xavier"), ("sigmoid", "xavier")])
def test_default_init_is_he_for_relu_family_and_xavier_for_tanh(activation, scheme):
    assert default_init(activation) == scheme
    model = FullyConnectedNet([FAN_IN], input_dim=FAN_OUT, num_classes=10, activation=activation, seed=0)
    assert model.init == scheme and model.weight_scale is None
    expected = math.sqrt(2 / FAN_OUT) if scheme == "he" else 1 / math.sqrt(FAN_OUT)
    assert model.params["W1"].std() == pytest.approx(expected, rel=0.02)
    # the classifier layer: the scheme's std times CLASSIFIER_SCALE, so that the first loss is ~ln C (issue 10)
    expected2 = math.sqrt(2 / FAN_IN) if scheme == "he" else 1 / math.sqrt(FAN_IN)
    assert model.params["W2"].std() == pytest.approx(CLASSIFIER_SCALE * expected2, rel=0.05)


def test_weight_scale_alone_means_small_init():
    model = FullyConnectedNet([FAN_IN], input_dim=FAN_OUT, weight_scale=0.05, seed=0)
    assert model.init == "small" and model.weight_scale == 0.05
    assert model.params["W1"].std() == pytest.approx(0.05, rel=0.02)
    assert model.params["W2"].std() == pytest.approx(0.05, rel=0.05)


def test_init_small_without_scale_is_the_lectures_0_01():
    model = FullyConnectedNet([FAN_IN], input_dim=FAN_OUT, init="small", seed=0)
    assert model.params["W1"].std() == pytest.approx(0.01, rel=0.02)


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = (FullyConnectedNet([5], input_dim=4, seed=s).params["W1"] for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unknown_scheme_and_misplaced_weight_scale():
    with pytest.raises(ConfigError, match="The 'init' parameter of init_weight must be one of 'small', 'xavier', "
                                          "'he', 'zeros'. Got 'uniform' instead."):
        init_scale("uniform", 10)
    with pytest.raises(ConfigError, match="The 'init' parameter of Affine must be one of .* Got 'uniform'"):
        Affine(3, 2, init="uniform")
    with pytest.raises(ConfigError, match="weight_scale applies to init='small' only; got init='he'") as info:
        init_scale("he", 10, 0.1)
    assert info.value.parameter == "weight_scale"
    assert info.value.for_flag("--weight-scale").startswith("--weight-scale must be None with init='he'")
    for bad in (float("nan"), float("inf"), -0.1, "0.1"):
        with pytest.raises(ConfigError, match=r"The 'weight_scale' parameter of init_weight must be a float in "
                                              r"\[0, inf\)"):
            init_scale("small", 10, bad)
    with pytest.raises(ConfigError, match=r"The 'weight_scale' parameter of Conv2d must be a float in \[0, inf\)"):
        Conv2d(1, 1, 3, weight_scale=-1.0)
    assert INIT_SCHEMES == ("small", "xavier", "he", "zeros")
