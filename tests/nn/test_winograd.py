"""Winograd F(2x2, 3x3) convolution: against PyTorch and im2col on random shapes, float32 rounding,
buffer reuse, the algorithm switch, and whole ConvNets on both paths.

(The layer contract tests in test_layer_contract.py run the float64 numeric gradient check and the
PyTorch parity of the Winograd cases in layer_cases.py as for every layer.)
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babysit.errors import ConfigError
from babysit.nn import ConvNet, Conv2d
from babysit.nn.buffers import BufferPool
from babysit.nn.conv import WINOGRAD_MIN_CHANNELS, conv_backward, conv_forward
from babysit.nn.gradcheck import check_model_gradients
from babysit.nn.winograd import winograd_backward, winograd_forward

from .layer_cases import CONV
from .torch_helpers import assert_layer_matches_torch


@st.composite
def winograd_configs(draw):
    pad = draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, 3 - 2 * pad), 9)), draw(st.integers(max(1, 3 - 2 * pad), 9))
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return n, c, f, pad, h, w


@settings(max_examples=25, deadline=None)
@given(winograd_configs(), st.integers(0, 2**16))
def test_random_shapes_match_torch(torch, config, seed):
    n, c, f, pad, h, w = config
    rng = np.random.default_rng(seed)
    layer = Conv2d(c, f, 3, 1, pad, dtype=np.float64, rng=seed, algorithm="winograd")
    layer.params["b"][...] = rng.standard_normal(f)
    module = torch.nn.Conv2d(c, f, 3, padding=pad)
    result = assert_layer_matches_torch(layer, module, rng.standard_normal((n, c, h, w)), CONV, seed=seed)
    assert result["out"].shape == (n, f, h + 2 * pad - 2, w + 2 * pad - 2)


def _both(x, w, b, pad, dout, alloc_i=None, alloc_w=None):
    kw = {} if alloc_i is None else {"alloc": alloc_i}
    out_i, cache_i = conv_forward(x, w, b, 1, pad, **kw)
    grads_i = conv_backward(dout, cache_i, **kw)
    kw = {} if alloc_w is None else {"alloc": alloc_w}
    out_w, cache_w = winograd_forward(x, w, b, pad, **kw)
    grads_w = winograd_backward(dout, cache_w, **kw)
    return (out_i, *grads_i), (out_w, *grads_w)


def test_float32_error_is_rounding_only():
    """Against the float64 result, Winograd in float32 is as close as im2col in float32 (within 4x)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 32, 12, 12)), rng.standard_normal((16, 32, 3, 3)) * 0.1
    b, dout = rng.standard_normal(16), rng.standard_normal((8, 16, 12, 12))
    exact, _ = _both(x, w, b, 1, dout)
    f32 = [a.astype(np.float32) for a in (x, w, b, dout)]
    im2col, winograd = _both(*f32[:3], 1, f32[3])
    for e, i, g in zip(exact, im2col, winograd):
        assert g.dtype == np.float32
        scale = np.abs(e).max()
        err_i, err_w = np.abs(i - e).max() / scale, np.abs(g - e).max() / scale
        assert err_w < 1e-5 and err_w < 4 * err_i + 1e-7, (err_i, err_w)


def test_buffer_reuse_and_chunking_give_the_same_result(monkeypatch):
    """Repeated steps on reused buffers, and several tile-row chunks, change nothing."""
    import babysit.nn.winograd as winograd

    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 4, 9, 7)), rng.standard_normal((5, 4, 3, 3))
    b, dout = rng.standard_normal(5), rng.standard_normal((3, 5, 9, 7))
    reference, _ = _both(x, w, b, 1, dout)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)  # one tile row per chunk: 5 chunks
    pool = BufferPool()
    for _ in range(3):
        out, cache = winograd_forward(x, w, b, 1, pool)
        got = (out.copy(), *(g.copy() for g in winograd_backward(dout, cache, alloc=pool)))
        for r, g in zip(reference, got):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
    assert cache.v.shape[0] == 5
    # a second backward of the same forward gives the same gradients
    again = winograd_backward(dout, cache, alloc=pool)
    for r, g in zip(reference[1:], again):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_dout_in_any_layout():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    out, cache = winograd_forward(x, w, np.zeros(4), 1)
    dout = rng.standard_normal(out.shape)
    expected = winograd_backward(dout, cache)
    for layout in (dout.transpose(1, 2, 3, 0).copy().transpose(3, 0, 1, 2), np.asfortranarray(dout)):
        for e, g in zip(expected, winograd_backward(layout, cache)):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_auto_chooses_winograd_for_wide_3x3_stride_1_only():
    assert Conv2d(WINOGRAD_MIN_CHANNELS, 4, 3, 1, 1).uses_winograd
    assert not Conv2d(WINOGRAD_MIN_CHANNELS - 1, 4, 3, 1, 1).uses_winograd
    assert not Conv2d(32, 4, 3, 2, 1).uses_winograd
    assert not Conv2d(32, 4, 5, 1, 2).uses_winograd
    assert not Conv2d(32, 4, 3, 1, 1, algorithm="im2col").uses_winograd
    assert Conv2d(3, 4, 3, 1, 1, algorithm="winograd").uses_winograd
    assert "algorithm='im2col'" in repr(Conv2d(3, 4, 3, algorithm="im2col"))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=5), dict(kernel_size=(3, 2)), dict(stride=2)])
def test_winograd_rejects_other_kernels(kwargs):
    args = dict(in_channels=2, out_channels=2, kernel_size=3, algorithm="winograd") | kwargs
    with pytest.raises(ConfigError, match=r"'algorithm' parameter of Conv2d must be 'im2col' or 'auto' for a kernel"):
        Conv2d(**args)


def test_unknown_algorithm():
    with pytest.raises(ConfigError, match="'algorithm' parameter of Conv2d"):
        Conv2d(2, 2, 3, algorithm="fft")


@pytest.mark.usefixtures("batch_split")
def test_convnet_on_both_paths_gives_the_same_step():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 6)
    results = []
    for algorithm in ("im2col", "winograd"):
        model = ConvNet(input_dim=(3, 8, 8), conv_channels=[8, 16], reg=1e-3, seed=0, conv_algorithm=algorithm)
        assert all(layer.uses_winograd == (algorithm == "winograd")
                   for layer in model.layers if isinstance(layer, Conv2d))
        for _ in range(2):  # the second step runs on the reused buffers
            loss, grads = model.loss(X, y)
        results.append((loss, {k: g.copy() for k, g in grads.items()}))
    (loss_i, g_i), (loss_w, g_w) = results
    assert loss_w == pytest.approx(loss_i, rel=1e-5)
    for name in g_i:
        np.testing.assert_allclose(g_w[name], g_i[name], rtol=1e-3, atol=1e-5 * np.abs(g_i[name]).max())
    assert model.config()["conv_algorithm"] == "winograd"


@pytest.mark.usefixtures("batch_split")
@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_convnet_numeric_gradients_on_both_paths(algorithm):
    rng = np.random.default_rng(4)
    model = ConvNet(input_dim=(2, 6, 6), conv_channels=[3, 4], num_classes=3, reg=0.1, dtype=np.float64,
                    seed=1, conv_algorithm=algorithm)
    X, y = rng.standard_normal((3, 2, 6, 6)), rng.integers(0, 3, 3)
    errors = check_model_gradients(model, X, y)
    assert max(err for err, _ in errors.values()) < 1e-6, errors
