"""conv -> ReLU -> 2x2 max pool in bands of rows (babysit.nn.convpool): the same results as the layers one by one
(the reference path), float64 numeric gradients, and the models' use of it (Conv2d.fuses_next); each with the
NumPy and the numba kernels (the ``kernels`` fixture)."""

import numpy as np
import pytest

from babysit.nn import ConvNet, Conv2d, MaxPool2d, ReLU, Sequential
from babysit.nn import convpool
from babysit.nn.buffers import BufferPool
from babysit.nn.conv import conv_backward, conv_forward
from babysit.nn.gradcheck import eval_numerical_gradient_array, rel_error
from babysit.nn.pool import maxpool_backward, maxpool_forward

from .layer_cases import distinct


@pytest.fixture(params=["one band", "a band per pooled row", "bands of two rows, the last shorter"])
def bands(request, monkeypatch):
    if request.param == "a band per pooled row":
        monkeypatch.setattr(convpool, "BAND_BYTES", 1)
    elif request.param != "one band":  # 3 pooled rows: a band of 2, then 1 (its own views of the work arrays)
        monkeypatch.setattr(convpool, "_band_rows", lambda *shape: min(2, shape[-1]))
    return request.param


def _reference(x, w, b, dout, stride, pad, need_dx=True):
    """The layers one by one: conv, the pool with its fused ReLU, their backwards."""
    y, conv_cache = conv_forward(x, w, b, stride, pad)
    out, pool_cache = maxpool_forward(y, 2, 2, relu=True)
    dx, dw, db = conv_backward(maxpool_backward(dout, pool_cache), conv_cache, need_dx)
    return out, pool_cache.argmax, dx, dw, db


def _case(seed, n=3, c=2, f=3, h=6, w=4, k=3, stride=1, pad=1, layout="nchw", dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = distinct(rng, (n, c, h, w)).astype(dtype)
    if layout == "chwn":  # the layout a conv's output (the next conv's input) has
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    wt = rng.standard_normal((f, c, k, k)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    dout = rng.standard_normal((n, f, ho // 2, wo // 2)).astype(dtype)
    return x, wt, b, dout


@pytest.mark.parametrize("stride, pad, h, w", [(1, 1, 6, 4), (1, 0, 6, 8), (2, 1, 8, 8), (1, 2, 4, 6)])
@pytest.mark.parametrize("layout", ["nchw", "chwn"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bands_match_the_layers_one_by_one(bands, kernels, stride, pad, h, w, layout, dtype):
    x, wt, b, dout = _case(0, h=h, w=w, stride=stride, pad=pad, layout=layout, dtype=dtype)
    out_ref, argmax_ref, dx_ref, dw_ref, db_ref = _reference(x, wt, b, dout, stride, pad)
    alloc = BufferPool()
    for _ in range(2):  # the second time on the reused buffers
        out, cache = convpool.conv_relu_pool_forward(x, wt, b, stride, pad, alloc)
        dx, dw, db = convpool.conv_relu_pool_backward(dout, cache, True, alloc)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, out_ref, rtol=tol, atol=tol)
    np.testing.assert_array_equal(cache.pool.argmax, argmax_ref)
    for got, want in ((dx, dx_ref), (dw, dw_ref), (db, db_ref)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    assert out.shape == out_ref.shape and dx.shape == x.shape


def test_flags_skip_the_input_and_the_weight_gradients(bands, kernels):
    x, wt, b, dout = _case(1)
    _, _, _, dw_ref, db_ref = _reference(x, wt, b, dout, 1, 1)
    _, cache = convpool.conv_relu_pool_forward(x, wt, b, 1, 1)
    dx, dw, db = convpool.conv_relu_pool_backward(dout, cache, need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-12)
    np.testing.assert_allclose(db, db_ref, rtol=1e-12)
    dx, dw, db = convpool.conv_relu_pool_backward(dout, cache, need_dw=False)
    assert dx is not None and dw is None and db is None


def test_float64_numeric_gradients(bands, kernels):
    x, wt, b, dout = _case(2, h=8, w=6)

    def out(x_=x, w_=wt, b_=b):
        return convpool.conv_relu_pool_forward(x_, w_, b_, 1, 1)[0]

    _, cache = convpool.conv_relu_pool_forward(x, wt, b, 1, 1)
    dx, dw, db = convpool.conv_relu_pool_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda z: out(x_=z), x.copy(), dout)) < 1e-7
    assert rel_error(dw, eval_numerical_gradient_array(lambda z: out(w_=z), wt.copy(), dout)) < 1e-7
    assert rel_error(db, eval_numerical_gradient_array(lambda z: out(b_=z), b.copy(), dout)) < 1e-7


def _pair(**kwargs):
    """The same ConvNet twice: fused (the default) and with every conv run layer by layer."""
    fused = ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], reg=1e-2, dtype=np.float64, seed=0, **kwargs)
    plain = ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], reg=1e-2, dtype=np.float64, seed=0, **kwargs)
    for layer in plain.layers:
        layer.fuses_next = False
    return fused, plain


