"""``overfit_small``: the lecture's tip, "make sure that you can overfit very small portion of the training data".

With reg 0 and plain sgd, full-batch steps on ~20 examples must reach 100% train
accuracy; when they cannot, the finding says why (identical units, vanishing
gradients, explosions) from what the attempts recorded.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import as_dataset, as_model_factory, child_rng, quiet_numpy, weight_names
from babysit.doctor.monitors import WeightStatsMonitor
from babysit.doctor.short_runs import DEFAULT_LR, finite, short_solver
from babysit.train.callbacks import Callback

TINY_ROWS = 20  # the lecture's X_train[:20]
OVERFIT_EPOCHS = 200  # the lecture's num_epochs=200
MAX_LR = 10.0
FLAT = 0.01  # an attempt whose loss moved < 1% learned nothing


class _StopWhenPerfect(Callback):
    """Ends the run at 100% train accuracy (nothing left to learn), or when the loss is frozen solid.

    "Frozen": after ``patience`` epochs the loss moved by < 0.01%. The lecture's own
    tiny-init run moves 0.1% in its first 5 epochs before it drops, so this only
    cuts runs that cannot learn at all (zero init, vanished gradients).
    """

    def __init__(self, patience: int = 50):
        self.patience = patience

    def on_epoch_end(self, solver):
        if solver.train_acc_history and solver.train_acc_history[-1] >= 1.0:
            solver.request_stop("stopped", f"100% train accuracy at epoch {solver.epoch}")
        elif solver.epoch == self.patience and solver.loss_history:
            first, last = solver.loss_history[0], solver.loss_history[-1]
            if finite(first) and finite(last) and abs(first - last) < 1e-4 * abs(first):
                solver.request_stop("stopped", f"the loss has not moved in {self.patience} epochs")



@with_cause
def overfit_small(model_factory, data, *, seed=0, lr: float | None = None, rows: int = TINY_ROWS,
                  epochs: int = OVERFIT_EPOCHS) -> Finding:
    """The lecture's tip: with reg 0 and plain sgd, the model must reach 100% train accuracy on ~20 examples.

    Full-batch steps; learning rates are bracketed from ``lr`` (default 1e-2): an
    exploding run retries 10x lower, a run that merely falls short retries 10x higher
    (at most 4 runs). Returns a Finding whose value is the best train accuracy;
    details hold the attempts and, for the best one, the loss/accuracy curves and
    the weights' mean/std per epoch.
    """
    data = as_dataset(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "overfit_small")
    X, y = data.stratified_sample(rows, rng)
    attempts, runs = [], {}
    current = float(lr) if lr is not None else DEFAULT_LR
    direction = None
    with quiet_numpy(), threadpool_limits(limits=1, user_api="blas"):  # 20 rows: threads only add overhead
        for _ in range(4):
            model = factory()
            model.reg = 0.0
            weights = WeightStatsMonitor()
            # a 1-row "validation" split: the Solver wants one, the check only reads train accuracy
            solver = short_solver(model, X, y, lr=current, update_rule="sgd", batch_size=len(y), epochs=epochs, rng=rng,
                             callbacks=[weights, _StopWhenPerfect()], X_val=X[:1], y_val=y[:1])
            solver.train()
            acc = max(solver.train_acc_history, default=0.0)
            losses = solver.loss_history
            attempts.append({"lr": current, "status": solver.status, "epochs": solver.epoch, "train_acc": acc,
                             "loss_start": losses[0] if losses else None, "loss_end": losses[-1] if losses else None})
            runs[current] = (solver, weights, model)
            if acc >= 1.0:
                break
            # bracket: an exploding run retries 10x lower, one that falls short 10x higher, never back again
            if solver.status in ("exploded", "diverged"):
                if direction == "up":
                    break
                direction, current = "down", current / 10
            else:
                if direction == "down" or current * 10 > MAX_LR:
                    break
                direction, current = "up", current * 10
    best = max(attempts, key=lambda a: (a["train_acc"], -(a["loss_end"] if finite(a["loss_end"]) else math.inf)))
    solver, weights, model = runs[best["lr"]]
    details = {"rows": len(y), "attempts": attempts, "lr": best["lr"], "loss_history": solver.loss_history,
               "train_acc_history": solver.train_acc_history, "weights": weights.history}
    expected = f"100% train accuracy on {len(y)} examples (reg 0, sgd)"
    if best["train_acc"] >= 1.0:
        return Finding("overfit_small", "pass", 1.0, expected,
                       f"reached 100% train accuracy on {len(y)} examples in {best['epochs']} epochs at lr "
                       f"{best['lr']:g} (loss {best['loss_start']:.3f} -> {best['loss_end']:.3g})", "", details)
    reason, advice = _overfit_reason(model, attempts, best)
    tried = ", ".join(f"lr {a['lr']:g}: {a['train_acc']:.0%} ({_outcome(a)})" for a in attempts)
    return Finding("overfit_small", "fail", best["train_acc"], expected,
                   f"could not overfit {len(y)} examples: best train accuracy {best['train_acc']:.0%} "
                   f"({tried}); {reason}",
                   advice, details)



def _overfit_reason(model, attempts, best) -> tuple[str, str]:
    symmetric = [n for n in weight_names(model) if _identical_units(model.params[n])]
    if symmetric:
        return (f"the units of {', '.join(symmetric)} are still identical after training (zero/constant init: "
                "every unit gets the same gradient, so the layer acts like a single unit)",
                "initialize with random weights: `init=he` (ReLU) or xavier (tanh)")
    outcomes = [_outcome(a) for a in attempts]
    if all(o == "exploded" for o in outcomes):
        return ("the loss explodes even at the lowest learning rate tried",
                "lower the learning rate further, shrink the init, and check the initial loss")
    if "flat" in outcomes and "exploded" in outcomes:
        return ("the loss stays flat at the lower rates and explodes at the higher ones: no rate lets it learn "
                "steadily, the sign of badly scaled gradients (vanishing activations, see activation_stats)",
                "fix the initialization (`init=he` / xavier, or `normalization=batchnorm`)")
    if all(o == "flat" for o in outcomes):
        start, end = best["loss_start"], best["loss_end"]
        return (f"the loss barely moved ({start:.4f} -> {end:.4f}): the gradients are too small to learn from "
                "(vanishing activations, see activation_stats) or the learning rate is far too low",
                "fix the initialization (`init=he` / xavier, or `normalization=batchnorm`) and check gradient_check")
    return (f"the loss fell ({best['loss_start']:.3f} -> {best['loss_end']:.3g}) but not far enough: too little "
            "capacity, too few epochs, or a bug in the loss or backward pass",
            "check gradient_check first, then try a larger model")


def _outcome(attempt) -> str:
    """'exploded', 'flat' (the loss moved < 1%) or 'learned' for one overfitting attempt."""
    if attempt["status"] in ("exploded", "diverged"):
        return "exploded"
    start, end = attempt["loss_start"], attempt["loss_end"]
    if finite(start) and finite(end) and abs(start - end) < FLAT * abs(start):
        return "flat"
    return "learned"


def _identical_units(w: np.ndarray) -> bool:
    units = w.reshape(w.shape[0], -1) if w.ndim == 4 else w.T
    return units.shape[0] > 1 and bool(np.allclose(units, units[:1], rtol=1e-5, atol=1e-8))
