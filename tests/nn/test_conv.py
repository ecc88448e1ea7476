"""Conv2d: random shapes, strides and paddings against PyTorch; shape arithmetic; misuse."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babysit.errors import ConfigError, InputError
from babysit.nn import Conv2d

from .layer_cases import CONV
from .torch_helpers import assert_layer_matches_torch


@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * pad), 8))
    w = draw(st.integers(max(1, kw - 2 * pad), 8))
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return n, c, f, (kh, kw), stride, pad, h, w


@settings(max_examples=30, deadline=None)
@given(conv_configs(), st.integers(0, 2**16))
def test_random_shapes_match_torch(torch, config, seed):
    n, c, f, k, stride, pad, h, w = config
    rng = np.random.default_rng(seed)
    layer = Conv2d(c, f, k, stride, pad, dtype=np.float64, rng=seed)
    layer.params["b"][...] = rng.standard_normal(f)
    module = torch.nn.Conv2d(c, f, k, stride=stride, padding=pad)
    result = assert_layer_matches_torch(layer, module, rng.standard_normal((n, c, h, w)), CONV, seed=seed)
    assert result["out"].shape == (n, f, *layer.output_shape(h, w))


@pytest.mark.parametrize("h, k, stride, pad, expected", [
    (32, 3, 1, 1, 32), (32, 3, 2, 1, 16), (7, 3, 2, 0, 3), (5, 3, 2, 2, 4), (5, 5, 1, 0, 1), (6, 1, 3, 0, 2),
])
def test_output_size_formula(h, k, stride, pad, expected):
    layer = Conv2d(1, 1, k, stride, pad, dtype=np.float64)
    out = layer.forward(np.zeros((1, 1, h, h + 1)))
    assert out.shape[2] == expected == (h + 2 * pad - k) // stride + 1
    assert out.shape[3] == (h + 1 + 2 * pad - k) // stride + 1


def test_single_filter_by_hand():
    layer = Conv2d(1, 1, 2, dtype=np.float64)
    layer.params["W"][...] = [[[[1.0, 2.0], [3.0, 4.0]]]]
    layer.params["b"][...] = 0.5
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out = layer.forward(x)
    # top-left window [[0, 1], [3, 4]] -> 0 + 2 + 9 + 16 + 0.5
    np.testing.assert_allclose(out[0, 0], [[27.5, 37.5], [57.5, 67.5]])


def test_wrong_rank_names_layer_expectation_and_shape():
    with pytest.raises(InputError) as info:
        Conv2d(3, 4, 3, dtype=np.float64).forward(np.ones((2, 3, 5)))
    msg = str(info.value)
    assert "Conv2d(3, 4, kernel_size=(3, 3), stride=1, pad=0)" in msg
    assert "expected a 4-D input (N, 3, ?, ?)" in msg and "got shape (2, 3, 5)" in msg


def test_wrong_channel_count():
    with pytest.raises(InputError, match=r"Conv2d\(3, 4.*expected input of shape \(N, 3, \?, \?\), got \(2, 2, 5, 5\)"):
        Conv2d(3, 4, 3, dtype=np.float64).forward(np.ones((2, 2, 5, 5)))


def test_input_smaller_than_kernel():
    with pytest.raises(InputError, match=r"Conv2d.*input of spatial size \(2, 2\) is smaller than the kernel \(3, 3\)"):
        Conv2d(1, 1, 3, dtype=np.float64).forward(np.ones((1, 1, 2, 2)))


def test_float64_into_float32_conv_is_rejected():
    with pytest.raises(InputError, match="Conv2d.*expected input of dtype float32, got float64"):
        Conv2d(1, 1, 3).forward(np.ones((1, 1, 4, 4)))


@pytest.mark.parametrize("kwargs, expected", [
    (dict(stride=0), r"an int in \[1, inf\)"), (dict(pad=-1), r"an int in \[0, inf\)"),
    (dict(kernel_size=0), r"an int in \[1, inf\) or a pair \(HH, WW\) of them"),
    (dict(kernel_size=(3, 0)), "an int in .* or a pair"), (dict(kernel_size=(3, 3, 3)), "an int in .* or a pair"),
    (dict(kernel_size=2.5), "an int in .* or a pair"),
    (dict(out_channels=0), r"an int in \[1, inf\)"), (dict(in_channels=1.5), r"an int in \[1, inf\)"),
    (dict(stride=True), "an int"), (dict(dtype=np.int8), "np.float32 or np.float64"),
])
def test_bad_configuration(kwargs, expected):
    args = dict(in_channels=1, out_channels=2, kernel_size=3) | kwargs
    (parameter,) = kwargs
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of Conv2d must be {expected}"):
        Conv2d(**args)


def test_kernel_size_int_or_pair():
    assert Conv2d(1, 1, 3).kernel_size == (3, 3)
    assert Conv2d(1, 1, (2, 3)).kernel_size == (2, 3)
    assert Conv2d(1, 1, np.int64(5)).kernel_size == (5, 5)


def test_input_grad_off_skips_dx_but_keeps_param_grads():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 5, 5))
    full = Conv2d(2, 3, 3, 1, 1, dtype=np.float64, rng=1)
    lean = Conv2d(2, 3, 3, 1, 1, dtype=np.float64, rng=1)
    lean.input_grad = False
    dout = rng.standard_normal((2, 3, 5, 5))
    full.forward(x)
    lean.forward(x)
    assert full.backward(dout) is not None and lean.backward(dout) is None
    for name in ("W", "b"):
        np.testing.assert_allclose(lean.grads[name], full.grads[name])
