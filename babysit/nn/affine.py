"""Fully connected (affine) layer: ``out = x @ W + b``."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.buffers import alloc_like, new_array
from babysit.nn.init import as_generator, init_weight, resolve_init
from babysit.validation import AT_LEAST_ONE, check_int


class AffineCache(NamedTuple):
    x: np.ndarray
    w: np.ndarray


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray | None = None):
    """Compute ``x @ w + b``.

    Inputs: x (N, D), w (D, M), b (M,); ``out`` an optional (N, M) buffer.
    Returns: (out (N, M), cache).
    """
    out = np.matmul(x, w, out=out)
    out += b
    return out, AffineCache(x, w)


def affine_backward(dout: np.ndarray, cache: AffineCache, need_dx: bool = True,
                    dw: np.ndarray | None = None, db: np.ndarray | None = None, dx: np.ndarray | None = None,
                    need_dw: bool = True):
    """Backward of ``affine_forward``.

    Inputs: dout (N, M); optional output buffers dw (D, M), db (M,), dx (N, D).
    Returns: (dx (N, D) or None when ``need_dx`` is False, dw (D, M), db (M,); both None when ``need_dw``
    is False: a frozen layer).
    """
    x, w = cache
    if need_dw:
        dw = np.matmul(x.T, dout, out=dw)
        db = np.sum(dout, axis=0, out=db)
    else:
        dw = db = None
    if not need_dx:
        return None, dw, db
    if dx is not None and not dx.flags.c_contiguous and dx.T.flags.c_contiguous:
        np.matmul(w, dout.T, out=dx.T)  # a column-major dx: BLAS writes it as dx.T (NumPy would not use BLAS)
    else:
        dx = np.matmul(dout, w.T, out=dx)
    return dx, dw, db


class Affine(Layer):
    """Fully connected layer with ``W`` (in_dim, out_dim) and ``b`` (out_dim,).

    Args:
        in_dim, out_dim: sizes.
        init: 'small' | 'xavier' | 'he' | 'zeros' (default: 'small' if ``weight_scale``
            is given, else 'he').
        weight_scale: std of the 'small' init (the lecture's 0.01).
        dtype: float32 (default) or float64.
        rng: an int seed or np.random.Generator for the init.
    """

    per_sample = True  # (Layer.per_sample)

    alloc = staticmethod(new_array)  # models give each layer a BufferPool (babysit.nn.buffers)

    def __init__(self, in_dim: int, out_dim: int, *, init: str | None = None,
                 weight_scale: float | None = None, dtype=np.float32, rng=None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_dim = check_int(owner, "in_dim", in_dim, AT_LEAST_ONE)
        self.out_dim = check_int(owner, "out_dim", out_dim, AT_LEAST_ONE)
        self.dtype = as_float_dtype(dtype, owner)
        scheme, scale = resolve_init(init, weight_scale, "relu", owner)
        self.init = scheme
        self.params["W"] = init_weight((self.in_dim, self.out_dim), self.in_dim, scheme,
                                       as_generator(rng), self.dtype, scale)
        self.params["b"] = np.zeros(self.out_dim, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, ndim=2, tail=(self.in_dim,), dtype=self.dtype)
        out = self.alloc("out", (x.shape[0], self.out_dim), self.dtype)
        return self._remember(*affine_forward(x, self.params["W"], self.params["b"], out))

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        cache = self._checked_cache(dout)
        # dx laid out like x: after a conv's Flatten that is the conv's (C, H, W, N) order, so the
        # layers below get their gradient in the layout they work in, without a transposing copy
        dx = alloc_like(self.alloc, "dx", cache.x, dout.dtype) if self.input_grad else None
        dx, _, _ = affine_backward(dout, cache, self.input_grad, self.grads["W"], self.grads["b"], dx, self.param_grad)
        return dx

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> {self.out_dim}"
