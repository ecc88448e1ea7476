"""Recording a plain training run (``babysit train --store PATH``) in the run store.

``record_train_run(store_path, config, solver, seconds, checkpoint)`` writes one run with no
search: its settings as params, its series (iteration loss, epoch train/val accuracy, lr
where it changes), its final status and metrics, and the checkpoint as an artifact.
``babysit train --store`` and the final training of ``babysit run`` also log the training
monitors' statistics (``log_monitor_series``) and the end-of-run diagnoses as the run's findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path


def record_train_run(store_path, config: Mapping, solver, seconds: float, checkpoint=None, *,
                     monitor_history=None, diagnoses=()) -> int:
    """Write the finished training run to the store at ``store_path`` (created if missing); returns its run id.

    Inputs: config, the run's JSON-able settings (TrainConfig.to_dict()); solver, the trained
    babysit.train.Solver; seconds of training; checkpoint, the saved .safetensors path or None;
    monitor_history, a babysit.doctor TrainingMonitor's history (its series are logged, see
    ``log_monitor_series``); diagnoses, the end-of-run findings (stored as the run's findings).
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
        if monitor_history:
            log_monitor_series(store, run_id, monitor_history)
        if diagnoses:
            store.add_findings(run_id, diagnoses)
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


def log_monitor_series(store, run_id: int, history: Mapping) -> None:
    """A TrainingMonitor's statistics as named series of the run (the scalars; histograms stay out).

    Series (step = iteration, or epoch for the weights): ``update_ratio:W1`` (||update|| / ||W||),
    ``grad_norm:W1``, ``weight_mean:W1`` and ``weight_std:W1``, and per nonlinearity
    ``act_mean:relu1``, ``act_std:relu1``, ``dead:relu1``, ``saturated:relu1``.
    """
    ratios = history.get("update_ratio") or {}
    for name, values in (ratios.get("params") or {}).items():
        store.log_metrics(run_id, f"update_ratio:{name}", ratios["iteration"], values)
    grads = history.get("gradients") or {}
    for name, stats in (grads.get("params") or {}).items():
        store.log_metrics(run_id, f"grad_norm:{name}", grads["iteration"], stats["norm"])
    weights = history.get("weights") or {}
    for name, stats in (weights.get("params") or {}).items():
        store.log_metrics(run_id, f"weight_mean:{name}", weights["epoch"], stats["mean"])
        store.log_metrics(run_id, f"weight_std:{name}", weights["epoch"], stats["std"])
    acts = history.get("activations") or {}
    for label, stats in (acts.get("layers") or {}).items():
        for key, prefix in (("mean", "act_mean"), ("std", "act_std"), ("dead", "dead"), ("saturated", "saturated")):
            store.log_metrics(run_id, f"{prefix}:{label}", acts["iteration"], stats[key])


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
