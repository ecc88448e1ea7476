"""Conv2d (im2col) -> ReLU -> 2x2 max pool, one band of output rows at a time.

Why: layer by layer, the conv's patch matrix and its output are written to memory whole (a conv:32,64's
first conv: 11.5 MB of patches and 13 MB of output per 100 images), then read back by the GEMM, by the
pool, and again by the backward's weight-gradient GEMM, and the pool's input gradient (13 MB) is written
and read back once more. Here the patches, the conv output and its gradient exist only for a band of a
few output rows (about ``BAND_BYTES``, so a band stays in a core's L2 cache): the forward makes a band's
patches, multiplies, and pools the band at once; the backward routes the pooled gradient into a band of
the conv's output gradient, makes that band's patches again (cheaper than keeping them all), adds the
band's share of the weight gradient and scatters its input gradient. Nothing of the conv's output size
is ever stored: the pool keeps only its (4x smaller) output and winning offsets.

The arithmetic is the layer-by-layer path's (``conv.conv_forward``, ``pool.maxpool_forward`` with its fused
ReLU, their backwards); only the weight gradient is summed band by band (in band order: the same bits on
every run), so it differs from the single GEMM's by float rounding. Models use it through
``Sequential`` when a ``Conv2d``, a ``ReLU`` and a ``MaxPool2d(2, 2)`` follow each other (``Conv2d.fuses_next``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.nn.buffers import alloc_ordered, new_array
from babysit.nn.conv import CHWN, conv_output_size, pad_image, patch_view
from babysit.nn.kernels import numba_kernels
from babysit.nn.pool import PoolCache, _windows, pool_block, route_block

BAND_BYTES = 2 << 20  # one band's patch matrix and conv output (at least one pooled row)


class ConvPoolCache(NamedTuple):
    xp: np.ndarray          # the zero-padded input (N, C, Hp, Wp), stored (C, Hp, Wp, N)
    w: np.ndarray
    wb: np.ndarray          # [W, b] as the forward used them (W reshaped (F, C*HH*WW), then b)
    x_shape: tuple
    stride: int
    pad: int
    pool: PoolCache         # the pool's winning offsets over the (N, F, Ho, Wo) conv output
    band: int               # pooled rows per band


def fusable(h: int, w: int, kernel: tuple, stride: int, pad: int) -> bool:
    """Whether an (h, w) input's conv output tiles into 2x2 windows (even and at least 2 on each side)."""
    ho, wo = conv_output_size(h, kernel[0], stride, pad), conv_output_size(w, kernel[1], stride, pad)
    return ho >= 2 and wo >= 2 and ho % 2 == 0 and wo % 2 == 0


