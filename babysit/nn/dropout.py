"""Inverted dropout: scale at train time so eval mode is the identity."""

from __future__ import annotations

import numpy as np

from babysit.nn.base import Layer
from babysit.nn.init import as_generator
from babysit.validation import Interval, check_float


def dropout_forward(x, p: float, rng: np.random.Generator):
    """Zero each unit with probability ``p`` and scale the survivors by 1/(1-p).

    Returns: (out, mask) where mask holds 0 or 1/(1-p) in x's dtype.
    """
    mask = rng.random(x.shape, dtype=x.dtype) >= p
    mask = mask.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


class Dropout(Layer):
    """Inverted dropout with drop probability ``p`` (identity in eval mode or when p == 0).

    Args:
        p: probability of dropping a unit, in [0, 1).
        rng: int seed or np.random.Generator (the only source of randomness).
    """

    def __init__(self, p: float = 0.5, *, rng=None) -> None:
        super().__init__()
        self.p = check_float(type(self).__name__, "p", p, Interval(0.0, 1.0, "left"))
        self.rng = as_generator(rng)

    def forward(self, x):
        self._check_input(x)
        if self.training and self.p > 0:
            out, mask = dropout_forward(x, self.p, self.rng)
        else:
            out, mask = x, None
        return self._remember(out, (mask,))  # a tuple, so an identity pass still counts as a forward

    def backward(self, dout):
        (mask,) = self._checked_cache(dout)
        return dout if mask is None else dropout_backward(dout, mask)

    def extra_repr(self):
        return f"p={self.p}"
