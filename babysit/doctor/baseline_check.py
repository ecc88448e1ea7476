"""``input_baseline``: Karpathy's "input-independent baseline": the same model, trained briefly on zeroed
inputs, must do clearly worse than on the real ones; else labels and inputs are not connected.

With every input zero the model can learn only the label frequencies, so its validation accuracy is
the majority class's share. A model trained the same number of steps on the real inputs must beat
it clearly; when it does not, the labels are shuffled or misaligned with the inputs, or the inputs are
constant (a loading bug), and no hyperparameter can help. The comparison needs a rate that learns:
``run_doctor`` passes the lr_range check's suggestion (or the given ``--lr``).
"""

from __future__ import annotations

import numpy as np

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import as_dataset, as_model_factory, child_rng, quiet_numpy
from babysit.doctor.short_runs import DEFAULT_LR, epochs_for, run_steps, short_solver

STEPS = 100
VAL_ROWS = 500
MIN_GAIN = 0.05  # real inputs must beat zeroed ones by at least 5 points of validation accuracy...
SIGMAS = 3.0  # ... and by 3 standard errors of the zero baseline's accuracy on the validation rows


def _trained_accuracy(factory, X, y, X_val, y_val, *, lr, steps, batch, update_rule, rng) -> float:
    model = factory()
    epochs = epochs_for(steps, len(y), batch)
    solver = short_solver(model, X, y, lr=lr, update_rule=update_rule, batch_size=batch, epochs=epochs, rng=rng,
                          X_val=X_val, y_val=y_val, eval_rows=len(y_val))
    run_steps(solver, steps)
    if solver.best_params is not None:  # judge the model the Solver kept, as a real run would
        for k, v in solver.best_params.items():
            model.params[k][...] = v
    return float(np.mean(model.predict(X_val) == y_val))


@with_cause
def input_baseline(model_factory, data, *, seed=0, lr: float = DEFAULT_LR, steps: int = STEPS,
                   batch_size: int = 100, update_rule: str = "sgd") -> Finding:
    """Train ``steps`` on the real inputs and on all-zero inputs (same labels, same seed); compare validation accuracy.

    Returns: a Finding whose value is the real-input accuracy minus the zero-input one; details hold both.
    """
    data = as_dataset(data)
    factory = as_model_factory(model_factory)
    X, y = data.sample(min(len(data.y_train), steps * batch_size), child_rng(seed, "input_baseline"))
    X_val, y_val = data.X_val[:VAL_ROWS], data.y_val[:VAL_ROWS]
    if not len(y_val):
        X_val, y_val = X[:VAL_ROWS], y[:VAL_ROWS]
    batch = min(batch_size, len(y))
    with quiet_numpy():
        real = _trained_accuracy(factory, X, y, X_val, y_val, lr=lr, steps=steps, batch=batch,
                                 update_rule=update_rule, rng=child_rng(seed, "input_baseline_run"))
        zero = _trained_accuracy(factory, np.zeros_like(X), y, np.zeros_like(X_val), y_val, lr=lr, steps=steps,
                                 batch=batch, update_rule=update_rule, rng=child_rng(seed, "input_baseline_run"))
    gain = real - zero
    need = max(MIN_GAIN, SIGMAS * float(np.sqrt(zero * (1.0 - zero) / len(y_val))))
    details = {"real_acc": real, "zero_acc": zero, "steps": steps, "lr": lr, "update_rule": update_rule,
               "val_rows": int(len(y_val))}
    expected = f"real inputs beat zeroed ones by > {need:.1%} validation accuracy"
    if gain > need:
        return Finding("input_baseline", "pass", gain, expected,
                       f"after {steps} steps the model scores {real:.1%} on real inputs and {zero:.1%} on zeroed "
                       "ones: it uses the inputs", "", details)
    return Finding("input_baseline", "fail", gain, expected,
                   f"after {steps} steps the model scores {real:.1%} on real inputs and {zero:.1%} on zeroed ones "
                   "(the label frequencies alone): the inputs carry nothing the labels follow",
                   "check that the labels belong to the inputs (not shuffled or misaligned), and that the inputs "
                   "are not constant after loading and preprocessing", details)
