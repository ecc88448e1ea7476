"""Max pooling over (size x size) windows with a stride, via strided windows (no pixel loops)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.errors import ConfigError, InputError
from babysit.nn.base import Layer


class PoolCache(NamedTuple):
    argmax: np.ndarray  # (N, C, Ho, Wo) flat index of the max inside its window
    x_shape: tuple
    size: int
    stride: int


def maxpool_forward(x, size: int, stride: int):
    """Inputs: x (N, C, H, W). Returns: (out (N, C, Ho, Wo), cache).

    Ties go to the first maximum in the window (row-major), as in PyTorch.
    """
    win = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, ho, wo = win.shape[:4]
    flat = win.reshape(n, c, ho, wo, size * size)
    argmax = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return out, PoolCache(argmax, x.shape, size, stride)


def maxpool_backward(dout, cache: PoolCache):
    """Route each output gradient to the input position that won its window."""
    argmax, x_shape, size, stride = cache
    n, c, ho, wo = dout.shape
    dwin = np.zeros((n, c, ho, wo, size * size), dtype=dout.dtype)
    np.put_along_axis(dwin, argmax[..., None], dout[..., None], axis=-1)
    dwin = dwin.reshape(n, c, ho, wo, size, size)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(size):  # loops over the window offsets only
        for j in range(size):
            dx[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += dwin[..., i, j]
    return dx


class MaxPool2d(Layer):
    """Max pooling with a square window ``size`` and ``stride`` (default: stride = size)."""

    def __init__(self, size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        stride = size if stride is None else stride
        if int(size) < 1 or int(stride) < 1:
            raise ConfigError(f"MaxPool2d: size and stride must be >= 1; got size={size}, stride={stride}")
        self.size, self.stride = int(size), int(stride)

    def forward(self, x):
        self._check_input(x, ndim=4)
        if x.shape[2] < self.size or x.shape[3] < self.size:
            raise InputError(f"{self}: input of spatial size {x.shape[2:]} is smaller than the window {self.size}")
        out, self._cache = maxpool_forward(x, self.size, self.stride)
        self.last_output = out
        return out

    def backward(self, dout):
        return maxpool_backward(dout, self._pop_cache(dout))

    def extra_repr(self):
        return f"size={self.size}, stride={self.stride}"