@pytest.mark.parametrize("parts", [1, 2])
def test_convnet_fused_equals_layer_by_layer(bands, kernels, parts):
    fused, plain = _pair()
    assert [i for i, layer in enumerate(fused.layers) if layer.fuses_next] == [0, 3]
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((70, 3, 8, 8)), rng.integers(0, 10, 70)
    for model in (fused, plain):
        model.batch_parts = parts
    for _ in range(2):
        loss_f, grads_f = fused.loss(X, y)
        loss_p, grads_p = plain.loss(X, y)
        assert loss_f == pytest.approx(loss_p, rel=1e-13)
        for name, g in grads_p.items():
            np.testing.assert_allclose(grads_f[name], g, rtol=1e-10, atol=1e-13 * np.abs(g).max())
    first = fused._part_copies[0].layers[0] if parts > 1 else fused.layers[0]
    assert first.ran_fused()
    for i in range(len(fused.layers)):  # every layer's output, the never-stored conv output included
        got, want = fused.layers[i].last_output, plain.layers[i].last_output
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fused.loss(X), plain.loss(X), rtol=1e-12)  # eval mode


@pytest.mark.parametrize("blocks", [[1], [1, 2], [2]])
def test_frozen_blocks(kernels, blocks):
    """Frozen blocks: below the lowest trainable layer the backward stops (the second conv then computes no dx);
    a frozen second conv above a trainable first one passes its dx on without computing its dw."""
    fused, plain = _pair()
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((9, 3, 8, 8)), rng.integers(0, 10, 9)
    for model in (fused, plain):
        model.freeze(blocks)
    loss_f, grads_f = fused.loss(X, y)
    loss_p, grads_p = plain.loss(X, y)
    assert loss_f == pytest.approx(loss_p, rel=1e-13) and grads_f.keys() == grads_p.keys()
    for name, g in grads_p.items():
        np.testing.assert_allclose(grads_f[name], g, rtol=1e-10, atol=1e-13 * np.abs(g).max())


def test_odd_conv_output_and_winograd_run_layer_by_layer():
    odd = ConvNet(input_dim=(3, 7, 7), conv_channels=[4], dtype=np.float64, seed=0)  # 7x7: no 2x2 tiling
    odd.loss(np.ones((2, 3, 7, 7)), np.array([0, 1]))
    assert odd.layers[0].fuses_next and not odd.layers[0].ran_fused()
    wino = ConvNet(input_dim=(3, 8, 8), conv_channels=[4], dtype=np.float64, seed=0, conv_algorithm="winograd")
    wino.loss(np.ones((2, 3, 8, 8)), np.array([0, 1]))
    assert not wino.layers[0].ran_fused()


def test_layers_used_on_their_own_after_a_fused_forward():
    """Sequential ran the fused pass; each layer's own backward still works from the state it left."""
    rng = np.random.default_rng(3)
    conv, relu, pool = Conv2d(2, 3, 3, 1, 1, dtype=np.float64, rng=0), ReLU(), MaxPool2d(2)
    relu.fused_into_pool = pool.applies_relu = conv.fuses_next = True
    seq = Sequential(conv, relu, pool)
    x = distinct(rng, (2, 2, 6, 6))
    out = seq.forward(x)
    assert conv.ran_fused()
    dout = rng.standard_normal(out.shape)
    dy = relu.backward(pool.backward(dout))
    dx = conv.backward(dy)
    _, _, dx_ref, dw_ref, db_ref = _reference(x, conv.params["W"], conv.params["b"], dout, 1, 1)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.grads["W"], dw_ref, rtol=1e-12)
    np.testing.assert_allclose(conv.grads["b"], db_ref, rtol=1e-12)


def test_fuses_next_before_other_layers_runs_them_in_turn():
    """``fuses_next`` set by hand on a conv whose next layers are no ReLU and pool: the layers run one by one."""
    conv = Conv2d(2, 3, 3, 1, 1, dtype=np.float64, rng=0)
    conv.fuses_next = True
    seq = Sequential(conv, Sequential(), MaxPool2d(2))
    x = np.random.default_rng(4).standard_normal((2, 2, 4, 4))
    assert seq.forward(x).shape == (2, 3, 2, 2) and not conv.ran_fused()
