"""Affine: the (in, out) layout, the skipped input gradient, and misuse."""

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import Affine


def test_forward_is_x_at_w_plus_b():
    layer = Affine(2, 3, dtype=np.float64)
    layer.params["W"][...] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    layer.params["b"][...] = [0.5, 0.0, -1.0]
    out = layer.forward(np.array([[1.0, 1.0], [2.0, 0.0]]))
    np.testing.assert_allclose(out, [[5.5, 7.0, 8.0], [2.5, 4.0, 5.0]])
    layer.backward(np.ones((2, 3)))
    np.testing.assert_allclose(layer.grads["W"], [[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(layer.grads["b"], [2.0, 2.0, 2.0])


def test_input_grad_off_returns_none_and_same_param_grads():
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    full, lean = Affine(5, 3, dtype=np.float64, rng=1), Affine(5, 3, dtype=np.float64, rng=1)
    lean.input_grad = False
    full.forward(x)
    lean.forward(x)
    assert lean.backward(dout) is None
    np.testing.assert_allclose(full.backward(dout), dout @ full.params["W"].T)
    for name in ("W", "b"):
        np.testing.assert_allclose(lean.grads[name], full.grads[name])


def test_wrong_feature_count_names_layer_expectation_and_shape():
    with pytest.raises(InputError, match=r"Affine\(5 -> 3\): expected input of shape \(N, 5\), got \(4, 6\)"):
        Affine(5, 3).forward(np.ones((4, 6), np.float32))


def test_wrong_rank():
    with pytest.raises(InputError, match=r"Affine\(5 -> 3\): expected a 2-D input \(N, 5\), got shape \(2, 1, 5\)"):
        Affine(5, 3).forward(np.ones((2, 1, 5), np.float32))


def test_float64_into_float32_affine_says_how_to_fix_it():
    with pytest.raises(InputError) as info:
        Affine(5, 3).forward(np.ones((4, 5)))
    msg = str(info.value)
    assert "Affine(5 -> 3): expected input of dtype float32, got float64" in msg
    assert "x.astype(np.float32)" in msg and "dtype=np.float64" in msg


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128, "not-a-dtype"])
def test_unsupported_layer_dtype(dtype):
    with pytest.raises(ConfigError, match=r"The 'dtype' parameter of Affine must be np.float32 or np.float64\. Got"):
        Affine(5, 3, dtype=dtype)


@pytest.mark.parametrize("args, parameter", [
    ((0, 3), "in_dim"), ((5, 0), "out_dim"), ((5.0, 3), "in_dim"), ((5, True), "out_dim"), (("5", 3), "in_dim"),
])
def test_dims_must_be_positive_ints(args, parameter):
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of Affine must be an int in \[1, inf\)"):
        Affine(*args)
