"""The numba kernels of the fused conv -> ReLU -> pool (babysit.nn.numba_kernels) give the NumPy passes' bits,
special values (NaN, infinities, signed zeros, ties) included, and the choice of kernels (babysit.nn.kernels)
fails clearly."""

import importlib
import os
import sys

import numpy as np
import pytest

from babysit.errors import ConfigError
import babysit.nn
from babysit.nn import ConvNet, kernels, parallel
from babysit.nn.pool import _windows, pool_block, route_block

SPECIAL = np.array([-2.0, -1.0, -0.0, 0.0, 1.0, 1.0, 2.0, np.nan, np.inf, -np.inf])


@pytest.fixture
def nb():
    pytest.importorskip("numba", reason="the numba kernels are optional: pip install 'babysit[numba]'")
    from babysit.nn import numba_kernels
    return numba_kernels


def _bits(a):
    return a.view(np.dtype(f"u{a.itemsize}"))


def _special(rng, shape, dtype):
    """Values drawn from SPECIAL: ties, zeros of both signs, NaN and infinities in many windows."""
    return rng.choice(SPECIAL, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", ["special", "normal"])
def test_relu_pool_band_gives_pool_blocks_bits(nb, dtype, values):
    rng = np.random.default_rng(0)
    f, r, qo, n, p0, po = 3, 2, 5, 4, 1, 4
    shape = (f, 2 * r, 2 * qo, n)  # a band of conv output (F, 2r, Wo, N)
    y = _special(rng, shape, dtype) if values == "special" else rng.standard_normal(shape).astype(dtype)
    # NumPy: the pool's views are (N, F, rows, cols)
    o, a = np.empty((n, f, r, qo), dtype), np.empty((n, f, r, qo), np.uint8)
    work = np.empty((n, f, r, qo), bool), np.empty((n, f, r, qo), np.uint8), np.empty((n, f, r, qo), dtype)
    with np.errstate(invalid="ignore"):
        pool_block(o, a, _windows(y.transpose(3, 0, 1, 2), 2, 2, r, qo), True, *work)
    out = np.full((f, po, qo, n), 7, dtype)
    argmax = np.full((f, po, qo, n), 9, np.uint8)
    nb.relu_pool_band(y, out, argmax, p0, dtype(0))
    np.testing.assert_array_equal(_bits(out[:, p0:p0 + r]), _bits(o.transpose(1, 2, 3, 0)))
    np.testing.assert_array_equal(argmax[:, p0:p0 + r], a.transpose(1, 2, 3, 0))
    assert (out[:, :p0] == 7).all() and (out[:, p0 + r:] == 7).all() and (argmax[:, p0 + r:] == 9).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_route_band_gives_route_blocks_bits(nb, dtype):
    rng = np.random.default_rng(1)
    f, r, qo, n, p0, po = 3, 2, 4, 5, 2, 4
    dout = _special(rng, (f, po, qo, n), dtype)
    argmax = rng.integers(0, 5, (f, po, qo, n)).astype(np.uint8)  # 4: no winner (a window the ReLU zeroed)
    want = np.empty((n, f, 2 * r, 2 * qo), dtype)
    won = np.empty((n, f, r, qo), bool)
    d, am = (a[:, p0:p0 + r].transpose(3, 0, 1, 2) for a in (dout, argmax))
    with np.errstate(invalid="ignore"):
        route_block(d, am, _windows(want, 2, 2, r, qo), won)
    dy = np.full((f, 2 * r, 2 * qo, n), 3, dtype)
    nb.route_band(dout, argmax, p0, dy, dtype(0))
    np.testing.assert_array_equal(_bits(dy), _bits(want.transpose(1, 2, 3, 0)))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_band_adds_in_numpys_order(nb, stride, dtype):
    """The same bits as one NumPy add per kernel offset: every element gets its terms in the same order."""
    rng = np.random.default_rng(2)
    c, k, rows, wo, n, top = 2, 3, 4, 5, 3, 2
    dcols = rng.standard_normal((c, k, k, rows, wo, n)).astype(dtype)
    dxp = rng.standard_normal((c, top + k + stride * rows + 1, k + stride * wo, n)).astype(dtype)
    want = dxp.copy()
    for i in range(k):
        for j in range(k):
            want[:, top + i:top + i + stride * rows:stride, j:j + stride * wo:stride] += dcols[:, i, j]
    nb.col2im_band(dcols, dxp, top, stride)
    np.testing.assert_array_equal(_bits(dxp), _bits(want))


@pytest.mark.parametrize("parts", [1, 2])
def test_a_convnet_step_has_the_same_bits_with_either_kernels(nb, monkeypatch, parts):
    """Loss and every gradient of a float32 ConvNet, in one batch part or two threads: bit for bit."""
    monkeypatch.setattr(parallel, "MIN_PART_SAMPLES", 1)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 3, 16, 16)).astype(np.float32), rng.integers(0, 10, 40)
    results = {}
    for name in ("numpy", "numba"):
        monkeypatch.setenv("BABYSIT_KERNELS", name)
        model = ConvNet(input_dim=(3, 16, 16), conv_channels=[8, 16], reg=1e-3, seed=0)
        model.batch_parts = parts
        results[name] = model.loss(X, y)
        first = model._part_copies[0].layers[0] if parts > 1 else model.layers[0]
        assert first.ran_fused()
    (loss_a, grads_a), (loss_b, grads_b) = results["numpy"], results["numba"]
    assert loss_a == loss_b and grads_a.keys() == grads_b.keys()
    for key in grads_a:
        np.testing.assert_array_equal(_bits(grads_b[key]), _bits(grads_a[key]), err_msg=key)


