"""Activation functions of the lecture: sigmoid, tanh, ReLU, leaky ReLU, PReLU, ELU.

Each op's backward sits next to its forward. Backward passes use the cached
*output* where that is enough (ReLU, sigmoid, tanh), so no input is kept alive.
Traps: ReLU's gradient at exactly 0 is taken as 0 (as PyTorch does); sigmoid is
written through tanh so large |x| never overflows ``exp``.
"""

from __future__ import annotations

import numpy as np

from babysit.errors import InputError
from babysit.nn.base import Layer, as_float_dtype
from babysit.nn.buffers import alloc_like, new_array
from babysit.validation import AT_LEAST_ONE, NON_NEGATIVE, UNIT, Interval, check_choice, check_float, check_int


# -- functional ops ---------------------------------------------------------
def relu_forward(x, alloc=new_array):
    """``max(x, 0)``; ``alloc`` where the output comes from (babysit.nn.buffers). Returns (out, out)."""
    out = np.maximum(x, 0, out=alloc_like(alloc, "out", x))
    return out, out


def relu_backward(dout, out, alloc=new_array):
    """``dout * (out > 0)``: two passes, no temporaries (a NaN in dout stays NaN where out <= 0)."""
    mask = np.greater(out, 0, out=alloc_like(alloc, "mask", out, np.bool_))
    return np.multiply(dout, mask, out=alloc_like(alloc, "dx", dout))


def leaky_relu_forward(x, alpha):
    out = np.where(x > 0, x, x * alpha)
    return out, x


def leaky_relu_backward(dout, x, alpha):
    return np.where(x > 0, dout, dout * alpha)


def prelu_forward(x, alpha):
    """PReLU: ``max(alpha*x, x)`` with ``alpha`` (K,) broadcast over axis 1 (K=1: shared)."""
    a = _channel_view(alpha, x.ndim)
    out = np.where(x > 0, x, x * a)
    return out, x


def prelu_backward(dout, x, alpha):
    """Returns (dx, dalpha); dalpha sums over every axis but the channel one."""
    a = _channel_view(alpha, x.ndim)
    neg = x <= 0
    dx = np.where(neg, dout * a, dout)
    contrib = np.where(neg, dout * x, 0).astype(dout.dtype, copy=False)
    if alpha.shape[0] == 1:
        dalpha = np.array([contrib.sum()], dtype=alpha.dtype)
    else:
        axes = (0,) + tuple(range(2, x.ndim))
        dalpha = contrib.sum(axis=axes).astype(alpha.dtype, copy=False)
    return dx, dalpha


def _channel_view(alpha, ndim):
    return alpha.reshape((1, -1) + (1,) * (ndim - 2)) if alpha.shape[0] > 1 else alpha.reshape(())


def elu_forward(x, alpha):
    # expm1 of min(x, 0) never overflows and is exact near 0
    out = np.where(x > 0, x, np.expm1(np.minimum(x, 0)) * alpha)
    return out, (x, out)


def elu_backward(dout, cache, alpha):
    x, out = cache
    return np.where(x > 0, dout, dout * (out + alpha))


def sigmoid_forward(x):
    # 1/(1+exp(-x)) overflows for x << 0; 0.5*tanh(x/2)+0.5 is the same function and never does
    out = np.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out, out


def sigmoid_backward(dout, out):
    return dout * out * (1 - out)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1 - out * out)


# -- layers -----------------------------------------------------------------
class _Activation(Layer):
    """An elementwise activation: any shape, float32 or float64, dtype preserved."""

    per_sample = True

    def forward(self, x):
        self._check_input(x)
        return self._remember(*self._fwd(x))

    def backward(self, dout):
        return self._bwd(dout, self._checked_cache(dout))


