"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3), as batched GEMMs.

Why: im2col + one GEMM spends 9 multiplies per input channel and output pixel; F(2x2, 3x3)
computes each 2x2 output tile from a 4x4 input tile with 16 multiplies per channel, i.e. 4 per
output pixel (2.25x fewer), and its patch matrix is 4x the input instead of 9x (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2016). With B, G, A the transforms below,

    out_tile = A^T [ (G w G^T) (.) (B^T d_tile B) ] A        ((.): elementwise over the 4x4 tile)

and the elementwise product summed over input channels is 16 independent GEMMs
``M[xi] = U[xi] @ V[xi]`` (F x C by C x tiles), one per position xi of the 4x4 tile.

Layout: as ``babysit.nn.conv`` (channel-major, batch-minor (C, H, W, N)), so a tile's 16 input
values for all images are 16 strided views whose inner runs are N floats long. The tiles are
processed a few tile rows at a time (``CHUNK_BYTES``): the input transform (elementwise, from the
strided views of the padded input), the 16 channel GEMMs,
the output transform (one GEMM with the 4x16 kron(A^T, A^T)) and the bias, written straight into
the output rows; so the 16 x F x tiles products never exist at once and stay in cache. The
transformed inputs V (4x the input) are kept for the weight gradient.

Backward (the same algebra transposed): dM = kron(A, A) dY per tile; dU = sum_chunks dM @ V^T,
dW = G^T dU G; dV = U^T @ dM, and the input gradient is kron(B, B) dV scattered back onto the
overlapping 4x4 tiles (adjacent tiles share two rows / columns, whose gradients add).

Float32 error: the transforms have entries 0, +-1, +-1/2, so the result differs from the direct
sum only by rounding (measured against float64 in the tests).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.nn.buffers import new_array

CHUNK_BYTES = 4 << 20  # the 16 channel-GEMM outputs of one chunk of tile rows (at least one row)

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
KRON_B_T = np.kron(B_T, B_T)  # (16, 16): the 4x4 input tile, flattened row-major, to V
KRON_A_T = np.kron(A_T, A_T)  # (4, 16): M's 4x4 tile to the 2x2 output tile


class WinogradCache(NamedTuple):
    v: np.ndarray       # (chunks, 16, C, chunk tiles): the transformed input tiles, chunk by chunk
    u: np.ndarray       # (16, F, C): the transformed filters
    x_shape: tuple      # (N, C, H, W)
    pad: int
    rows: int           # tile rows per chunk


def tiles(h: int, w: int, pad: int) -> tuple[int, int]:
    """Tile rows and columns (2x2 output tiles) covering the (H + 2 pad - 2) x (W + 2 pad - 2) output."""
    return (h + 2 * pad - 1) // 2, (w + 2 * pad - 1) // 2


def transform_filters(w: np.ndarray) -> np.ndarray:
    """U = G w G^T for every (filter, channel): (F, C, 3, 3) -> (16, F, C), in w's dtype."""
    f, c = w.shape[:2]
    g = G.astype(w.dtype)
    u = np.matmul(np.matmul(g, w), g.T)  # (F, C, 4, 4)
    return np.ascontiguousarray(u.reshape(f, c, 16).transpose(2, 0, 1))


def filter_gradient(du: np.ndarray) -> np.ndarray:
    """dW = G^T dU G: (16, F, C) -> (F, C, 3, 3) (the transpose of ``transform_filters``)."""
    g = G.astype(du.dtype)
    f, c = du.shape[1:]
    return np.matmul(np.matmul(g.T, du.transpose(1, 2, 0).reshape(f, c, 4, 4)), g)


