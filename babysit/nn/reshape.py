"""Flatten: (N, d1, d2, ...) -> (N, d1*d2*...), the bridge from conv blocks to affine layers."""

from __future__ import annotations

import numpy as np

from babysit.nn.base import Layer


class Flatten(Layer):
    """Reshape (N, ...) input to (N, D); a view when the input is contiguous."""

    per_sample = True  # (Layer.per_sample)

    def forward(self, x):
        self._check_input(x)
        return self._remember(x.reshape(x.shape[0], -1), x.shape)

    def backward(self, dout):
        return np.reshape(dout, self._checked_cache(dout))
