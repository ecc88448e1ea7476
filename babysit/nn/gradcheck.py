"""Numeric gradients by centred differences, and the relative error to compare them.

Use float64: in float32 the rounding error of ``f(x+h) - f(x-h)`` swamps the
difference. Keep inputs away from kinks (ReLU at 0, max-pool ties), where the
numeric gradient averages two one-sided slopes and cannot match.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from babysit.validation import invalid


def rel_error(x, y) -> float:
    """``max |x - y| / max(1e-8, |x| + |y|)``, elementwise then maxed (cs231n's definition)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))) if x.size else 0.0


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of scalar ``f`` at ``x`` by centred differences; ``x`` is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fp = float(f(x))
        x[ix] = old - h
        fm = float(f(x))
        x[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray,
                                  h: float = 1e-5) -> np.ndarray:
    """Gradient of ``sum(f(x) * df)`` at ``x``: the input gradient a layer's backward must return for ``df``."""
    return eval_numerical_gradient(lambda z: float(np.sum(f(z) * df)), x, h)


def check_layer_gradients(layer, x: np.ndarray, *, h: float = 1e-5, seed: int = 0) -> dict[str, float]:
    """Relative errors of a layer's dx and every parameter gradient against numeric ones (float64 only).

    Returns: {'x': err, '<param>': err, ...}. Randomness inside the layer (dropout)
    is frozen by restoring its generator state before every evaluation.
    """
    if x.dtype != np.float64:
        raise invalid("check_layer_gradients", "x", "a float64 array (gradient checks need float64)", x.dtype)
    rng = np.random.default_rng(seed)
    state = _rng_states([layer])

    def run(z):
        _restore(state)
        return layer.forward(z)

    out = run(x)
    dout = rng.standard_normal(out.shape)
    _restore(state)
    layer.forward(x)
    dx = layer.backward(dout)
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    errors = {"x": rel_error(dx, eval_numerical_gradient_array(run, x, dout, h))}
    for name, p in layer.params.items():
        errors[name] = rel_error(analytic[name], eval_numerical_gradient_array(lambda _: run(x), p, dout, h))
    return errors


def model_gradients(model, X, y, *, h: float = 1e-6, params=None) -> tuple[float, dict, dict]:
    """The loss of ``model.loss(X, y)`` and, per parameter, its analytic and numeric gradient (float64 models only).

    Returns: (loss, {name: analytic}, {name: numeric}) for ``params`` (default: all). Dropout
    masks are frozen (generator states restored before each loss evaluation).
    """
    if np.dtype(model.dtype) != np.float64:
        raise invalid("check_model_gradients", "model", "a model built with dtype=np.float64", model.dtype)
    state = _rng_states(list(model.layers))

    def f(_):
        _restore(state)
        return model.loss(X, y)[0]

    _restore(state)
    loss, grads = model.loss(X, y)
    names = params or list(model.params)
    analytic = {k: np.array(grads[k], copy=True) for k in names}
    numeric = {k: eval_numerical_gradient(f, model.params[k], h) for k in names}
    return float(loss), analytic, numeric


def check_model_gradients(model, X, y, *, h: float = 1e-6, params=None) -> dict[str, tuple[float, tuple]]:
    """Analytic vs numeric gradient of ``model.loss(X, y)`` for each parameter (float64 models only).

    Returns: {name: (max relative error, index of the worst element)} (see ``model_gradients``).
    """
    _, analytic, numeric = model_gradients(model, X, y, h=h, params=params)
    result = {}
    for name, a in analytic.items():
        num = numeric[name]
        err = np.abs(a - num) / np.maximum(1e-8, np.abs(a) + np.abs(num))
        worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
        result[name] = (float(err.max()) if err.size else 0.0, tuple(int(i) for i in worst))
    return result


def _rng_states(layers):
    """(generator, state) of every layer holding one, looking inside containers (a Sequential's dropout)."""
    states = []
    for layer in layers:
        if hasattr(layer, "rng"):
            states.append((layer.rng, layer.rng.bit_generator.state))
        states += _rng_states(getattr(layer, "layers", ()))
    return states


def _restore(states):
    for rng, s in states:
        rng.bit_generator.state = s
