"""Batch normalization (Ioffe and Szegedy, 2015), for features and for conv channels.

Train mode normalizes with the batch's mean and (biased) variance and updates
running averages; eval mode uses the running averages, as the lecture says.
Running statistics follow PyTorch: ``running = (1 - momentum) * running +
momentum * batch`` with momentum 0.1 and the *unbiased* batch variance, so a
model moves between the two libraries unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from babysit.errors import InputError
from babysit.nn.base import Layer, as_float_dtype
from babysit.validation import AT_LEAST_ONE, POSITIVE, UNIT, check_float, check_int


class BatchNormCache(NamedTuple):
    xhat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    axes: tuple
    training: bool


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, axes, training,
                      momentum=0.1, eps=1e-5):
    """Normalize ``x`` over ``axes`` and scale/shift by ``gamma``/``beta``.

    Inputs: x (N, D) with axes=(0,), or (N, C, H, W) with axes=(0, 2, 3);
        gamma, beta, running_mean, running_var (D,) or (C,). The running arrays
        are updated in place in train mode.
    Returns: (out shaped like x, cache).
    """
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    if training:
        m = x.size // x.shape[1]
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean.reshape(-1)
        running_var *= 1.0 - momentum
        running_var += (momentum * m / max(m - 1, 1)) * var.reshape(-1)
    else:
        xc = x - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = xc
    xhat *= inv_std
    out = xhat * gamma.reshape(shape)
    out += beta.reshape(shape)
    return out, BatchNormCache(xhat, inv_std, gamma.reshape(shape), axes, training)


def batchnorm_backward(dout, cache: BatchNormCache, need_dx: bool = True, need_dparams: bool = True):
    """Backward of ``batchnorm_forward``: returns (dx, dgamma, dbeta); dx None when ``need_dx`` is False (the
    lowest trainable layer), dgamma and dbeta None when ``need_dparams`` is False (a frozen layer)."""
    xhat, inv_std, gamma, axes, training = cache
    dbeta = dout.sum(axis=axes) if need_dparams else None
    dgamma = np.sum(dout * xhat, axis=axes) if need_dparams else None
    if not need_dx:
        return None, dgamma, dbeta
    dxhat = dout * gamma
    if not training:  # running statistics are constants
        return dxhat * inv_std, dgamma, dbeta
    m = dout.size // dout.shape[1]
    # dx = (1/m) * inv_std * (m*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat)), with sums over the batch axes
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = np.mean(dxhat * xhat, axis=axes, keepdims=True)
    dx = dxhat - mean_dxhat
    dx -= xhat * mean_dxhat_xhat
    dx *= inv_std
    return dx, dgamma, dbeta


class BatchNorm(Layer):
    """Batch normalization over the features of (N, D) input.

    Args:
        dim: number of features D.
        momentum: weight of the new batch in the running averages, in [0, 1] (PyTorch's 0.1).
        eps: added to the variance, > 0.
        dtype: float32 or float64.
    Params: ``gamma`` (D,) ones, ``beta`` (D,) zeros. Buffers: ``running_mean``, ``running_var``.
    """

    _ndim = 2
    _axes = (0,)
    eval_when_frozen = True  # a frozen BatchNorm normalizes with, and keeps, its running statistics

    def __init__(self, dim: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32) -> None:
        super().__init__()
        owner = type(self).__name__
        self.dim = check_int(owner, "dim", dim, AT_LEAST_ONE)
        self.momentum = check_float(owner, "momentum", momentum, UNIT)
        self.eps = check_float(owner, "eps", eps, POSITIVE)
        self.dtype = as_float_dtype(dtype, owner)
        self.params = {"gamma": np.ones(self.dim, self.dtype), "beta": np.zeros(self.dim, self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(self.dim, self.dtype)
        self.running_var = np.ones(self.dim, self.dtype)

    def forward(self, x):
        tail = (self.dim,) if self._ndim == 2 else (self.dim, None, None)
        self._check_input(x, ndim=self._ndim, tail=tail, dtype=self.dtype)
        if self.training and x.size // self.dim < 2:
            raise InputError(f"{self}: train mode needs more than one value per channel to compute batch "
                              f"statistics; got input of shape {x.shape} (use eval mode or a larger batch)")
        return self._remember(*batchnorm_forward(
            x, self.params["gamma"], self.params["beta"], self.running_mean, self.running_var,
            axes=self._axes, training=self.training, momentum=self.momentum, eps=self.eps))

    def backward(self, dout):
        dx, dgamma, dbeta = batchnorm_backward(dout, self._checked_cache(dout), self.input_grad, self.param_grad)
        return self._set_grads(dx, gamma=dgamma, beta=dbeta)

    def extra_repr(self):
        return f"{self.dim}"


class SpatialBatchNorm(BatchNorm):
    """Batch normalization of conv activations (N, C, H, W): statistics per channel over N, H, W."""

    _ndim = 4
    _axes = (0, 2, 3)
