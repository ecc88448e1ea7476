"""Update rules: how a gradient becomes a parameter change.

``make_optimizer('momentum', momentum=0.9)`` returns an optimizer whose
``step(params, grads, lr)`` updates every array in ``params`` IN PLACE (the
model's layers hold the same arrays, so rebinding a name would silently detach
them). State (velocities, caches, moments) is kept by the optimizer, keyed by
parameter name. All arithmetic uses Python floats and preallocated buffers of
the parameter's dtype, so float32 parameters stay float32 and a step allocates
nothing. With the numba kernels chosen (``babysit.nn.kernels``), each rule runs as one compiled pass
(``babysit.train.numba_updates``) for the same bits.

Per-parameter learning-rate multipliers (``optimizer.set_lr_mults({'W1': 0.1})``, PyTorch's
param groups, fastai's discriminative rates): a parameter named there is updated with
``lr * mult``; every other with ``lr``. Frozen parameters are simply not passed to ``step``
(``Model.trainable_params()``): they get no update and keep no state.

Momentum convention (the lecture's, cs231n): ``v = mu * v - lr * g; p += v``.
PyTorch keeps ``v = mu * v + g; p -= lr * v`` instead. The two give identical
parameters while ``lr`` is constant; when ``lr`` changes (a schedule), ours
scales only new gradients, PyTorch's rescales the whole accumulated velocity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from babysit.errors import InputError
from babysit.nn.kernels import active_kernels, numba_kernels
from babysit.validation import NON_NEGATIVE, POSITIVE, Interval, check_float, reject_unknown, unknown

RATE = Interval(0.0, 1.0, "left")  # [0, 1): decay rates and momenta


class Optimizer:
    """Base class: validates config, keeps per-parameter state, updates params in place.

    Subclasses declare ``defaults`` and ``constraints`` (name -> Interval) and
    implement ``_update(name, p, g, lr)``.
    """

    name = "optimizer"
    defaults: dict[str, float] = {}
    constraints: dict[str, Interval] = {}
    buffers: tuple[str, ...] = ()  # per-parameter state arrays, zero-initialised

    def __init__(self, **config):
        reject_unknown(self.name, config, self.defaults)
        merged = {**self.defaults, **config}
        self.config = {k: check_float(self.name, k, v, self.constraints[k]) for k, v in merged.items()}
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.lr_mults: dict[str, float] = {}
        self.t = 0  # number of steps taken

    def set_lr_mults(self, lr_mults: Mapping[str, float] | None) -> Optimizer:
        """Scale the learning rate of the named parameters by their multiplier (> 0; None: no multipliers)."""
        self.lr_mults = {str(k): check_float(self.name, f"lr_mult of {k}", v, POSITIVE)
                         for k, v in (lr_mults or {}).items()}
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float) -> None:
        """Apply one update to every parameter, in place.

        Inputs: params and grads, name -> array of equal shapes; lr, the learning rate.
        """
        lr = check_float(self.name, "lr", lr, NON_NEGATIVE)
        self.t += 1
        fused = update_kernels() if self._fused is not None else None
        for key, p in params.items():
            g = grads.get(key)
            if g is None:
                raise InputError(f"{self.name}: no gradient for parameter '{key}'; grads has {sorted(grads)}")
            if g.shape != p.shape:
                raise InputError(
                    f"{self.name}: gradient of '{key}' has shape {g.shape}, expected {p.shape} (the parameter's)"
                )
            rate = lr * self.lr_mults[key] if key in self.lr_mults else lr
            state = self._state(key, p)
            if fused is not None and _fusable(p, g):
                self._fused(fused, {b: state[b].reshape(-1) for b in self.buffers}, p.reshape(-1), g.reshape(-1),
                            p.dtype.type, rate)
            else:
                self._update(state, p, g, rate)

    def _state(self, key: str, p: np.ndarray) -> dict[str, np.ndarray]:
        state = self.state.get(key)
        if state is None or state["scratch"].shape != p.shape or state["scratch"].dtype != p.dtype:
            state = {b: np.zeros_like(p) for b in self.buffers}
            state["scratch"] = np.empty_like(p)  # reused temporary: no allocation per step
            self.state[key] = state
        return state

    def _update(self, state: dict[str, np.ndarray], p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    # ``_fused(kernels, state, p, g, scalar, lr)``: the same update by one of ``babysit.train.numba_updates``'
    # kernels, on 1-D views, each scalar cast with ``scalar`` (the arrays' float type) as NumPy casts a
    # Python float; None where a rule has no kernel (it then always runs ``_update``)
    _fused = None


def update_kernels():
    """``babysit.train.numba_updates`` when the numba kernels are in use, else None."""
    if numba_kernels() is None:
        return None
    from babysit.train import numba_updates
    return numba_updates


_prepared = set()  # the kernel sets whose update kernels are compiled in this process (prepare_update_kernels)


def prepare_update_kernels() -> None:
    """Compile (or load from numba's cache) every rule's float32 kernel now, once per process, by a tiny step of
    each; nothing for the NumPy kernels. The one-time cost (0.3-0.5 s with numba's import, measured on the Intel
    VM) then falls before a timed epoch instead of in its first step (``train.recipe.train_model`` calls this)."""
    name = active_kernels()
    if name in _prepared or update_kernels() is None:
        return
    for rule in UPDATE_RULES.values():
        rule().step({"w": np.ones(2, np.float32)}, {"w": np.ones(2, np.float32)}, 1e-3)
    _prepared.add(name)


def _fusable(p: np.ndarray, g: np.ndarray) -> bool:
    """Whether a kernel can update p in place from g: both C-contiguous, both float32 or both float64."""
    return (p.dtype == g.dtype and p.dtype.char in "fd" and p.flags.c_contiguous and g.flags.c_contiguous
            and p.flags.writeable)


class SGD(Optimizer):
    """Vanilla gradient descent: ``p -= lr * g``."""

    name = "sgd"

    def _update(self, state, p, g, lr):
        s = state["scratch"]
        np.multiply(g, lr, out=s)
        p -= s

    def _fused(self, k, state, p, g, f, lr):
        k.sgd(p, g, f(lr))


class Momentum(Optimizer):
    """Momentum (cs231n form): ``v = mu * v - lr * g; p += v``."""

    name = "momentum"
    defaults = {"momentum": 0.9}
    constraints = {"momentum": RATE}
    buffers = ("velocity",)

    def _update(self, state, p, g, lr):
        v, s = state["velocity"], state["scratch"]
        np.multiply(g, lr, out=s)
        v *= self.config["momentum"]
        v -= s
        p += v

    def _fused(self, k, state, p, g, f, lr):
        k.momentum(p, g, state["velocity"], f(lr), f(self.config["momentum"]))


class Nesterov(Optimizer):
    """Nesterov momentum: ``v = mu * v - lr * g; p += -mu * v_prev + (1 + mu) * v``.

    Computed as the equivalent ``p += mu * v - lr * g``, which needs no copy of ``v_prev``.
    """

    name = "nesterov"
    defaults = {"momentum": 0.9}
    constraints = {"momentum": RATE}
    buffers = ("velocity",)

    def _update(self, state, p, g, lr):
        mu = self.config["momentum"]
        v, s = state["velocity"], state["scratch"]
        np.multiply(g, lr, out=s)
        v *= mu
        v -= s
        p -= s
        np.multiply(v, mu, out=s)
        p += s

    def _fused(self, k, state, p, g, f, lr):
        k.nesterov(p, g, state["velocity"], f(lr), f(self.config["momentum"]))


class RMSProp(Optimizer):
    """RMSProp: ``c = d * c + (1 - d) * g**2; p -= lr * g / (sqrt(c) + eps)``."""

    name = "rmsprop"
    defaults = {"decay_rate": 0.99, "epsilon": 1e-8}
    constraints = {"decay_rate": RATE, "epsilon": POSITIVE}
    buffers = ("cache",)

    def _update(self, state, p, g, lr):
        d, eps = self.config["decay_rate"], self.config["epsilon"]
        c, s = state["cache"], state["scratch"]
        np.multiply(g, g, out=s)
        s *= 1.0 - d
        c *= d
        c += s
        np.sqrt(c, out=s)
        s += eps
        np.divide(g, s, out=s)
        s *= lr
        p -= s

    def _fused(self, k, state, p, g, f, lr):
        d = self.config["decay_rate"]
        k.rmsprop(p, g, state["cache"], f(lr), f(d), f(1.0 - d), f(self.config["epsilon"]))


class Adam(Optimizer):
    """Adam with bias correction: ``p -= lr * m_hat / (sqrt(v_hat) + eps)``."""

    name = "adam"
    defaults = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    constraints = {"beta1": RATE, "beta2": RATE, "epsilon": POSITIVE}
    buffers = ("m", "v")

    def _update(self, state, p, g, lr):
        b1, b2, eps = self.config["beta1"], self.config["beta2"], self.config["epsilon"]
        m, v, s = state["m"], state["v"], state["scratch"]
        m *= b1
        np.multiply(g, 1.0 - b1, out=s)
        m += s
        v *= b2
        np.multiply(g, g, out=s)
        s *= 1.0 - b2
        v += s
        # sqrt(v_hat) + eps == sqrt(v) / sqrt(1 - b2**t) + eps  (PyTorch's order of operations)
        np.sqrt(v, out=s)
        s *= 1.0 / math.sqrt(1.0 - b2**self.t)
        s += eps
        np.divide(m, s, out=s)
        s *= lr / (1.0 - b1**self.t)
        p -= s

    def _fused(self, k, state, p, g, f, lr):
        b1, b2 = self.config["beta1"], self.config["beta2"]
        k.adam(p, g, state["m"], state["v"], f(b1), f(1.0 - b1), f(b2), f(1.0 - b2),
               f(1.0 / math.sqrt(1.0 - b2**self.t)), f(self.config["epsilon"]), f(lr / (1.0 - b1**self.t)))


UPDATE_RULES: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, RMSProp, Adam)
}


def make_optimizer(name: str, lr_mults: Mapping[str, float] | None = None, **config) -> Optimizer:
    """Build the update rule called ``name`` ('sgd', 'momentum', 'nesterov', 'rmsprop', 'adam'), with optional
    per-parameter learning-rate multipliers."""
    cls = UPDATE_RULES.get(name)
    if cls is None:
        raise unknown("make_optimizer", "name", "update rule", name, UPDATE_RULES)
    return cls(**config).set_lr_mults(lr_mults)
