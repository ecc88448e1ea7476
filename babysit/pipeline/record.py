"""Recording a plain training run (``babysit train --store PATH``) in the run store.

``record_train_run(store_path, config, solver, seconds, checkpoint)`` writes one run with no
search: its settings as params, its series (iteration loss, epoch train/val accuracy, lr
where it changes), its final status and metrics, and the checkpoint as an artifact. The
hook in ``babysit train`` is three lines after ``train_model`` returns::

    if args.store is not None:
        from babysit.pipeline.record import record_train_run
        record_train_run(args.store, config.to_dict(), result.solver, result.seconds, result.checkpoint)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path


def record_train_run(store_path, config: Mapping, solver, seconds: float, checkpoint=None) -> int:
    """Write the finished training run to the store at ``store_path`` (created if missing); returns its run id.

    Inputs: config, the run's JSON-able settings (TrainConfig.to_dict()); solver, the trained
    babysit.train.Solver; seconds of training; checkpoint, the saved .safetensors path or None.
    """
    from babysit.search.trial import lr_changes
    from babysit.store import RunStore

    with RunStore(store_path) as store:
        run_id = store.start_run(None, None, None, dict(config))
        log_solver_series(store, run_id, solver)
        changes = lr_changes(solver.lr_history)
        if changes:
            steps, values = zip(*changes)
            store.log_metrics(run_id, "lr", steps, values)
        store.finish_run(run_id, solver.status, solver_metrics(solver, seconds))
        if checkpoint is not None:
            store.add_artifact(run_id, "checkpoint", Path(checkpoint))
    return run_id


def log_solver_series(store, run_id: int, solver) -> None:
    """Iteration loss and per-epoch train/val accuracy of ``solver`` into ``run_id``'s series."""
    for kind, values in (("loss", solver.loss_history), ("train_acc", solver.train_acc_history),
                         ("val_acc", solver.val_acc_history)):
        if values:
            store.log_metrics(run_id, kind, range(1, len(values) + 1), values)


def solver_metrics(solver, seconds: float) -> dict:
    """The final metrics of a run for ``RunStore.finish_run``: val_acc is the best epoch's (the kept model)."""
    has_val = bool(solver.val_acc_history)
    return {
        "val_acc": solver.best_val_acc if has_val else None,
        "best_val_acc": solver.best_val_acc if has_val else None,
        "final_val_acc": solver.val_acc_history[-1] if has_val else None,
        "train_acc": solver.train_acc_history[-1] if solver.train_acc_history else None,
        "loss": solver.loss if math.isfinite(solver.loss) else None,
        "epochs": solver.epoch,
        "iterations": solver.iteration,
        "seconds": float(seconds),
        "stop_reason": solver.stop_reason,
    }
