"""2-D convolution as im2col + one GEMM.

The patches are gathered with ``sliding_window_view`` (a strided view, no Python
loop over pixels or images) and copied once into a (N*Ho*Wo, C*HH*WW) matrix,
so the whole convolution is a single matrix product. The backward scatter
(col2im) loops only over the HH*WW kernel offsets.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.errors import ConfigError, InputError
from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.init import as_generator, init_weight, resolve_init


class ConvCache(NamedTuple):
    cols: np.ndarray        # (N*Ho*Wo, C*HH*WW)
    w: np.ndarray
    x_shape: tuple
    stride: int
    pad: int


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def im2col(x, hh, ww, stride, pad):
    """Patches of x (N, C, H, W) as a (N*Ho*Wo, C*HH*WW) matrix; returns (cols, Ho, Wo)."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (hh, ww), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, ho, wo = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * hh * ww)
    return cols, ho, wo


def col2im(dcols, x_shape, hh, ww, stride, pad, ho, wo):
    """Scatter-add patch gradients (N*Ho*Wo, C*HH*WW) back into an image gradient (N, C, H, W)."""
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    d = dcols.reshape(n, ho, wo, c, hh, ww).transpose(0, 3, 4, 5, 1, 2)  # (N, C, HH, WW, Ho, Wo)
    for i in range(hh):
        for j in range(ww):
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += d[:, :, i, j]
    return dxp[:, :, pad:pad + h, pad:pad + w] if pad else dxp


def conv_forward(x, w, b, stride=1, pad=0):
    """Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,).
    Returns: (out (N, F, Ho, Wo), cache)."""
    f, _, hh, ww = w.shape
    cols, ho, wo = im2col(x, hh, ww, stride, pad)
    out = cols @ w.reshape(f, -1).T
    out += b
    out = out.reshape(x.shape[0], ho, wo, f).transpose(0, 3, 1, 2)
    return out, ConvCache(cols, w, x.shape, stride, pad)


def conv_backward(dout, cache: ConvCache, need_dx=True):
    """Backward of ``conv_forward``: returns (dx (N, C, H, W) or None, dw, db)."""
    cols, w, x_shape, stride, pad = cache
    f, _, hh, ww = w.shape
    n, _, ho, wo = dout.shape
    dout_r = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    dw = (dout_r.T @ cols).reshape(w.shape)
    db = dout_r.sum(axis=0)
    dx = col2im(dout_r @ w.reshape(f, -1), x_shape, hh, ww, stride, pad, ho, wo) if need_dx else None
    return dx, dw, db


class Conv2d(Layer):
    """Convolution with ``W`` (F, C, HH, WW) and ``b`` (F,), on (N, C, H, W) input.

    Args:
        in_channels C, out_channels F, kernel_size (int or (HH, WW)), stride, pad.
        init / weight_scale / dtype / rng: as for ``Affine`` (fan_in = C*HH*WW).
    """

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
        out, self._cache = conv_forward(x, self.params["W"], self.params["b"], self.stride, self.pad)
        self.last_output = out
        return out

    def backward(self, dout):
        dx, dw, db = conv_backward(dout, self._pop_cache(dout), self.input_grad)
        self.grads["W"][...] = dw
        self.grads["b"][...] = db
        return dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, pad={self.pad}")
