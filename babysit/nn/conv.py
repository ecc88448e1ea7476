"""2-D convolution as im2col + one GEMM, in the channel-major, batch-minor layout (C, H, W, N).

Why that layout: with the batch axis innermost, a row of the padded image for every image
of the batch, ``x[c, h, w0:w1, :]``, is one contiguous run of (w1 - w0) * N values. So the
patch matrix (im2col), its backward scatter (col2im) and the pooling windows after the conv
all copy long runs instead of one channel vector or one image row at a time, and the GEMM
``[W, b] @ [patches; 1]`` writes its (F, Ho*Wo*N) result straight into that same layout.

The layer API stays (N, C, H, W): the input may be stored in any layout (it is copied into
the zero-padded (C, H, W, N) work array), and the output is an (N, F, Ho, Wo) view of the
(F, Ho, Wo, N) result, which the next ReLU, pooling and conv keep. The patch matrix has an
extra row of ones, so the bias rides in the GEMM and its gradient comes out of the weight
gradient's GEMM for free. The patch gradients are made and scattered a few output rows at
a time (``CHUNK_BYTES``), so that they are still in cache when col2im adds them up, instead
of filling a second matrix 9x the input. No Python loop over pixels or images: the copies
loop only over kernel offsets (and row chunks).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from babysit.errors import InputError
from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.buffers import alloc_ordered, axis_order, new_array
from babysit.nn.init import as_generator, init_weight, resolve_init
from babysit.nn.winograd import winograd_backward, winograd_forward
from babysit.validation import AT_LEAST_ONE, Interval, check_choice, check_int, check_int_list, invalid

CHWN = (1, 2, 3, 0)  # the axes of (N, C, H, W) from outermost to innermost in memory
CHUNK_BYTES = 2 << 20  # patch gradients per chunk of output rows (at least one row)
ALGORITHMS = ("auto", "im2col", "winograd")
# 'auto' takes Winograd for 3x3 stride-1 kernels from this many input channels: with fewer, its 16
# channel GEMMs are too thin (K = C) and its transforms too costly against them to beat im2col's one
# GEMM with K = 9 C. Measured (benchmarks/bench_conv.py, CPU time of forward + backward, batch 200):
# C = 3 -> 32 at 32x32 0.35x im2col's speed, 32 -> 64 at 16x16 0.82-1.02x, 64 -> 64 1.00-1.04x,
# 64 -> 128 at 8x8 1.13-1.21x, 128 -> 128 1.40-1.49x (two runs on a shared AMD EPYC; docs/benchmarks.md).
WINOGRAD_MIN_CHANNELS = 64


class ConvCache(NamedTuple):
    cols: np.ndarray        # (C*HH*WW + 1, Ho*Wo*N): the patches, rows ordered (c, i, j), then a row of ones
    w: np.ndarray
    x_shape: tuple
    stride: int
    pad: int


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def pad_image(x, pad, alloc=new_array):
    """x (N, C, H, W) zero-padded by ``pad`` on both spatial sides, stored (C, H, W, N).

    Returns x itself when it needs neither padding nor a new layout.
    """
    if not pad and axis_order(x) == CHWN:
        return x
    n, c, h, w = x.shape
    # the border is zeroed when the buffer is made and never written: only the interior changes
    xp = alloc_ordered(alloc, "xpad", (n, c, h + 2 * pad, w + 2 * pad), x.dtype, CHWN, fill=0)
    inner = xp[:, :, pad:pad + h, pad:pad + w]
    if axis_order(x) == CHWN:  # long runs on both sides
        np.copyto(inner, x)
    else:  # a transposing copy: 8 images at a time keep the reads and the writes in cache (3-4x faster)
        for i in range(0, n, 8):
            np.copyto(inner[i:i + 8], x[i:i + 8])
    return xp


def im2col(xp, hh, ww, stride, ho, wo, alloc=new_array):
    """Patches of the padded input xp (N, C, Hp, Wp) as columns: (C*HH*WW + 1, Ho*Wo*N).

    Rows are ordered (c, i, j) like ``W.reshape(F, -1)``, columns (ho, wo, n); the last row is
    ones. xp stored (C, H, W, N) makes every copied run Wo*N long (at stride 1).
    """
    n, c = xp.shape[:2]
    k = c * hh * ww
    cols = alloc("cols", (k + 1, ho * wo * n), xp.dtype, fill=1)  # the ones row is never overwritten
    np.copyto(cols[:k].reshape(c, hh, ww, ho, wo, n), patch_view(xp, hh, ww, stride, ho, wo))
    return cols


def patch_view(xp, hh, ww, stride, ho, wo):
    """Every patch of the padded input xp (N, C, Hp, Wp) as a read-only view (C, HH, WW, Ho, Wo, N): output
    rows h0:h1's patches are ``view[:, :, :, h0:h1]``, a slice (``as_strided`` costs ~10 us of Python per call:
    made once per pass, not once per band)."""
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, (c, hh, ww, ho, wo, n), (sc, sh, sw, stride * sh, stride * sw, sn), writeable=False)


def col2im_rows(dcols, dxp, h0, h1, hh, ww, stride, wo):
    """Add the patch gradients (C*HH*WW, (h1-h0)*Wo*N) of output rows h0:h1 into dxp (N, C, Hp, Wp)."""
    n, c = dxp.shape[:2]
    d = dcols.reshape(c, hh, ww, h1 - h0, wo, n).transpose(5, 0, 1, 2, 3, 4)  # (N, C, HH, WW, rows, Wo)
    for i in range(hh):  # loops over the kernel offsets only
        top = h0 * stride + i
        for j in range(ww):
            dxp[:, :, top:top + stride * (h1 - h0):stride, j:j + stride * wo:stride] += d[:, :, i, j]


def _as_matrix(a):
    """(N, F, H, W) as the (F, H*W*N) matrix of its (F, H, W, N) layout (a view when stored so)."""
    return a.transpose(1, 2, 3, 0).reshape(a.shape[1], -1)


def conv_forward(x, w, b, stride=1, pad=0, alloc=new_array):
    """Inputs: x (N, C, H, W) in any memory layout; w (F, C, HH, WW); b (F,);
    ``alloc`` where work arrays come from (see babysit.nn.buffers).
    Returns: (out (N, F, Ho, Wo), a view of an array stored (F, Ho, Wo, N); cache)."""
    f, _, hh, ww = w.shape
    n, _, h, wd = x.shape
    ho, wo = conv_output_size(h, hh, stride, pad), conv_output_size(wd, ww, stride, pad)
    cols = im2col(pad_image(x, pad, alloc), hh, ww, stride, ho, wo, alloc)
    wb = alloc("wb", (f, cols.shape[0]), w.dtype)  # [W, b]: the bias meets the ones row
    wb[:, :-1] = w.reshape(f, -1)
    wb[:, -1] = b
    out = np.matmul(wb, cols, out=alloc("out", (f, ho * wo * n), x.dtype))
    return out.reshape(f, ho, wo, n).transpose(3, 0, 1, 2), ConvCache(cols, w, x.shape, stride, pad)


def conv_backward(dout, cache: ConvCache, need_dx=True, alloc=new_array, need_dw=True):
    """Backward of ``conv_forward``: returns (dx (N, C, H, W) or None, dw (F, C, HH, WW), db (F,)); dw and db
    are None when ``need_dw`` is False (a frozen layer)."""
    cols, w, x_shape, stride, pad = cache
    f, c, hh, ww = w.shape
    n, _, ho, wo = dout.shape
    k = c * hh * ww
    dout_m = _as_matrix(dout)  # (F, Ho*Wo*N)
    dw = db = None
    if need_dw:
        dwb = np.matmul(cols, dout_m.T).T  # (F, K+1); the ones row gives db (this order: 10-20% faster GEMM)
        dw, db = dwb[:, :k].reshape(w.shape), dwb[:, k]
    if not need_dx:
        return None, dw, db
    h, wd = x_shape[2:]
    dxp = alloc_ordered(alloc, "dxpad", (n, c, h + 2 * pad, wd + 2 * pad), dout.dtype, CHWN)
    dxp.fill(0)
    row = wo * n  # columns per output row
    rows = max(1, min(ho, CHUNK_BYTES // (k * row * dout.itemsize)))
    dcols = alloc("dcols", (k, rows * row), dout.dtype)
    wt = w.reshape(f, k).T
    for h0 in range(0, ho, rows):
        h1 = min(h0 + rows, ho)
        chunk = np.matmul(wt, dout_m[:, h0 * row:h1 * row], out=dcols[:, :(h1 - h0) * row])
        col2im_rows(chunk, dxp, h0, h1, hh, ww, stride, wo)
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, db


def _kernel_size(owner: str, value) -> tuple[int, int]:
    """``kernel_size`` as (HH, WW): one int for a square kernel, or a pair of ints, each >= 1."""
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        hh, ww = check_int_list(owner, "kernel_size", pair, AT_LEAST_ONE)
    except ValueError:  # ConfigError, or a sequence of the wrong length
        raise invalid(owner, "kernel_size", f"an int in {AT_LEAST_ONE} or a pair (HH, WW) of them", value) from None
    return hh, ww


class Conv2d(Layer):
    """Convolution with ``W`` (F, C, HH, WW) and ``b`` (F,), on (N, C, H, W) input.

    Args:
        in_channels C, out_channels F, kernel_size (int or (HH, WW)), stride, pad.
        init / weight_scale / dtype / rng: as for ``Affine`` (fan_in = C*HH*WW).
        algorithm: 'im2col' (the readable reference: patches + one GEMM), 'winograd' (F(2x2, 3x3),
            babysit.nn.winograd: 3x3 stride-1 kernels only), or 'auto' (default): Winograd for
            3x3 stride-1 kernels with at least WINOGRAD_MIN_CHANNELS input channels, else im2col.
    The output is an (N, F, Ho, Wo) view of an array stored (F, Ho, Wo, N) (module docstring).
    """

    per_sample = True  # (Layer.per_sample)

    alloc = staticmethod(new_array)  # models give each layer a BufferPool (babysit.nn.buffers)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, pad: int = 0, *,
                 init: str | None = None, weight_scale: float | None = None, dtype=np.float32, rng=None,
                 algorithm: str = "auto") -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_channels = check_int(owner, "in_channels", in_channels, AT_LEAST_ONE)
        self.out_channels = check_int(owner, "out_channels", out_channels, AT_LEAST_ONE)
        self.kernel_size = hh, ww = _kernel_size(owner, kernel_size)
        self.stride = check_int(owner, "stride", stride, AT_LEAST_ONE)
        self.pad = check_int(owner, "pad", pad, Interval(0, math.inf))
        self.dtype = as_float_dtype(dtype, owner)
        scheme, scale = resolve_init(init, weight_scale, "relu", owner)
        fan_in = self.in_channels * hh * ww
        self.params["W"] = init_weight((self.out_channels, self.in_channels, hh, ww), fan_in, scheme,
                                       as_generator(rng), self.dtype, scale)
        self.params["b"] = np.zeros(self.out_channels, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.algorithm = check_choice(owner, "algorithm", algorithm, ALGORITHMS)
        winograd_ok = self.kernel_size == (3, 3) and self.stride == 1
        if self.algorithm == "winograd" and not winograd_ok:
            raise invalid(owner, "algorithm", "'im2col' or 'auto' for a kernel other than 3x3 at stride 1 "
                          "(Winograd F(2x2, 3x3) covers only those)", algorithm)
        self.uses_winograd = self.algorithm == "winograd" or (
            self.algorithm == "auto" and winograd_ok and self.in_channels >= WINOGRAD_MIN_CHANNELS)

    # models set it on a Conv2d followed by a ReLU and a MaxPool2d(2, 2) that applies the ReLU: Sequential then
    # runs the three through ``forward_fused`` / ``backward_fused`` (babysit.nn.convpool)
    fuses_next = False
    _pending = None  # a fused forward's cache, until last_output is read (the conv output is made then)

    def output_shape(self, h: int, w: int) -> tuple[int, int]:
        hh, ww = self.kernel_size
        return conv_output_size(h, hh, self.stride, self.pad), conv_output_size(w, ww, self.stride, self.pad)

    def forward(self, x):
        self._check_input(x, ndim=4, tail=(self.in_channels, None, None), dtype=self.dtype)
        ho, wo = self.output_shape(*x.shape[2:])
        if ho < 1 or wo < 1:
            raise InputError(f"{self}: input of spatial size {x.shape[2:]} is smaller than the kernel "
                             f"{self.kernel_size} with pad {self.pad}")
        w, b = self.params["W"], self.params["b"]
        if self.uses_winograd:
            out, cache = winograd_forward(x, w, b, self.pad, self.alloc)
        else:
            out, cache = conv_forward(x, w, b, self.stride, self.pad, self.alloc)
        return self._remember(out, cache)

    def backward(self, dout):
        cache = self._cache
        if isinstance(cache, ConvPoolCache):  # after a fused forward, on its own: the whole patch matrix again
            cache = self._checked_cache(dout, out_shape=cache.pool.x_shape)
            ho, wo = cache.pool.x_shape[2:]
            cache = ConvCache(im2col(cache.xp, *self.kernel_size, self.stride, ho, wo), cache.w, cache.x_shape,
                              self.stride, self.pad)
        else:
            cache = self._checked_cache(dout)
        step = winograd_backward if self.uses_winograd else conv_backward
        dx, dw, db = step(dout, cache, self.input_grad, self.alloc, need_dw=self.param_grad)
        return self._set_grads(dx, W=dw, b=db)

    # -- fused with the ReLU and 2x2 max pool after it (babysit.nn.convpool) ----------------------------
    def forward_fused(self, x, relu, pool):
        """The forward of this layer, ``relu`` and ``pool`` in one pass over bands of rows, leaving each layer's
        state as its own forward would (this conv's output is made only if its ``last_output`` is read).
        Returns the pool's output, or None where the fused pass does not apply (then run the layers in turn)."""
        if (self.uses_winograd or not (getattr(pool, "applies_relu", False) and getattr(relu, "fused_into_pool", False))
                or (pool.size, pool.stride) != (2, 2) or not isinstance(x, np.ndarray) or x.ndim != 4
                or not fusable(*x.shape[2:], self.kernel_size, self.stride, self.pad)):
            return None
        self._check_input(x, ndim=4, tail=(self.in_channels, None, None), dtype=self.dtype)
        w, b = self.params["W"], self.params["b"]
        out, cache = conv_relu_pool_forward(x, w, b, self.stride, self.pad, self.alloc)
        self._remember(None, cache)
        self._pending = cache
        relu.follow(self, cache.pool.x_shape, x.dtype)
        return pool._remember(out, cache.pool)

    def ran_fused(self) -> bool:
        """Whether the last forward was ``forward_fused`` (its backward is then ``backward_fused``)."""
        return isinstance(self._cache, ConvPoolCache)

    def backward_fused(self, dout, relu, pool):
        """The backward of ``pool``, ``relu`` and this layer after ``forward_fused``: returns this layer's dx."""
        pool._checked_cache(dout)
        cache = self._cache
        dx, dw, db = conv_relu_pool_backward(dout, cache, self.input_grad, self.alloc, need_dw=self.param_grad)
        return self._set_grads(dx, W=dw, b=db)

    @property
    def last_output(self):
        cache = self._pending
        if cache is not None:  # the fused forward's conv output, from its padded input and [W, b] of that step
            f, (hh, ww), (ho, wo) = cache.w.shape[0], self.kernel_size, cache.pool.x_shape[2:]
            cols = im2col(cache.xp, hh, ww, cache.stride, ho, wo)
            out = np.matmul(cache.wb, cols).reshape(f, ho, wo, -1).transpose(3, 0, 1, 2)
            self.last_output = out
        return Layer.last_output.fget(self)

    @last_output.setter
    def last_output(self, value):
        Layer.last_output.fset(self, value)
        self._pending = None

    def extra_repr(self):
        algorithm = "" if self.algorithm == "auto" else f", algorithm={self.algorithm!r}"
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, pad={self.pad}{algorithm}")


from babysit.nn.convpool import ConvPoolCache, conv_relu_pool_backward, conv_relu_pool_forward, fusable  # noqa: E402  (it builds on this module)
