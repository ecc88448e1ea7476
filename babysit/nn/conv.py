"""2-D convolution as im2col + one GEMM, in the channel-major, batch-minor layout (C, H, W, N).

Why that layout: with the batch axis innermost, a row of the padded image for every image
of the batch, ``x[c, h, w0:w1, :]``, is one contiguous run of (w1 - w0) * N values. So the
patch matrix (im2col), its backward scatter (col2im) and the pooling windows after the conv
all copy long runs instead of one channel vector or one image row at a time, and the GEMM
``[W, b] @ [patches; 1]`` writes its (F, Ho*Wo*N) result straight into that same layout.

The layer API stays (N, C, H, W): the input may be stored in any layout (it is copied into
the zero-padded (C, H, W, N) work array anyway), and the output is an (N, F, Ho, Wo) view of
the (F, Ho, Wo, N) result, which the next ReLU, pooling and conv keep. The patch matrix has
an extra row of ones, so the bias rides in the GEMM and its gradient comes out of the weight
gradient's GEMM for free. No Python loop over pixels or images: the copies loop only over
the kernel offsets, and each copy is split over channels between threads (babysit.nn.parallel).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from babysit.errors import ConfigError, InputError
from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.buffers import alloc_ordered, axis_order, new_array
from babysit.nn.init import as_generator, init_weight, resolve_init
from babysit.nn.parallel import split

CHWN = (1, 2, 3, 0)  # the axes of (N, C, H, W) from outermost to innermost in memory


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
        split(lambda lo, hi: np.copyto(inner[:, lo:hi], x[:, lo:hi]), c, 2 * x.nbytes)
    else:  # a transposing copy: 8 images at a time keep the reads and the writes in cache (3-4x faster)
        split(lambda lo, hi: np.copyto(inner[lo:hi], x[lo:hi]), n, 2 * x.nbytes, block=8)
    return xp


def im2col(xp, hh, ww, stride, ho, wo, alloc=new_array):
    """Patches of the padded input xp (N, C, Hp, Wp) as columns: (C*HH*WW + 1, Ho*Wo*N).

    Rows are ordered (c, i, j) like ``W.reshape(F, -1)``, columns (ho, wo, n); the last row is
    ones. xp stored (C, H, W, N) makes every copied run Wo*N long (at stride 1).
    """
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    k = c * hh * ww
    win = as_strided(xp, (c, hh, ww, ho, wo, n), (sc, sh, sw, stride * sh, stride * sw, sn), writeable=False)
    cols = alloc("cols", (k + 1, ho * wo * n), xp.dtype, fill=1)  # the ones row is never overwritten
    patches = cols[:k].reshape(c, hh, ww, ho, wo, n)
    split(lambda lo, hi: np.copyto(patches[lo:hi], win[lo:hi]), c, 2 * patches.nbytes)
    return cols


def col2im(dcols, x_shape, hh, ww, stride, pad, ho, wo, alloc=new_array):
    """Scatter-add patch gradients (C*HH*WW, Ho*Wo*N) back into an image gradient (N, C, H, W).

    The result is stored (C, H, W, N) (a cropped view of a padded array when pad > 0).
    """
    n, c, h, w = x_shape
    dxp = alloc_ordered(alloc, "dxpad", (n, c, h + 2 * pad, w + 2 * pad), dcols.dtype, CHWN)
    d = dcols.reshape(c, hh, ww, ho, wo, n).transpose(5, 0, 1, 2, 3, 4)  # (N, C, HH, WW, Ho, Wo)

    def scatter_channels(lo, hi):  # channels lo:hi, one part per thread
        dxp[:, lo:hi].fill(0)
        for i in range(hh):  # loops over the kernel offsets only
            for j in range(ww):
                dxp[:, lo:hi, i:i + stride * ho:stride, j:j + stride * wo:stride] += d[:, lo:hi, i, j]

    split(scatter_channels, c, dcols.nbytes + dxp.nbytes)
    return dxp[:, :, pad:pad + h, pad:pad + w] if pad else dxp


def _as_matrix(a):
    """(N, F, H, W) as the (F, H*W*N) matrix of its (F, H, W, N) layout (a view when stored so)."""
    return a.transpose(1, 2, 3, 0).reshape(a.shape[1], -1)


def conv_forward(x, w, b, stride=1, pad=0, alloc=new_array):
    """Inputs: x (N, C, H, W) in any memory layout; w (F, C, HH, WW); b (F,);
    ``alloc`` where work arrays come from (see babysit.nn.buffers).
    Returns: (out (N, F, Ho, Wo), stored (F, Ho, Wo, N), cache)."""
    f, _, hh, ww = w.shape
    n, _, h, wd = x.shape
    ho, wo = conv_output_size(h, hh, stride, pad), conv_output_size(wd, ww, stride, pad)
    cols = im2col(pad_image(x, pad, alloc), hh, ww, stride, ho, wo, alloc)
    wb = alloc("wb", (f, cols.shape[0]), w.dtype)  # [W, b]: the bias meets the ones row
    wb[:, :-1] = w.reshape(f, -1)
    wb[:, -1] = b
    out = np.matmul(wb, cols, out=alloc("out", (f, ho * wo * n), x.dtype))
    return out.reshape(f, ho, wo, n).transpose(3, 0, 1, 2), ConvCache(cols, w, x.shape, stride, pad)


def conv_backward(dout, cache: ConvCache, need_dx=True, alloc=new_array):
    """Backward of ``conv_forward``: returns (dx (N, C, H, W) or None, dw (F, C, HH, WW), db (F,))."""
    cols, w, x_shape, stride, pad = cache
    f, c, hh, ww = w.shape
    n, _, ho, wo = dout.shape
    dout_m = _as_matrix(dout)  # (F, Ho*Wo*N)
    dwb = np.matmul(dout_m, cols.T)  # (F, K+1); the ones row gives db
    dw, db = dwb[:, :-1].reshape(w.shape), dwb[:, -1]
    if not need_dx:
        return None, dw, db
    dcols = np.matmul(w.reshape(f, -1).T, dout_m, out=alloc("dcols", (cols.shape[0] - 1, cols.shape[1]), dout.dtype))
    return col2im(dcols, x_shape, hh, ww, stride, pad, ho, wo, alloc), dw, db


class Conv2d(Layer):
    """Convolution with ``W`` (F, C, HH, WW) and ``b`` (F,), on (N, C, H, W) input.

    Args:
        in_channels C, out_channels F, kernel_size (int or (HH, WW)), stride, pad.
        init / weight_scale / dtype / rng: as for ``Affine`` (fan_in = C*HH*WW).
    The output is an (N, F, Ho, Wo) view of an array stored (F, Ho, Wo, N) (module docstring).
    """

    alloc = staticmethod(new_array)  # models give each layer a BufferPool (babysit.nn.buffers)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, pad: int = 0, *,
                 init: str | None = None, weight_scale: float | None = None, dtype=np.float32, rng=None) -> None:
        super().__init__()
        hh, ww = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        if min(in_channels, out_channels, hh, ww, stride) < 1 or pad < 0:
            raise ConfigError(f"Conv2d: channels, kernel_size and stride must be >= 1 and pad >= 0; got "
                              f"in={in_channels}, out={out_channels}, kernel={kernel_size}, stride={stride}, pad={pad}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.pad = (int(hh), int(ww)), int(stride), int(pad)
        self.dtype = as_float_dtype(dtype, "Conv2d")
        scheme, scale = resolve_init(init, weight_scale, "relu")
        fan_in = self.in_channels * hh * ww
        self.params["W"] = init_weight((self.out_channels, self.in_channels, hh, ww), fan_in, scheme,
                                       as_generator(rng), self.dtype, scale)
        self.params["b"] = np.zeros(self.out_channels, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def output_shape(self, h: int, w: int) -> tuple[int, int]:
        hh, ww = self.kernel_size
        return conv_output_size(h, hh, self.stride, self.pad), conv_output_size(w, ww, self.stride, self.pad)

    def forward(self, x):
        self._check_input(x, ndim=4, tail=(self.in_channels, None, None), dtype=self.dtype)
        ho, wo = self.output_shape(*x.shape[2:])
        if ho < 1 or wo < 1:
            raise InputError(f"{self}: input of spatial size {x.shape[2:]} is smaller than the kernel "
                             f"{self.kernel_size} with pad {self.pad}")
        out, self._cache = conv_forward(x, self.params["W"], self.params["b"], self.stride, self.pad, self.alloc)
        self.last_output = out
        return out

    def backward(self, dout):
        dx, dw, db = conv_backward(dout, self._pop_cache(dout), self.input_grad, self.alloc)
        self.grads["W"][...] = dw
        self.grads["b"][...] = db
        return dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, pad={self.pad}")