def _chunk_rows(th: int, per_row: int, itemsize: int) -> int:
    return max(1, min(th, CHUNK_BYTES // max(1, 16 * per_row * itemsize)))


def _padded(x, pad: int, th: int, tw: int, alloc):
    """x (N, C, H, W) zero-padded into a (C, 2 th + 2, 2 tw + 2, N) work array (tiles may reach past the pad)."""
    n, c, h, w = x.shape
    xp = alloc("xpad", (c, 2 * th + 2, 2 * tw + 2, n), x.dtype, fill=0)  # the border is never written
    inner = xp[:, pad:pad + h, pad:pad + w].transpose(3, 0, 1, 2)  # as (N, C, H, W)
    if x.flags.c_contiguous:  # NCHW: a transposing copy, 8 images at a time keep it in cache
        for i in range(0, n, 8):
            np.copyto(inner[i:i + 8], x[i:i + 8])
    else:
        np.copyto(inner, x)
    return xp


def _tile_views(a, r0: int, r1: int, tw: int):
    """The 16 (C, r1-r0, tw, N) views of the 4x4 tiles of tile rows r0:r1 in a (C, H, W, N) array."""
    return [a[:, 2 * r0 + i:2 * r1 + i - 1:2, j:2 * tw + j - 1:2] for i in range(4) for j in range(4)]


def input_transform(xp, r0: int, r1: int, tw: int, t, v) -> None:
    """V = B^T d B for the tiles of tile rows r0:r1 of xp (C, H, W, N), written into v (16, C, tiles).

    Separable and elementwise (B^T has two nonzeros +-1 per row), straight from the strided
    views of xp: first along the rows into t (4, C, rows, W, N), then along the columns. (Cheaper
    than gathering the 16 views and multiplying by the 16x16 kron(B^T, B^T): measured.)
    """
    c, n = xp.shape[0], xp.shape[3]
    r = [xp[:, 2 * r0 + i:2 * r1 + i - 1:2] for i in range(4)]
    _bt_combine(r, t)
    for a in range(4):
        cols = [t[a][:, :, j:2 * tw + j - 1:2] for j in range(4)]
        _bt_combine(cols, [v[4 * a + b].reshape(c, r1 - r0, tw, n) for b in range(4)])


def _bt_combine(d, out) -> None:
    """out[i] = sum_u B^T[i, u] d[u]: d0 - d2, d1 + d2, d2 - d1, d1 - d3."""
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


def winograd_forward(x, w, b, pad: int = 1, alloc=new_array):
    """Inputs: x (N, C, H, W) in any memory layout; w (F, C, 3, 3); b (F,); stride 1.
    Returns: (out (N, F, Ho, Wo), a view of an array stored (F, Ho', Wo', N); cache)."""
    n, c, h, wd = x.shape
    f = w.shape[0]
    ho, wo = h + 2 * pad - 2, wd + 2 * pad - 2
    th, tw = tiles(h, wd, pad)
    dt = x.dtype
    xp = _padded(x, pad, th, tw, alloc)
    u = transform_filters(w)
    ka = KRON_A_T.astype(dt)
    per_row = tw * n
    rows = _chunk_rows(th, max(f, c) * per_row, dt.itemsize)
    chunks = -(-th // rows)
    v = alloc("v", (chunks, 16, c, rows * per_row), dt)
    t_rows = alloc("t_rows", (4, c, rows, 2 * tw + 2, n), dt)
    m = alloc("m", (16, f, rows * per_row), dt)
    y = alloc("y", (4, f, rows * per_row), dt)
    out = alloc("out", (f, 2 * th, 2 * tw, n), dt)
    bias = b.reshape(f, 1, 1, 1)
    for k, r0 in enumerate(range(0, th, rows)):
        r1 = min(r0 + rows, th)
        cols = (r1 - r0) * per_row
        vk, mk, yk = v[k, :, :, :cols], m[:, :, :cols], y[:, :, :cols]
        input_transform(xp, r0, r1, tw, t_rows[:, :, :r1 - r0], vk)   # V = B^T d B
        np.matmul(u, vk, out=mk)                                      # the 16 channel GEMMs
        _small_gemm(ka, mk, yk)                                       # Y = kron(A^T, A^T) M
        for t in range(4):
            i, j = divmod(t, 2)
            np.add(yk[t].reshape(f, r1 - r0, tw, n), bias, out=out[:, 2 * r0 + i:2 * r1:2, j::2])
    view = out[:, :ho, :wo].transpose(3, 0, 1, 2)
    return view, WinogradCache(v, u, x.shape, pad, rows)


def _small_gemm(k: np.ndarray, a: np.ndarray, out: np.ndarray) -> None:
    """out (p, ...) = k (p, q) @ a (q, ...), the trailing axes of a and out flattened (their chunks
    are column slices of bigger arrays, so this goes column block by column block)."""
    p, q = k.shape
    if a.flags.c_contiguous and out.flags.c_contiguous:
        np.matmul(k, a.reshape(q, -1), out=out.reshape(p, -1))
        return
    for i in range(a.shape[1]):  # one BLAS call per channel/filter: (p, q) @ (q, cols)
        np.matmul(k, a[:, i], out=out[:, i])


def winograd_backward(dout, cache: WinogradCache, need_dx: bool = True, alloc=new_array, need_dw: bool = True):
    """Backward of ``winograd_forward``: (dx (N, C, H, W) or None, dw (F, C, 3, 3), db (F,)); dw and db are
    None when ``need_dw`` is False (a frozen layer)."""
    v, u, x_shape, pad, rows = cache
    n, c, h, wd = x_shape
    f = u.shape[1]
    th, tw = tiles(h, wd, pad)
    ho, wo = h + 2 * pad - 2, wd + 2 * pad - 2
    dt = dout.dtype
    per_row = tw * n
    # dout in the (F, 2 th, 2 tw, N) layout of the tiles, zero past the output's edge
    dy = alloc("dy", (f, 2 * th, 2 * tw, n), dt, fill=0)
    dyv = dy[:, :ho, :wo].transpose(3, 0, 1, 2)
    given = dout.transpose(1, 2, 3, 0)
    if dyv.shape == dout.shape and (2 * th, 2 * tw) == (ho, wo) and given.flags.c_contiguous:
        dy = given  # already in that layout: no copy
    elif dout.flags.c_contiguous:  # NCHW: transposing copy in blocks of images
        for i in range(0, n, 8):
            np.copyto(dyv[i:i + 8], dout[i:i + 8])
    else:
        np.copyto(dyv, dout)
    db = dy.reshape(f, -1).sum(axis=1) if need_dw else None
    ka, kb = KRON_A_T.T.astype(dt), KRON_B_T.T.astype(dt)  # the transposed transforms
    du = np.zeros((16, f, c), dt)
    du_k = alloc("du_k", (16, f, c), dt)
    dy4 = alloc("dy4", (4, f, rows * per_row), dt)
    dm = alloc("dm", (16, f, rows * per_row), dt)
    if need_dx:
        ut = u.transpose(0, 2, 1)
        dv = alloc("dv", (16, c, rows * per_row), dt)
        dd = alloc("dd", (16, c, rows * per_row), dt)
        dxp = alloc("dxpad", (c, 2 * th + 2, 2 * tw + 2, n), dt)
        dxp.fill(0)
    for k, r0 in enumerate(range(0, th, rows)):
        r1 = min(r0 + rows, th)
        cols = (r1 - r0) * per_row
        yk, mk, vk = dy4[:, :, :cols], dm[:, :, :cols], v[k, :, :, :cols]
        for t in range(4):
            i, j = divmod(t, 2)
            np.copyto(yk[t].reshape(f, r1 - r0, tw, n), dy[:, 2 * r0 + i:2 * r1:2, j::2])
        _small_gemm(ka, yk, mk)                                  # dM = kron(A, A) dY
        if need_dw:
            np.matmul(mk, vk.transpose(0, 2, 1), out=du_k)       # dU += dM V^T
            du += du_k
        if need_dx:
            dvk, ddk = dv[:, :, :cols], dd[:, :, :cols]
            np.matmul(ut, mk, out=dvk)                           # dV = U^T dM
            _small_gemm(kb, dvk, ddk)                            # d(tile) = kron(B, B) dV
            for t, view in enumerate(_tile_views(dxp, r0, r1, tw)):
                view += ddk[t].reshape(c, r1 - r0, tw, n)        # overlapping tiles add up
    dw = filter_gradient(du) if need_dw else None
    if not need_dx:
        return None, dw, db
    return dxp[:, pad:pad + h, pad:pad + wd].transpose(3, 0, 1, 2), dw, db