class ReLU(_Activation):
    """``max(0, x)``.

    ``fused_into_pool``: models set it when a MaxPool2d with ``applies_relu`` follows (max
    pooling and ReLU commute, so rectifying the pooled, 4x smaller array is exact, and the
    pool's routing applies this ReLU's gradient mask). The ReLU then passes its input and
    gradient through unchanged, and computes ``last_output`` only when someone reads it.
    """

    alloc = staticmethod(new_array)  # models give each layer a BufferPool (babysit.nn.buffers)
    fused_into_pool = False

    def _fwd(self, x):
        return relu_forward(x, self.alloc)

    def _bwd(self, dout, out):
        return relu_backward(dout, out, self.alloc)

    def forward(self, x):
        if not self.fused_into_pool:
            return super().forward(x)
        self._check_input(x)
        self._cache = self._unrectified = x  # last_output is max(x, 0), made when read
        return x

    def backward(self, dout):
        if not self.fused_into_pool:
            return super().backward(dout)
        self._checked_cache(dout, out_shape=getattr(self._cache, "shape", None))  # not last_output: made on read
        return dout  # the pool after this layer already zeroed the gradient where x <= 0

    def follow(self, layer, shape, dtype):
        """The layer before ran one fused forward with this one and the pool after it (``Conv2d.forward_fused``):
        this layer's input was ``layer``'s output of ``shape``, never stored. Keep its shape (a zero-byte
        array) for the backward's check, and make last_output from ``layer.last_output`` when read."""
        self.last_output = None
        self._cache = np.broadcast_to(np.zeros((), dtype), shape)
        self._source = layer

    @property
    def last_output(self):
        if getattr(self, "_unrectified", None) is not None:
            self.last_output = relu_forward(self._unrectified, self.alloc)[0]
        elif getattr(self, "_source", None) is not None:
            self.last_output = relu_forward(self._source.last_output, self.alloc)[0]
        return Layer.last_output.fget(self)

    @last_output.setter
    def last_output(self, value):
        Layer.last_output.fset(self, value)
        self._unrectified = self._source = None


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``."""

    _fwd = staticmethod(sigmoid_forward)
    _bwd = staticmethod(sigmoid_backward)


class Tanh(_Activation):
    """``tanh(x)``."""

    _fwd = staticmethod(tanh_forward)
    _bwd = staticmethod(tanh_backward)


class _FixedAlpha(_Activation):
    """An activation with a fixed hyperparameter ``alpha``, checked against ``alpha_range``.

    ``alpha`` is kept as a Python float, so float32 inputs stay float32.
    """

    alpha_range: Interval
    _op_forward = _op_backward = None  # the functional ops, each taking alpha last

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = check_float(type(self).__name__, "alpha", alpha, self.alpha_range)

    def _fwd(self, x):
        return self._op_forward(x, self.alpha)

    def _bwd(self, dout, cache):
        return self._op_backward(dout, cache, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class LeakyReLU(_FixedAlpha):
    """``max(alpha * x, x)`` with a fixed slope ``alpha`` in [0, 1] (default 0.01)."""

    alpha_range = UNIT
    _op_forward = staticmethod(leaky_relu_forward)
    _op_backward = staticmethod(leaky_relu_backward)

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__(alpha)


class ELU(_FixedAlpha):
    """``x`` if x > 0 else ``alpha * (exp(x) - 1)``, with ``alpha`` >= 0 (default 1.0)."""

    alpha_range = NON_NEGATIVE
    _op_forward = staticmethod(elu_forward)
    _op_backward = staticmethod(elu_backward)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha)


class PReLU(Layer):
    """Parametric rectifier ``max(alpha * x, x)`` with learned ``alpha``.

    Args:
        num_parameters: 1 (one alpha shared by all units, PyTorch's default) or
            the number of features/channels (axis 1 of the input).
        init: the starting alpha (0.25, as in He et al. and PyTorch).
        dtype: float32 or float64.
    """

    per_sample = True  # (Layer.per_sample)

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32) -> None:
        super().__init__()
        self.num_parameters = check_int("PReLU", "num_parameters", num_parameters, AT_LEAST_ONE)
        init = check_float("PReLU", "init", init)
        self.dtype = as_float_dtype(dtype, "PReLU")  # an integer alpha would silently truncate 0.25 to 0
        self.params["alpha"] = np.full(self.num_parameters, init, dtype=self.dtype)
        self.grads["alpha"] = np.zeros_like(self.params["alpha"])

    def forward(self, x):
        self._check_input(x, dtype=self.dtype)
        if self.num_parameters > 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise InputError(f"{self}: expected input with {self.num_parameters} features/channels "
                             f"on axis 1, got shape {x.shape}")
        return self._remember(*prelu_forward(x, self.params["alpha"]))

    def backward(self, dout):
        dx, dalpha = prelu_backward(dout, self._checked_cache(dout), self.params["alpha"])
        return self._set_grads(dx, alpha=dalpha)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "elu": ELU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


def make_activation(name: str, *, num_features: int | None = None, dtype=np.float32) -> Layer:
    """Build an activation layer by name (``relu``, ``leaky_relu``, ``prelu``, ``elu``, ``sigmoid``, ``tanh``)."""
    check_choice("make_activation", "name", name, ACTIVATIONS)
    if name == "prelu":
        return PReLU(1, dtype=dtype)
    return ACTIVATIONS[name]()
