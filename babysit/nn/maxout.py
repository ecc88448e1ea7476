"""Maxout units (Goodfellow et al., 2013): ``max(w_1^T x + b_1, ..., w_k^T x + b_k)``."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.nn.affine import affine_backward, affine_forward
from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.init import as_generator, init_weight, resolve_init
from babysit.validation import AT_LEAST_ONE, check_int


class MaxoutCache(NamedTuple):
    affine: tuple
    argmax: np.ndarray  # (N, out_dim) index of the winning piece


def maxout_forward(x, w, b, pieces: int):
    """Inputs: x (N, D); w (D, out_dim * pieces) where column ``o * pieces + k`` is piece k
    of unit o; b (out_dim * pieces,). Returns: (out (N, out_dim), cache)."""
    z, acache = affine_forward(x, w, b)
    z = z.reshape(x.shape[0], -1, pieces)
    argmax = z.argmax(axis=2)
    out = np.take_along_axis(z, argmax[..., None], axis=2)[..., 0]
    return out, MaxoutCache(acache, argmax)


def maxout_backward(dout, cache: MaxoutCache, pieces: int, need_dx=True, need_dw=True):
    """Returns (dx, dw, db): the gradient flows only into the winning piece of each unit (dw, db None
    when ``need_dw`` is False: a frozen layer)."""
    n, out_dim = dout.shape
    dz = np.zeros((n, out_dim, pieces), dtype=dout.dtype)
    np.put_along_axis(dz, cache.argmax[..., None], dout[..., None], axis=2)
    return affine_backward(dz.reshape(n, out_dim * pieces), cache.affine, need_dx, need_dw=need_dw)


class Maxout(Layer):
    """A maxout layer of ``out_dim`` units, each the max of ``pieces`` affine functions.

    Params: ``W`` (in_dim, out_dim * pieces), ``b`` (out_dim * pieces,): twice the
    parameters of an affine layer for pieces=2, the lecture's "problem".
    """

    per_sample = True  # (Layer.per_sample)

    def __init__(self, in_dim: int, out_dim: int, pieces: int = 2, *, init: str | None = None,
                 weight_scale: float | None = None, dtype=np.float32, rng=None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_dim = check_int(owner, "in_dim", in_dim, AT_LEAST_ONE)
        self.out_dim = check_int(owner, "out_dim", out_dim, AT_LEAST_ONE)
        self.pieces = check_int(owner, "pieces", pieces, AT_LEAST_ONE)
        self.dtype = as_float_dtype(dtype, owner)
        scheme, scale = resolve_init(init, weight_scale, "maxout", owner)
        width = self.out_dim * self.pieces
        self.params["W"] = init_weight((self.in_dim, width), self.in_dim, scheme, as_generator(rng),
                                       self.dtype, scale)
        self.params["b"] = np.zeros(width, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self._check_input(x, ndim=2, tail=(self.in_dim,), dtype=self.dtype)
        return self._remember(*maxout_forward(x, self.params["W"], self.params["b"], self.pieces))

    def backward(self, dout):
        dx, dw, db = maxout_backward(dout, self._checked_cache(dout), self.pieces, self.input_grad, self.param_grad)
        return self._set_grads(dx, W=dw, b=db)

    def extra_repr(self):
        return f"{self.in_dim} -> {self.out_dim}, pieces={self.pieces}"
