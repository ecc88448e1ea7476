"""``gradient_check``: analytic vs numeric gradients of the whole model, in float64, per parameter.

The model is rebuilt in float64 with the same weights; for a sample of elements
of every parameter the centred difference ``(f(p+h) - f(p-h)) / 2h`` is compared
with the backward pass by cs231n's relative error. Two traps are handled:

- Kinks (ReLU at 0, max-pool ties, maxout switches): when a perturbation crosses
  one, the two one-sided slopes disagree and the centred difference is
  meaningless. Such elements are detected from the slopes (the forward pass
  alone, so a wrong backward cannot hide behind them) and skipped.
- A bias directly before batchnorm has a true gradient of exactly 0 (the mean
  subtraction removes it): both sides are then noise, so it is checked as
  "both ~0" instead of by relative error.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import FrozenRandomness, as_dataset, as_model_factory, child_rng, copy_weights
from babysit.errors import ConfigError

PASS_ERROR = 1e-4  # cs231n: < 1e-4 is fine for objectives with kinks, > 1e-2 means the gradient is wrong
FAIL_ERROR = 1e-2
EVALUATIONS = 300  # loss evaluations the default sampling aims at: a deep net's check stays a few seconds
EPS64 = float(np.finfo(np.float64).eps)


def float64_copy(model_factory, model):
    """A float64 model with ``model``'s weights: ``model_factory(dtype=np.float64)``, else rebuilt from config."""
    try:
        copy = model_factory(dtype=np.float64)
    except TypeError:
        from babysit.nn import build_model

        copy = build_model({**model.config(), "dtype": "float64"})
    if np.dtype(getattr(copy, "dtype", np.float64)) != np.float64:
        raise ConfigError(f"gradient_check: the model factory ignored dtype=float64 (built {copy.dtype}); "
                          "it must pass its keyword arguments on to the model")
    copy_weights(model, copy)
    return copy


