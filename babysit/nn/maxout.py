"""Maxout units (Goodfellow et al., 2013): ``max(w_1^T x + b_1, ..., w_k^T x + b_k)``."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.errors import ConfigError
from babysit.nn.affine import affine_backward, affine_forward
from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.init import as_generator, init_weight, resolve_init


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


def maxout_backward(dout, cache: MaxoutCache, pieces: int, need_dx=True):
    """Returns (dx, dw, db): the gradient flows only into the winning piece of each unit."""
    n, out_dim = dout.shape
    dz = np.zeros((n, out_dim, pieces), dtype=dout.dtype)
    np.put_along_axis(dz, cache.argmax[..., None], dout[..., None], axis=2)
    return affine_backward(dz.reshape(n, out_dim * pieces), cache.affine, need_dx)


class Maxout(Layer):
    """A maxout layer of ``out_dim`` units, each the max of ``pieces`` affine functions.

    Params: ``W`` (in_dim, out_dim * pieces), ``b`` (out_dim * pieces,): twice the
    parameters of an affine layer for pieces=2, the lecture's "problem".
    """

    def __init__(self, in_dim: int, out_dim: int, pieces: int = 2, *, init: str | None = None,
                 weight_scale: float | None = None, dtype=np.float32, rng=None) -> None:
        super().__init__()
        if int(pieces) < 1:
            raise ConfigError(f"Maxout: pieces must be >= 1; got {pieces}")
        self.in_dim, self.out_dim, self.pieces = int(in_dim), int(out_dim), int(pieces)
        self.dtype = as_float_dtype(dtype, f"Maxout({in_dim} -> {out_dim})")
        scheme, scale = resolve_init(init, weight_scale, "maxout")
        width = self.out_dim * self.pieces
        self.params["W"] = init_weight((self.in_dim, width), self.in_dim, scheme, as_generator(rng),
                                       self.dtype, scale)
        self.params["b"] = np.zeros(width, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self._check_input(x, ndim=2, tail=(self.in_dim,), dtype=self.dtype)
        out, self._cache = maxout_forward(x, self.params["W"], self.params["b"], self.pieces)
        self.last_output = out
        return out

    def backward(self, dout):
        dx, dw, db = maxout_backward(dout, self._pop_cache(dout), self.pieces, self.input_grad)
        self.grads["W"][...] = dw
        self.grads["b"][...] = db
        return dx

    def extra_repr(self):
        return f"{self.in_dim} -> {self.out_dim}, pieces={self.pieces}"
