"""Inverted dropout: the keep rate and scaling within binomial bounds, frozen masks, eval identity, seeds."""

import re

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.nn import Dropout, check_layer_gradients

N = 200_000


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_drop_fraction_and_inverted_scaling(p, dtype):
    layer = Dropout(p, rng=np.random.default_rng(1))
    out = layer.forward(np.ones(N, dtype=dtype))
    assert out.dtype == dtype
    dropped = np.mean(out == 0)
    sd = np.sqrt(p * (1 - p) / N)  # binomial standard deviation of the dropped fraction
    assert abs(dropped - p) < 5 * sd
    # survivors are scaled by exactly 1/(1-p), so the expected output equals the input
    np.testing.assert_allclose(out[out != 0], dtype(1.0 / (1.0 - p)), rtol=1e-6)
    assert abs(out.mean() - 1.0) < 5 * sd / (1 - p)


def test_backward_uses_the_forward_mask():
    layer = Dropout(0.5, rng=3)
    x = np.random.default_rng(0).uniform(1, 2, (50, 40))
    out = layer.forward(x)
    dout = np.random.default_rng(1).standard_normal(x.shape)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, dout * out / x)
    np.testing.assert_array_equal(dx == 0, out == 0)


def test_numeric_gradient_with_frozen_mask():
    x = np.random.default_rng(0).standard_normal((6, 7))
    assert check_layer_gradients(Dropout(0.4, rng=5), x)["x"] < 1e-9


def test_eval_mode_and_p_zero_are_the_identity():
    x = np.random.default_rng(0).standard_normal((5, 4))
    layer = Dropout(0.5, rng=0).eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    dout = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dout), dout)
    np.testing.assert_array_equal(Dropout(0.0, rng=0).forward(x), x)


def test_same_seed_same_mask_and_different_seed_different_mask():
    x = np.ones((20, 30))
    a = Dropout(0.5, rng=42).forward(x)
    b = Dropout(0.5, rng=42).forward(x)
    c = Dropout(0.5, rng=43).forward(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_consecutive_forwards_draw_fresh_masks():
    layer = Dropout(0.5, rng=0)
    x = np.ones((20, 30))
    assert not np.array_equal(layer.forward(x), layer.forward(x))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "half", None, float("nan"), True])
def test_p_out_of_range_is_a_config_error(p):
    with pytest.raises(ConfigError, match=rf"The 'p' parameter of Dropout must be a float in \[0, 1\)\. "
                                          rf"Got {re.escape(repr(p))} instead\."):
        Dropout(p)
