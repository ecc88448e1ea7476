"""Short Solver runs for the checks that train briefly (overfit_small, lr_range, update_ratio).

They run the real Solver (babysit.train) on a fresh model, with the lecture's
explosion guard (cost > 3x the first cost stops the run).
"""

from __future__ import annotations

import math

import numpy as np

from babysit.train.callbacks import Callback
from babysit.train.solver import Solver

DEFAULT_LR = 1e-2


def short_solver(model, X, y, *, lr, update_rule, batch_size, epochs, rng, callbacks=(), X_val=None, y_val=None,
            eval_rows=None):
    return Solver(model, {"X_train": X, "y_train": y, "X_val": X if X_val is None else X_val,
                          "y_val": y if y_val is None else y_val},
                  update_rule=update_rule, optim_config={"learning_rate": float(lr)}, batch_size=batch_size,
                  num_epochs=epochs, num_train_samples=eval_rows, num_val_samples=eval_rows, verbose=False,
                  seed=rng, callbacks=list(callbacks))



class StopAfter(Callback):
    """Ends the run after ``steps`` updates, however many epochs the Solver planned."""

    def __init__(self, steps):
        self.steps = steps

    def on_iteration_end(self, solver):
        if solver.iteration >= self.steps and solver.status == "running":
            solver.request_stop("stopped", f"short run done after {self.steps} steps")


def run_steps(solver, steps: int):
    """Train ``solver`` for at most ``steps`` updates; returns it."""
    solver.callbacks.append(StopAfter(steps))
    return solver.train()


def epochs_for(steps: int, rows: int, batch_size: int) -> int:
    """Epochs the Solver must plan so that ``steps`` updates of ``batch_size`` fit in ``rows`` rows."""
    return math.ceil(steps / max(rows // batch_size, 1))


def finite(x) -> bool:
    return x is not None and math.isfinite(x)


def median(values) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.median(vals)) if vals else math.nan


def span(ratios: dict) -> str:
    vals = [v for v in ratios.values() if not math.isnan(v)]
    if not vals:
        return "NaN"
    lo, hi = min(vals), max(vals)
    return f"{lo:.1e}" if lo == hi or len(vals) == 1 else f"{lo:.1e} .. {hi:.1e}"
