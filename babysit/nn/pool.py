"""Max pooling over (size x size) windows with a stride, via strided windows (no pixel loops).

The size*size window offsets each give a strided view of the input, (N, C, Ho, Wo) like the
output; the forward keeps a running maximum over those views plus the offset that won (a
small integer per output; 2x2 windows take the max of each row pair, then of the two: fewer
passes, the same winner), and the backward writes the output gradient through the same
views. The passes run over blocks of channels small enough to stay in cache between passes,
in the input's memory layout (the conv's (C, H, W, N) keeps its long contiguous runs); when
the windows tile the input no zero fill is needed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.errors import InputError
from babysit.nn.base import Layer
from babysit.nn.buffers import alloc_like, alloc_ordered, axis_order, new_array
from babysit.validation import AT_LEAST_ONE, check_int, check_optional_int

CACHE_BLOCK_BYTES = 512 << 10  # input per block of channels: fits a core's L2 cache with room to spare


class PoolCache(NamedTuple):
    argmax: np.ndarray  # (N, C, Ho, Wo) window offset (row-major) of the max inside its window
    x_shape: tuple
    size: int
    stride: int


def _windows(x, size: int, stride: int, ho: int, wo: int) -> list[np.ndarray]:
    """One strided (N, C, Ho, Wo) view of x per window offset (i, j), in row-major order."""
    hi, wi = stride * (ho - 1) + 1, stride * (wo - 1) + 1
    return [x[:, :, i:i + hi:stride, j:j + wi:stride] for i in range(size) for j in range(size)]


def _channel_blocks(c: int, nbytes: int):
    """(lo, hi) ranges of channels, each about CACHE_BLOCK_BYTES of an nbytes array."""
    step = max(1, CACHE_BLOCK_BYTES * c // max(nbytes, 1))
    return [(lo, min(lo + step, c)) for lo in range(0, c, step)]


def maxpool_forward(x, size: int, stride: int, alloc=new_array, relu: bool = False):
    """Inputs: x (N, C, H, W); ``alloc`` where work arrays come from (babysit.nn.buffers);
    ``relu``: pool ``max(x, 0)`` instead of x (for the same price: see below).
    Returns: (out (N, C, Ho, Wo) laid out like x, cache).

    Ties go to the first maximum in the window (row-major), as in PyTorch; NaN propagates.
    With ``relu``, windows whose maximum is <= 0 get no winner, so the backward routes no
    gradient there: exactly the gradient of ReLU followed by pooling.
    """
    n, c, h, w = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    shape = (n, c, ho, wo)
    out = alloc_like(alloc, "out", x, shape=shape)
    argmax = alloc_like(alloc, "argmax", x, np.min_scalar_type(size * size), shape)
    windows = _windows(x, size, stride, ho, wo)
    blocks = _channel_blocks(c, x.nbytes)
    # work arrays for one block of channels (reused by every block: they stay in cache)
    block = (n, blocks[0][1] - blocks[0][0], ho, wo)
    better = alloc_like(alloc, "better", x, np.bool_, block)
    offset = alloc_like(alloc, "offset", argmax, shape=block)
    spare = alloc_like(alloc, "spare", x, shape=block) if size == 2 else None
    for lo, hi in blocks:  # the passes below find their block in cache
        k = hi - lo
        pool_block(out[:, lo:hi], argmax[:, lo:hi], [win[:, lo:hi] for win in windows], relu,
                   better[:, :k], offset[:, :k], spare if spare is None else spare[:, :k])
    return out, PoolCache(argmax, x.shape, size, stride)


def pool_block(o, am, windows, relu, b, off, spare=None):
    """The max of ``windows`` (size * size views of o's shape) into o and its winning offset into am; with
    ``relu``, ``max(., 0)`` and offset size * size (no winner) where the max is <= 0. b, off, spare: a bool, an
    offset and (2x2 windows only) a float work array of o's shape."""
    if len(windows) == 4:
        _max2x2(o, am, windows, b, off, spare)
    else:
        _max_running(o, am, windows, b, off)
    if relu:  # no winner (an offset the backward never matches) where the max is <= 0
        np.maximum(am, np.multiply(np.less_equal(o, 0, out=b), am.dtype.type(len(windows)), out=off), out=am)
        np.maximum(o, 0, out=o)


def _max_running(o, am, windows, b, off, spare=None):
    """The max of the windows into o and the (row-major) offset of the first one that holds it into am
    (b, off: a bool and an offset array of o's shape to work in)."""
    first, *rest = windows
    index = am.dtype.type
    np.copyto(o, first)
    am.fill(0)
    for k, win in enumerate(rest, start=1):
        np.greater(win, o, out=b)  # strict: on a tie the earlier offset keeps the max
        np.maximum(o, win, out=o)
        # offsets come in increasing order, so the last one that beat the max is the largest
        np.maximum(am, np.multiply(b, index(k), out=off), out=am)


def _max2x2(o, am, windows, b, off, bottom):
    """``_max_running`` for 2x2 windows in 9 passes instead of 14: the max of each row pair, then of the two.

    Row 0 (offsets 0, 1) and row 1 (2, 3): the winner of a pair is its right value only when that is
    strictly greater, the bottom pair wins only when strictly greater than the top: the first maximum
    in row-major order, as the running version finds it. A bool array is 0/1 bytes: written through a
    bool view of the uint8 offsets, it is the offset within a pair. ``bottom``: a float array of o's shape.
    """
    w0, w1, w2, w3 = windows
    np.greater(w1, w0, out=am.view(np.bool_))
    np.maximum(w0, w1, out=o)
    np.greater(w3, w2, out=off.view(np.bool_))
    off += 2
    np.maximum(w2, w3, out=bottom)
    np.greater(bottom, o, out=b)
    np.maximum(am, np.multiply(off, b, out=off), out=am)  # the bottom's offset (2, 3) where it won (a masked
    np.maximum(o, bottom, out=o)                          # np.copyto is ~50x slower than these two passes)


def maxpool_backward(dout, cache: PoolCache, alloc=new_array):
    """Route each output gradient to the input position that won its window: returns dx (N, C, H, W)."""
    argmax, x_shape, size, stride = cache
    n, c, ho, wo = dout.shape
    order = axis_order(argmax)
    dx = alloc_ordered(alloc, "dx", x_shape, dout.dtype, order)
    blocks = _channel_blocks(c, dx.nbytes)
    block = (n, blocks[0][1] - blocks[0][0], ho, wo)  # work arrays for one block of channels
    won = alloc_like(alloc, "won", argmax, np.bool_, block)
    # dout in another layout: copied a block at a time, so the passes below run over matching layouts
    copy = alloc_like(alloc, "dout", argmax, dout.dtype, block) if axis_order(dout) != order else None
    tiled = stride == size and x_shape[2] == size * ho and x_shape[3] == size * wo
    windows = _windows(dx, size, stride, ho, wo)
    index = argmax.dtype.type
    for lo, hi in blocks:
        d, am, w = dout[:, lo:hi], argmax[:, lo:hi], won[:, :hi - lo]
        if copy is not None:
            d = copy[:, :hi - lo]
            np.copyto(d, dout[:, lo:hi])
        if not tiled:  # some inputs are in no window (or in several, whose gradients add up)
            dx[:, lo:hi].fill(0)
        if stride >= size:  # windows don't overlap: each input position gets one value
            route_block(d, am, [dwin[:, lo:hi] for dwin in windows], w)
            continue
        for k, dwin in enumerate(windows):
            np.equal(am, index(k), out=w)
            dwin[:, lo:hi] += d * w
    return dx


def route_block(d, am, dwindows, won):
    """Non-overlapping windows: write each output gradient d to the window offset am that won, zero to the
    others (dwindows: one view of the input gradient per offset, of d's shape; won: a bool work array)."""
    index = am.dtype.type
    for k, dwin in enumerate(dwindows):
        np.equal(am, index(k), out=won)
        np.multiply(d, won, out=dwin)


class MaxPool2d(Layer):
    """Max pooling with a square window ``size`` and ``stride`` (default: stride = size)."""

    per_sample = True  # (Layer.per_sample)

    alloc = staticmethod(new_array)  # models give each layer a BufferPool (babysit.nn.buffers)
    applies_relu = False  # models set it, with ReLU.fused_into_pool, on a ReLU -> MaxPool2d pair

    def __init__(self, size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.size = check_int(owner, "size", size, AT_LEAST_ONE)
        stride = check_optional_int(owner, "stride", stride, AT_LEAST_ONE)
        self.stride = self.size if stride is None else stride

    def forward(self, x):
        self._check_input(x, ndim=4)
        if x.shape[2] < self.size or x.shape[3] < self.size:
            raise InputError(f"{self}: input of spatial size {x.shape[2:]} is smaller than the window {self.size}")
        return self._remember(*maxpool_forward(x, self.size, self.stride, self.alloc, self.applies_relu))

    def backward(self, dout):
        return maxpool_backward(dout, self._checked_cache(dout), self.alloc)

    def extra_repr(self):
        return f"size={self.size}, stride={self.stride}"
