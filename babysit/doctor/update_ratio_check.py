"""``update_ratio``: the lecture's "track the ratio of weight updates / weight magnitudes" (want ~1e-3).

A few steps at the suggested (or given) learning rate, with an
UpdateRatioMonitor recording ||update|| / ||W|| for every weight.
"""

from __future__ import annotations

import math

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import as_dataset, as_model_factory, child_rng, quiet_numpy
from babysit.doctor.monitors import UpdateRatioMonitor
from babysit.doctor.short_runs import DEFAULT_LR, epochs_for, median, run_steps, short_solver, span

RATIO_BAND = (1e-4, 1e-2)  # the lecture: ~1e-3 (its own 0.01 example is "about okay")
RATIO_FAIL = (1e-5, 1e-1)  # two decades off: the layer is not learning, or is thrown around


@with_cause
def update_ratio(model_factory, data, *, seed=0, lr: float = DEFAULT_LR, steps: int = 10, batch_size: int = 100,
                 update_rule: str = "sgd", lr_source: str = "given") -> Finding:
    """After a few steps at ``lr``: ||update|| / ||W|| per weight, against the lecture's ~1e-3.

    Inputs: model_factory; data; seed; lr (the suggested or chosen rate); steps; batch_size;
    update_rule; lr_source, words saying where lr came from (for the explanation).
    Returns: a Finding whose value maps weight -> median ratio over the steps.
    """
    data = as_dataset(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "update_ratio")
    X, y = data.sample(min(len(data.y_train), steps * batch_size), rng)
    batch = min(batch_size, len(y))
    epochs = epochs_for(steps, len(y), batch)
    model = factory()
    monitor = UpdateRatioMonitor(every=1)
    with quiet_numpy():
        solver = short_solver(model, X, y, lr=lr, update_rule=update_rule, batch_size=batch, epochs=epochs, rng=rng,
                         callbacks=[monitor], eval_rows=200)
        run_steps(solver, steps)
    ratios = {n: median(v) for n, v in monitor.history["params"].items()}
    details = {"lr": lr, "lr_source": lr_source, "steps": solver.iteration, "update_rule": update_rule,
               "history": monitor.history, "status": solver.status}
    expected = f"about 1e-3 (within [{RATIO_BAND[0]:g}, {RATIO_BAND[1]:g}])"
    lo, hi = RATIO_BAND
    low = {n: r for n, r in ratios.items() if not math.isnan(r) and r < lo}
    high = {n: r for n, r in ratios.items() if math.isnan(r) or r > hi}
    at = f"at lr {lr:g} ({lr_source})"
    if not ratios:
        return Finding("update_ratio", "pass", ratios, expected, "the model has no weights to update", "", details)
    if not low and not high:
        return Finding("update_ratio", "pass", ratios, expected,
                       f"updates are {span(ratios)} of the weights {at}, around the lecture's 1e-3", "", details)
    bad = any(r < RATIO_FAIL[0] for r in low.values()) or any(math.isnan(r) or r > RATIO_FAIL[1]
                                                              for r in high.values())
    status = "fail" if bad else "warn"
    parts = []
    if high:
        parts.append(f"{', '.join(high)} change by {span(high)} per step {at}: too fast (lr too high, the "
                     "weights will be thrown around)")
    frozen = [n for n, r in low.items() if r == 0.0]
    slow = {n: r for n, r in low.items() if r != 0.0}
    if frozen:
        parts.append(f"{', '.join(frozen)} do not change at all {at}: their gradient is exactly zero")
    if slow:
        parts.append(f"{', '.join(slow)} change by only {span(slow)} per step {at}: too slow (lr too low, or "
                     "their gradients vanish)")
    advice = ("lower the learning rate" if high and not low else
              "raise the learning rate, or fix vanishing gradients (init, batchnorm)" if low and not high else
              "layers learn at very different speeds: fix the initialization (`init=he` / xavier) or add batchnorm")
    return Finding("update_ratio", status, ratios, expected, "; ".join(parts), advice, details)
