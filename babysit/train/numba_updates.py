"""Numba kernels for the update rules of ``babysit.train.optim``: each rule in one pass over its arrays.

Why: NumPy runs an update as 2 (SGD) to 13 (Adam) whole-array passes through a scratch array. Right after the
backward pass, the first layer's weights and gradient (0.6 MiB each for 3072-50) are no longer in the cache of
the core that updates them, and every pass pays for it again: on the Intel VM the SGD update of 3072-50-10
took 0.27 ms of a 1.5 ms step in NumPy (docs/benchmarks.md). Each kernel here reads and writes every element
once, in the same float arithmetic and order as the NumPy passes (the scalars are given in the arrays' dtype,
as NumPy casts a Python float; no fused multiply-add), so the parameters are the same bits
(tests/train/test_numba_updates.py). The arrays are 1-D views of C-contiguous arrays of one dtype.
"""

from __future__ import annotations

import numpy as np

from babysit.nn.numba_kernels import jit_kernel


@jit_kernel
def sgd(p, g, lr):
    """``p -= g * lr``."""
    for i in range(p.size):
        p[i] = p[i] - g[i] * lr


@jit_kernel
def momentum(p, g, v, lr, mu):
    """``s = g * lr; v = v * mu - s; p += v``."""
    for i in range(p.size):
        vi = v[i] * mu - g[i] * lr
        v[i] = vi
        p[i] = p[i] + vi


@jit_kernel
def nesterov(p, g, v, lr, mu):
    """``s = g * lr; v = v * mu - s; p = (p - s) + v * mu``."""
    for i in range(p.size):
        s = g[i] * lr
        vi = v[i] * mu - s
        v[i] = vi
        p[i] = (p[i] - s) + vi * mu


@jit_kernel
def rmsprop(p, g, c, lr, d, one_minus_d, eps):
    """``c = c * d + (g * g) * (1 - d); p -= (g / (sqrt(c) + eps)) * lr``."""
    for i in range(p.size):
        gi = g[i]
        ci = c[i] * d + (gi * gi) * one_minus_d
        c[i] = ci
        p[i] = p[i] - (gi / (np.sqrt(ci) + eps)) * lr


@jit_kernel
def adam(p, g, m, v, b1, one_minus_b1, b2, one_minus_b2, inv_sqrt_bias2, eps, step):
    """``m = m * b1 + g * (1 - b1); v = v * b2 + (g * g) * (1 - b2);
    p -= (m / (sqrt(v) * inv_sqrt_bias2 + eps)) * step``."""
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * one_minus_b1
        m[i] = mi
        vi = v[i] * b2 + (gi * gi) * one_minus_b2
        v[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi) * inv_sqrt_bias2 + eps)) * step