@with_cause
def gradient_check(model_factory, data, *, seed=0, batch_size: int = 5, samples_per_param: int | None = None,
                   h: float = 1e-5) -> Finding:
    """Compare analytic and numeric gradients of ``model.loss`` on a small batch, in float64.

    Inputs: model_factory (or a model); data; seed; batch_size rows; samples_per_param
    elements checked per parameter (plus the one with the largest analytic gradient; default: 12,
    fewer for models with many parameter arrays, keeping to ~EVALUATIONS loss evaluations); h, the step.
    Returns: a Finding whose value is the worst relative error; details['params'] holds per
    parameter {error, index, checked, kinks} and details['worst'] names the parameter and element.
    """
    data = as_dataset(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "gradient_check")
    model = float64_copy(factory, factory())
    X, y = data.stratified_sample(batch_size, rng)
    X = np.asarray(X, dtype=np.float64)
    frozen = FrozenRandomness(model)

    def f() -> float:
        frozen.restore()
        return float(model.loss(X, y)[0])

    # One BLAS thread: on a 5-row batch threads only add overhead (20x slower on a busy 2-core machine).
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        frozen.restore()
        f0, grads = model.loss(X, y)
        f0 = float(f0)
        analytic = {k: np.array(v, dtype=np.float64) for k, v in grads.items()}
        # below this both gradients are rounding noise of f(p+h) - f(p-h); compare absolutely there
        noise = 1e3 * EPS64 * max(1.0, abs(f0)) / h
        floor = max(1e-8, 100 * noise)
        zero_grad = _biases_before_batchnorm(model)
        per_param = {}
        if samples_per_param is None:
            samples_per_param = int(np.clip(EVALUATIONS // (2 * max(len(model.params), 1)) - 1, 3, 12))
        for name in model.params:
            p = model.params[name]
            a = analytic[name]
            indices = _sample_indices(a, samples_per_param, rng)
            worst, worst_idx, kinks = 0.0, None, 0
            for flat in indices:
                idx = np.unravel_index(flat, p.shape)
                old = p[idx]
                p[idx] = old + h
                fp = f()
                p[idx] = old - h
                fm = f()
                p[idx] = old
                up, down = (fp - f0) / h, (f0 - fm) / h
                if abs(up - down) > 1e-2 * (abs(up) + abs(down)) + noise:
                    kinks += 1  # the perturbation crossed a kink: the centred difference is meaningless here
                    continue
                n = (fp - fm) / (2 * h)
                if name in zero_grad:
                    err = max(abs(a[idx]), abs(n)) / floor  # true gradient 0: both must be noise-sized
                else:
                    err = abs(a[idx] - n) / max(abs(a[idx]) + abs(n), floor)
                if err >= worst or worst_idx is None:
                    worst, worst_idx = float(err), tuple(int(i) for i in idx)
            per_param[name] = {"error": worst, "index": list(worst_idx) if worst_idx is not None else None,
                               "checked": len(indices) - kinks, "kinks": kinks,
                               "zero_gradient_expected": name in zero_grad}
        nonfinite = not math.isfinite(f0) or any(not np.all(np.isfinite(a)) for a in analytic.values())

    details = {"params": per_param, "batch_size": len(y), "h": h, "loss": f0}
    expected = f"relative error < {PASS_ERROR:g} for every parameter"
    if nonfinite:
        return Finding("gradient_check", "fail", None, expected,
                       f"the float64 loss or its gradient is not finite (loss {f0})",
                       "fix the initial loss first (see initial_loss)", details)
    checked = {k: v for k, v in per_param.items() if v["checked"]}
    if not checked:
        return Finding("gradient_check", "warn", None, expected,
                       "every sampled element sat on a kink; nothing could be compared",
                       "rerun with another seed", details)
    worst_name = max(checked, key=lambda k: checked[k]["error"])
    worst = checked[worst_name]
    details["worst"] = {"param": worst_name, "index": worst["index"], "error": worst["error"]}
    where = f"{worst_name}{tuple(worst['index'])}"
    skipped = sum(v["kinks"] for v in per_param.values())
    kink_note = f" ({skipped} element(s) at kinks skipped)" if skipped else ""
    zero_note = (f"; {', '.join(sorted(zero_grad))} (bias right before batchnorm: true gradient 0) checked "
                 "for ~0") if zero_grad else ""
    if worst["error"] < PASS_ERROR:
        return Finding("gradient_check", "pass", worst["error"], expected,
                       f"analytic and numeric gradients agree for all {len(per_param)} parameters; worst "
                       f"relative error {worst['error']:.2e} at {where}{kink_note}{zero_note}", "", details)
    bad = [k for k, v in checked.items() if v["error"] >= FAIL_ERROR]  # in forward order
    status = "fail" if bad else "warn"
    lead = (f"the backward pass is wrong for {', '.join(bad)}" if bad
            else "analytic and numeric gradients disagree more than they should")
    # a wrong backward corrupts the gradients of every parameter before it and none after it
    culprit = bad[-1] if bad else worst_name
    return Finding("gradient_check", status, worst["error"], expected,
                   f"{lead}: worst relative error {worst['error']:.2e} at {where}{kink_note}",
                   f"the bug is in the backward of {culprit}'s layer or of the layer right after it (the "
                   "parameters after it check out): compare that backward with its forward", details)


def _sample_indices(grad: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Up to ``k`` random flat indices plus the index of the largest |gradient| (where bugs show most)."""
    size = grad.size
    if size == 0:
        return []
    chosen = set(rng.choice(size, min(k, size), replace=False).tolist())
    chosen.add(int(np.argmax(np.abs(grad))))
    return sorted(chosen)


def _biases_before_batchnorm(model) -> set[str]:
    """Names of biases whose layer feeds straight into a batchnorm: their true gradient is exactly 0."""
    from babysit.nn import BatchNorm

    layers = list(getattr(model, "layers", ()))
    following = {id(a): b for a, b in zip(layers, layers[1:])}
    names = set()
    for name in model.params:
        try:
            layer, local = model.params.owner(name)
        except AttributeError:
            return set()
        if local == "b" and isinstance(following.get(id(layer)), BatchNorm):
            names.add(name)
    return names