def test_use_kernels_sets_the_environment_its_workers_inherit(nb, monkeypatch):
    monkeypatch.setenv(kernels.ENV, "numpy")
    assert kernels.numba_kernels() is None and kernels.active_kernels() == "numpy"
    kernels.use_kernels("numba")
    assert kernels.active_kernels() == "numba" and kernels.numba_kernels() is nb
    assert os.environ[kernels.ENV] == "numba"


def test_unknown_kernels_name_the_choices(monkeypatch):
    with pytest.raises(ConfigError, match=r"'numpy', 'numba'.*'cuda'"):
        kernels.use_kernels("cuda")
    monkeypatch.setenv(kernels.ENV, "fast")
    with pytest.raises(ConfigError, match=r"\$BABYSIT_KERNELS must be one of 'numpy', 'numba'. Got 'fast'"):
        kernels.numba_kernels()


def test_numba_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "babysit.nn.numba_kernels", raising=False)
    monkeypatch.delattr(babysit.nn, "numba_kernels", raising=False)
    monkeypatch.setattr(kernels, "_loaded", {})
    monkeypatch.setenv(kernels.ENV, "numpy")
    with pytest.raises(ConfigError, match=r"need numba, which is not installed.*pip install 'babysit\[numba\]'"):
        kernels.use_kernels("numba")
    assert kernels.active_kernels() == "numpy"  # the choice is unchanged


def test_the_kernels_compile_without_a_writable_cache(nb, monkeypatch):
    """No cache folder numba can use (numba then refuses ``cache=True``): the kernels still compile, uncached."""
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    try:
        fresh = importlib.reload(nb)
        y = np.arange(16, dtype=np.float64).reshape(1, 2, 2, 4) - 8
        out, argmax = np.empty((1, 1, 1, 4)), np.empty((1, 1, 1, 4), np.uint8)
        fresh.relu_pool_band(y, out, argmax, 0, 0.0)
        np.testing.assert_array_equal(out.ravel(), [4, 5, 6, 7.0])  # each window's bottom right wins
        np.testing.assert_array_equal(argmax.ravel(), [3, 3, 3, 3])
        assert fresh.relu_pool_band._cache.__class__.__name__ == "NullCache"
    finally:
        monkeypatch.undo()
        importlib.reload(nb)
