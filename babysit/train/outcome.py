"""``RunRecord``, a run's results as plain values, and ``run_record``: the one conversion from a trained
Solver to it. ``babysit.store.recording.record_run`` writes a RunRecord into the run store.

``run_record(solver)`` gives status, ``Solver.metrics()`` and the series every run logs:
'loss' (per iteration), 'train_acc' and 'val_acc' (per epoch), 'lr' (at the first iteration
and wherever the rate changes). Monitors add their own series and findings to the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class RunRecord:
    """What one run produced, as plain values (picklable: it travels back from worker processes).

    status: finished | exploded | diverged | failed; metrics: ``RunStore.finish_run``'s dict
    (val_acc, train_acc, loss, epochs, seconds, ... ; other keys kept as extras); series:
    name -> (steps, values), e.g. 'loss' per iteration, 'val_acc' per epoch, 'lr' where it
    changes, 'update_ratio:W1'; findings: the run's diagnoses (Findings or their dicts);
    artifacts: (kind, path) pairs; error: one line for a failed run; traceback: its detail.
    """

    status: str
    metrics: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)
    artifacts: list = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None


# A run a callback ended on purpose (a deadline, a short run's step count) did finish: the store
# keeps the word for its outcome, and the metrics' stop_reason says why it ended early.
STORE_STATUS = {"stopped": "finished"}


def run_record(solver, *, extra_metrics: Mapping | None = None, series: Mapping | None = None,
               findings=(), artifacts=()) -> RunRecord:
    """The RunRecord of a trained ``solver``; ``extra_metrics``/``series`` are merged over its own."""
    metrics = solver.metrics()
    status = metrics.pop("status")
    return RunRecord(
        status=STORE_STATUS.get(status, status),
        metrics={**metrics, **(extra_metrics or {})},
        series={**solver_series(solver), **(series or {})},
        findings=list(findings),
        artifacts=list(artifacts),
    )


def solver_series(solver) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values): loss per iteration, train/val accuracy per epoch, lr where it changes."""
    out = {}
    for kind, values in (("loss", solver.loss_history), ("train_acc", solver.train_acc_history),
                         ("val_acc", solver.val_acc_history)):
        out[kind] = (list(range(1, len(values) + 1)), [float(v) for v in values])
    changes = lr_changes(solver.lr_history)
    out["lr"] = ([i for i, _ in changes], [lr for _, lr in changes])
    return out


def lr_changes(lr_history) -> list[tuple[int, float]]:
    """[(iteration (1-based), lr), ...] at the first iteration and wherever the rate changes."""
    out, last = [], None
    for i, lr in enumerate(lr_history, start=1):
        if lr != last:
            out.append((i, float(lr)))
            last = lr
    return out
