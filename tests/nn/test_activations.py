"""Activation layers beyond the registry's contract: kinks, saturation, PReLU's alpha, names."""

import warnings

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import ELU, LeakyReLU, PReLU, ReLU, Sigmoid, Tanh, make_activation
from babysit.nn.activations import ACTIVATIONS


def test_relu_gradient_at_exactly_zero_is_zero():
    relu = ReLU()
    relu.forward(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(relu.backward(np.ones(3)), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_saturate_without_warnings(dtype):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = Sigmoid().forward(x)
        t = Tanh().forward(x)
    np.testing.assert_allclose(s, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-20 if dtype == np.float64 else 1e-30)
    np.testing.assert_array_equal(t, [-1.0, -1.0, 0.0, 1.0, 1.0])
    assert s.dtype == dtype and t.dtype == dtype


def test_elu_of_large_negative_input_is_minus_alpha_without_warnings():
    elu = ELU(alpha=0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = elu.forward(np.array([-1000.0, 1000.0]))
        dx = elu.backward(np.ones(2))
    np.testing.assert_allclose(out, [-0.7, 1000.0])
    np.testing.assert_allclose(dx, [0.0, 1.0], atol=1e-300)


def test_leaky_relu_slope_on_negative_side():
    layer = LeakyReLU(alpha=0.2)
    out = layer.forward(np.array([-2.0, 3.0]))
    np.testing.assert_allclose(out, [-0.4, 3.0])
    np.testing.assert_allclose(layer.backward(np.array([1.0, 1.0])), [0.2, 1.0])


def test_prelu_alpha_gradient_sums_dout_times_x_over_negative_inputs():
    x = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, -0.5]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    shared = PReLU(1, dtype=np.float64)
    shared.forward(x)
    dx = shared.backward(dout)
    negatives = x <= 0
    assert shared.grads["alpha"].shape == (1,)
    np.testing.assert_allclose(shared.grads["alpha"], [np.sum(dout * x * negatives)])
    np.testing.assert_allclose(dx, np.where(negatives, 0.25 * dout, dout))

    per_feature = PReLU(3, dtype=np.float64)
    per_feature.params["alpha"][...] = [0.1, 0.2, 0.3]
    out = per_feature.forward(x)
    per_feature.backward(dout)
    np.testing.assert_allclose(per_feature.grads["alpha"], np.sum(dout * x * negatives, axis=0))
    np.testing.assert_allclose(out, np.where(negatives, x * [0.1, 0.2, 0.3], x))


def test_prelu_per_channel_sums_over_batch_and_space():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    dout = rng.standard_normal(x.shape)
    layer = PReLU(3, dtype=np.float64)
    layer.forward(x)
    layer.backward(dout)
    expected = np.sum(np.where(x <= 0, dout * x, 0.0), axis=(0, 2, 3))
    np.testing.assert_allclose(layer.grads["alpha"], expected)


def test_prelu_rejects_wrong_channel_count_naming_both():
    with pytest.raises(InputError, match=r"PReLU\(num_parameters=3\): expected input with 3 features/channels "
                                         r"on axis 1, got shape \(2, 4\)"):
        PReLU(3, dtype=np.float64).forward(np.ones((2, 4)))


def test_prelu_rejects_other_float_dtype():
    with pytest.raises(InputError, match="PReLU.*expected input of dtype float32, got float64"):
        PReLU(1).forward(np.ones((2, 3)))


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_prelu_rejects_a_non_float_parameter_dtype(dtype):
    # an integer alpha would silently truncate the 0.25 start to 0
    with pytest.raises(ConfigError, match=rf"The 'dtype' parameter of PReLU must be np.float32 or np.float64\. "
                                          rf"Got dtype\('{np.dtype(dtype)}'\) instead\."):
        PReLU(1, dtype=dtype)


@pytest.mark.parametrize("make, parameter, expected", [
    (lambda: PReLU(0), "num_parameters", r"an int in \[1, inf\)"),
    (lambda: PReLU(2.0), "num_parameters", r"an int in \[1, inf\)"),
    (lambda: PReLU(1, init=float("nan")), "init", r"a float in \(-inf, inf\)"),
    (lambda: PReLU(1, init="0.25"), "init", "a float"),
    (lambda: LeakyReLU(-0.1), "alpha", r"a float in \[0, 1\]"),
    (lambda: LeakyReLU(1.5), "alpha", r"a float in \[0, 1\]"),
    (lambda: LeakyReLU(float("nan")), "alpha", "a float"),
    (lambda: LeakyReLU(True), "alpha", "a float"),
    (lambda: ELU(-1.0), "alpha", r"a float in \[0, inf\)"),
    (lambda: ELU(float("inf")), "alpha", r"a float in \[0, inf\)"),
    (lambda: ELU("1"), "alpha", "a float"),
])
def test_bad_activation_parameters_are_named(make, parameter, expected):
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of \w+ must be {expected}") as info:
        make()
    assert info.value.parameter == parameter


def test_alpha_is_kept_as_a_python_float():
    for layer in (LeakyReLU(np.float64(0.2)), ELU(np.float32(0.5))):
        assert type(layer.alpha) is float
        assert layer.forward(-np.ones((2, 2), np.float32)).dtype == np.float32


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_make_activation_builds_each_registered_name(name):
    layer = make_activation(name, dtype=np.float64)
    assert isinstance(layer, ACTIVATIONS[name])
    out = layer.forward(np.array([[-1.0, 2.0]]))
    assert out.shape == (1, 2) and out.dtype == np.float64


def test_make_activation_unknown_name_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        make_activation("swish")
    msg = str(info.value)
    assert msg.startswith("The 'name' parameter of make_activation must be one of") and "Got 'swish'" in msg
    for name in ACTIVATIONS:
        assert name in msg


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.complex128, np.float16])
def test_activations_reject_non_float32_64_dtypes(dtype):
    with pytest.raises(InputError, match=f"ReLU\\(\\): expected a float32 or float64 input, got {np.dtype(dtype)}"):
        ReLU().forward(np.ones((2, 2), dtype=dtype))
