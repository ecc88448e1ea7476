"""Work arrays that layers inside a model reuse from step to step, and memory layouts.

A training step allocates the same big arrays every time (im2col patches, layer outputs,
input gradients). Fresh multi-megabyte arrays cost page faults on every step (glibc hands
them back to the kernel when freed), so the ops take an ``alloc`` argument: the default
``new_array`` allocates, while a ``BufferPool`` hands back the same array for a name as long
as the shape and dtype repeat. Models give a pool to every layer except the last, whose output
(the scores) reaches the caller; a layer used on its own allocates as usual.

With a pool, ``layer.last_output`` and the arrays a layer's ``forward``/``backward`` return
are overwritten by its next call with the same shapes: copy them to keep them.
"""

from __future__ import annotations

import numpy as np


def new_array(name: str, shape: tuple, dtype, fill=None) -> np.ndarray:
    """A new array (``name`` is ignored): uninitialized, or filled with ``fill``."""
    return np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)


class BufferPool:
    """``alloc`` that returns the same array for a name while shape and dtype repeat.

    ``fill`` applies only when the array is (re)allocated: callers use it for parts they
    never write afterwards (the zero border of a padded image, a row of ones).
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple, dtype, fill=None) -> np.ndarray:
        a = self._arrays.get(name)
        if a is None or a.shape != tuple(shape) or a.dtype != dtype:
            a = self._arrays[name] = new_array(name, shape, dtype, fill)
        return a

    def clear(self) -> None:
        """Let go of every array (the next call of each name allocates again)."""
        self._arrays.clear()


def release_buffers(layers) -> None:
    """Clear the ``BufferPool`` of each of ``layers`` that has one."""
    for layer in layers:
        pool = getattr(layer, "alloc", None)
        if isinstance(pool, BufferPool):
            pool.clear()


# -- memory layouts ------------------------------------------------------------
def axis_order(x: np.ndarray) -> tuple[int, ...]:
    """x's axes from outermost to innermost in memory: (0, 1, 2, 3) for a C-ordered (N, C, H, W)."""
    return tuple(sorted(range(x.ndim), key=lambda a: -abs(x.strides[a]) if x.shape[a] > 1 else 0))


def alloc_ordered(alloc, name: str, shape: tuple, dtype, order: tuple, fill=None) -> np.ndarray:
    """An array of ``shape`` from ``alloc``, stored with its axes in memory ``order`` (a transposed view)."""
    if order == tuple(range(len(order))):
        return alloc(name, shape, dtype, fill)
    a = alloc(f"{name}{order}", tuple(shape[i] for i in order), dtype, fill)  # a layout of its own name:
    inverse = [0] * len(order)                                               # fills stay where they belong
    for position, axis in enumerate(order):
        inverse[axis] = position
    return a.transpose(inverse)


def alloc_like(alloc, name: str, x: np.ndarray, dtype=None, shape=None) -> np.ndarray:
    """An array from ``alloc`` laid out like x (as ``np.empty_like``), with x's shape and dtype unless given."""
    shape = x.shape if shape is None else shape
    dtype = x.dtype if dtype is None else dtype
    if x.flags.c_contiguous:  # the common case, without the stride sorting (a step calls this often)
        return alloc(name, shape, dtype)
    return alloc_ordered(alloc, name, shape, dtype, axis_order(x))
