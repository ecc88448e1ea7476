"""Numba kernels for the banded conv -> ReLU -> 2x2 pool's memory-bound passes (``babysit.nn.convpool``).

Why: in NumPy, a band's pooling takes 13 whole-band passes (``pool.pool_block``), its backward routing 8
(``pool.route_block``) and col2im 9 read-modify-write adds; each NumPy call also hands the GIL to the other
batch part's thread and back (docs/benchmarks.md, "the ConvNet's idle time"). Each kernel here is one pass
over its arrays, in the same arithmetic and order as the NumPy passes, so the results are the same bits
(tests/nn/test_numba_kernels.py), and it runs without the GIL (``nogil``). Optional: ``babysit.nn.kernels``
imports this module only when the numba kernels are chosen.

Layouts are the conv's (channel-major, batch-minor): a band of conv output ``y`` is (F, 2r, Wo, N), the
pooled output, its offsets and gradient are (F, Ho/2, Wo/2, N), the padded input gradient (C, Hp, Wp, N).
"""

from __future__ import annotations

import numba

_JIT = dict(nogil=True, boundscheck=False, fastmath=False, error_model="numpy")


def jit_kernel(fn):
    """``numba.njit`` with its on-disk cache (0.1 s to load instead of ~0.7 s to compile), or without it where no
    cache folder is writable (numba then refuses ``cache=True`` at decoration): compiled once per process."""
    try:
        return numba.njit(cache=True, **_JIT)(fn)
    except RuntimeError:
        return numba.njit(cache=False, **_JIT)(fn)


@jit_kernel
def relu_pool_band(y, out, argmax, p0, zero):
    """``pool_block(..., relu=True)`` on a band: y (F, 2r, Wo, N) -> rows p0..p0+r of out and argmax
    (F, Ho/2, Wo/2, N). The winner of a 2x2 window (its row-major offset): the right of a pair only when
    strictly greater, the bottom pair only when strictly greater than the top; the max is ``np.maximum``'s
    (NaN propagates; of equal values the second, so -0.0 and 0.0 give 0.0); a window whose max is <= 0 gets
    0 and offset 4 (no winner). ``zero``: 0 of y's dtype (a float64 literal would make the sums float64)."""
    f_, r2, wo, n_ = y.shape
    for f in range(f_):
        for r in range(r2 // 2):
            for q in range(wo // 2):
                for n in range(n_):
                    a = y[f, 2 * r, 2 * q, n]
                    b = y[f, 2 * r, 2 * q + 1, n]
                    c = y[f, 2 * r + 1, 2 * q, n]
                    d = y[f, 2 * r + 1, 2 * q + 1, n]
                    top_off = 1 if b > a else 0
                    top = a if a > b or a != a else b  # np.maximum(a, b): b on a tie (-0.0 vs 0.0), NaN wins
                    bot_off = 3 if d > c else 2
                    bot = c if c > d or c != c else d
                    off = bot_off if bot > top else top_off
                    best = top if top > bot or top != top else bot
                    if best <= 0:  # np.maximum(best, 0) and no winner
                        off = 4
                        best = zero
                    out[f, p0 + r, q, n] = best
                    argmax[f, p0 + r, q, n] = off


@jit_kernel
def route_band(dout, argmax, p0, dy, zero):
    """``pool.route_block`` on a band: rows p0..p0+r of dout and argmax (F, Ho/2, Wo/2, N) -> the band's
    conv output gradient dy (F, 2r, Wo, N). Each output gradient goes to the offset that won its window,
    and ``dout * 0`` to the other three (as NumPy's ``d * won``: a NaN stays NaN, a negative gives -0.0);
    ``zero``: 0 of dy's dtype."""
    f_, r2, wo, n_ = dy.shape
    for f in range(f_):
        for r in range(r2 // 2):
            for i in range(2):
                for x in range(wo):
                    q, j = x // 2, x % 2
                    k = 2 * i + j
                    for n in range(n_):
                        d = dout[f, p0 + r, q, n]
                        dy[f, 2 * r + i, x, n] = d if argmax[f, p0 + r, q, n] == k else d * zero


@jit_kernel
def col2im_band(dcols, dxp, top, stride):
    """The col2im adds of a band (``convpool``'s loop over kernel offsets): dcols (C, HH, WW, rows, Wo, N),
    the band's patch gradients, added into the padded input gradient dxp (C, Hp, Wp, N) from row ``top``.
    Offsets (i, j) in row-major order, as NumPy's nine adds: every element gets its terms in the same order."""
    c_, hh, ww, rows, wo, n_ = dcols.shape
    for c in range(c_):
        for i in range(hh):
            for j in range(ww):
                for rr in range(rows):
                    row = top + i + stride * rr
                    for x in range(wo):
                        col = j + stride * x
                        for n in range(n_):
                            dxp[c, row, col, n] += dcols[c, i, j, rr, x, n]