def _band_rows(k: int, f: int, wo: int, n: int, itemsize: int, po: int) -> int:
    """Pooled rows per band: the band's patches (k + 1 rows) and conv output (f rows) within BAND_BYTES."""
    per_row = (k + 1 + f) * 2 * wo * n * itemsize
    return max(1, min(po, BAND_BYTES // per_row))


def _forward_views(r, wo, qo, n, cols, y, pool_work, chw):
    """A band of r pooled rows' views of the forward's work arrays: the patch columns (and their 6-D shape
    that the input's patches are copied into), the conv output (2-D for the GEMM, and (F, 2r, Wo, N)), and
    for the NumPy pool (``pool_work`` given: its five arrays) the output's four 2x2-window views and the
    pool's arrays. Every band but perhaps the last has the same r, so a pass makes these once, not per
    band: each is a few us of Python that the other part's thread would wait on (the GIL)."""
    m = 2 * r * wo * n
    f = y.shape[0]
    y_r = y[:, :m]
    y4 = y_r.reshape(f, 2 * r, wo, n)
    pool = None
    if pool_work is not None:
        pool = (_windows(y4.transpose(3, 0, 1, 2), 2, 2, r, qo), *(a[:, :, :r] for a in pool_work))
    return cols[:, :m], cols[:-1, :m].reshape(*chw, 2 * r, wo, n), y_r, y4, pool


def _backward_views(r, wo, qo, n, dy, won, cols, dcols, chw):
    """The backward's views for a band of r pooled rows (as ``_forward_views``): the conv output's gradient
    (2-D, its transpose, and (F, 2r, Wo, N)); for the NumPy routing (``won``, its mask, given) its 2x2-window
    views and mask; the patch columns (cols given: the weight gradient is wanted), the patch gradients (dcols
    given: the input gradient is) as (C, HH, WW, 2r, Wo, N) and, for NumPy's col2im, by kernel offset."""
    m = 2 * r * wo * n
    f = dy.shape[0]
    c, hh, ww = chw
    dy_r = dy[:, :m]
    dy4 = dy_r.reshape(f, 2 * r, wo, n)
    route = None
    if won is not None:  # (N, F, 2r, Wo): tiled by the windows
        route = (_windows(dy4.transpose(3, 0, 1, 2), 2, 2, r, qo), won[:, :, :r])
    cols_r = patches_r = dcols_r = dcols6 = dpatches = None
    if cols is not None:
        cols_r, patches_r = cols[:, :m], cols[:-1, :m].reshape(c, hh, ww, 2 * r, wo, n)
    if dcols is not None:
        dcols_r = dcols[:, :m]
        dcols6 = dcols_r.reshape(c, hh, ww, 2 * r, wo, n)
        d = dcols6.transpose(5, 0, 1, 2, 3, 4)  # (N, C, HH, WW, rows, Wo)
        dpatches = [[d[:, :, i, j] for j in range(ww)] for i in range(hh)]
    return dy_r, dy_r.T, dy4, route, cols_r, patches_r, dcols_r, dcols6, dpatches


def conv_relu_pool_forward(x, w, b, stride=1, pad=0, alloc=new_array):
    """``maxpool_forward(relu(conv_forward(x, w, b, stride, pad)), 2, 2)`` without the conv output.

    Inputs as ``conv_forward`` (x (N, C, H, W) in any layout, its conv output even in height and width).
    Returns: (out (N, F, Ho/2, Wo/2), a view of an array stored (F, Ho/2, Wo/2, N); cache).
    """
    f, c, hh, ww = w.shape
    n, _, h, wd = x.shape
    ho, wo = conv_output_size(h, hh, stride, pad), conv_output_size(wd, ww, stride, pad)
    po, qo = ho // 2, wo // 2
    k = c * hh * ww
    xp = pad_image(x, pad, alloc)
    wb = alloc("wb", (f, k + 1), w.dtype)  # [W, b]: the bias meets the patches' row of ones
    wb[:, :-1] = w.reshape(f, -1)
    wb[:, -1] = b
    out = alloc_ordered(alloc, "out", (n, f, po, qo), x.dtype, CHWN)
    argmax = alloc_ordered(alloc, "argmax", (n, f, po, qo), np.uint8, CHWN)
    band = _band_rows(k, f, wo, n, x.dtype.itemsize, po)
    cols = alloc("band cols", (k + 1, 2 * band * wo * n), x.dtype, fill=1)  # the ones row is never overwritten
    y = alloc("band out", (f, 2 * band * wo * n), x.dtype)
    kernels = numba_kernels()
    pool_work = None  # NumPy's pool: the band's pooled output and offsets, and three work arrays
    if kernels is None:
        work = (n, f, band, qo)
        pool_work = tuple(alloc_ordered(alloc, name, work, dtype, CHWN) for name, dtype in (
            ("band pooled", x.dtype), ("band argmax", np.uint8), ("better", np.bool_), ("offset", np.uint8),
            ("bottom", x.dtype)))
    out_t, argmax_t, zero = out.transpose(CHWN), argmax.transpose(CHWN), x.dtype.type(0)  # (F, Po, Qo, N)
    patches = patch_view(xp, hh, ww, stride, ho, wo)
    views = {}  # r -> a band of r rows' views of the work arrays (_forward_views)
    for p0 in range(0, po, band):
        r = min(band, po - p0)
        if r not in views:
            views[r] = _forward_views(r, wo, qo, n, cols, y, pool_work, (c, hh, ww))
        cols_r, patches_r, y_r, y4, pool = views[r]
        np.copyto(patches_r, patches[:, :, :, 2 * p0:2 * (p0 + r)])
        np.matmul(wb, cols_r, out=y_r)
        if kernels is not None:  # one pass, straight into the whole output
            kernels.relu_pool_band(y4, out_t, argmax_t, p0, zero)
            continue
        # pooled into the band's own small arrays, then copied out in one pass each: the channels of the
        # whole output lie a multiple of 4 KiB apart (conv:32,64's first), so the pool's passes writing
        # there directly cost more (measured: 1-2% of the step)
        windows, o, a, b_, off, bot = pool
        pool_block(o, a, windows, True, b_, off, bot)
        np.copyto(out[:, :, p0:p0 + r], o)
        np.copyto(argmax[:, :, p0:p0 + r], a)
    pool_cache = PoolCache(argmax, (n, f, ho, wo), 2, 2)
    return out, ConvPoolCache(xp, w, wb, x.shape, stride, pad, pool_cache, band)


def conv_relu_pool_backward(dout, cache: ConvPoolCache, need_dx=True, alloc=new_array, need_dw=True):
    """Backward of ``conv_relu_pool_forward``: dout (N, F, Ho/2, Wo/2) -> (dx (N, C, H, W) or None, dw, db);
    dw and db are None when ``need_dw`` is False, as in ``conv_backward``."""
    xp, w, _, x_shape, stride, pad, pool_cache, band = cache
    f, c, hh, ww = w.shape
    n, _, po, qo = dout.shape
    wo = 2 * qo
    k = c * hh * ww
    argmax = pool_cache.argmax
    dy = alloc("band dout", (f, 2 * band * wo * n), dout.dtype)  # the conv output's gradient, one band
    kernels = numba_kernels()
    won = alloc_ordered(alloc, "won", (n, f, band, qo), np.bool_, CHWN) if kernels is None else None
    dout_t, argmax_t, zero = dout.transpose(CHWN), argmax.transpose(CHWN), dout.dtype.type(0)  # (F, Po, Qo, N)
    if need_dw:
        cols = alloc("band cols", (k + 1, 2 * band * wo * n), xp.dtype, fill=1)
        dwb = alloc("dwb", (k + 1, f), dout.dtype)
        share = alloc("dwb band", (k + 1, f), dout.dtype)
    if need_dx:
        h, wd = x_shape[2:]
        dxp = alloc_ordered(alloc, "dxpad", (n, c, h + 2 * pad, wd + 2 * pad), dout.dtype, CHWN)
        dxp.fill(0)
        dxp_t = dxp.transpose(CHWN)
        dcols = alloc("dcols", (k, 2 * band * wo * n), dout.dtype)
        wt = w.reshape(f, k).T
    patches = patch_view(xp, hh, ww, stride, 2 * po, wo) if need_dw else None
    views = {}  # r -> a band of r rows' views (_backward_views)
    for p0 in range(0, po, band):
        r = min(band, po - p0)
        if r not in views:
            views[r] = _backward_views(r, wo, qo, n, dy, won, cols if need_dw else None, dcols if need_dx else None,
                                       (c, hh, ww))
        dy_r, dy_t, dy4, route, cols_r, patches_r, dcols_r, dcols6, dpatches = views[r]
        if kernels is not None:
            kernels.route_band(dout_t, argmax_t, p0, dy4, zero)
        else:
            route_block(dout[:, :, p0:p0 + r], argmax[:, :, p0:p0 + r], *route)
        if need_dw:  # (K+1, F) = patches @ dy.T, the bands added in order; the ones row gives db
            np.copyto(patches_r, patches[:, :, :, 2 * p0:2 * (p0 + r)])
            if p0 == 0:
                np.matmul(cols_r, dy_t, out=dwb)
            else:
                dwb += np.matmul(cols_r, dy_t, out=share)
        if need_dx:  # col2im of the band's rows: one add per kernel offset, as conv.col2im_rows
            np.matmul(wt, dy_r, out=dcols_r)
            top = 2 * p0 * stride
            if kernels is not None:
                kernels.col2im_band(dcols6, dxp_t, top, stride)
            else:
                for i in range(hh):
                    rows = slice(top + i, top + i + stride * 2 * r, stride)
                    for j in range(ww):
                        dxp[:, :, rows, j:j + stride * wo:stride] += dpatches[i][j]
    dw = db = None
    if need_dw:
        dw, db = dwb[:k].T.reshape(w.shape), dwb[k]
    if not need_dx:
        return None, dw, db
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, db
