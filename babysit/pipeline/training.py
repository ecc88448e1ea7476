"""A babysat training run: the recipe with the doctor's monitors, then the diagnoses, plots and record.

``monitored_training(config)`` is the one place a user-facing training run is put together:
``babysit train`` (through ``train_job``) and the final training of ``babysit run`` both call it.
It trains with ``babysit.train.train_model`` and a ``TrainingMonitor``, reads the run the
lecture's way (``diagnose_solver``) and returns a ``MonitoredRun`` whose ``record()`` is what
the store keeps: the run's series, the monitors' series and the diagnoses as findings.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from babysit.doctor import TrainingMonitor, diagnose_solver
from babysit.doctor.monitor_series import histogram_series, monitor_series
from babysit.doctor.monitors import EVERY as MONITOR_EVERY
from babysit.doctor.plots import save_run_plots
from babysit.pipeline.provenance import train_run_extras
from babysit.store.recording import record_run
from babysit.train.checkpoint import check_replaceable
from babysit.train.recipe import TrainConfig, TrainResult, train_model
from babysit.validation import NON_NEGATIVE, check_directory, check_int


@dataclass
class MonitoredRun:
    """A trained run with what its monitors saw: the TrainResult, the monitor history (None when off)
    and the end-of-run diagnoses (Findings)."""

    result: TrainResult
    monitor_history: dict | None
    diagnoses: list = field(default_factory=list)

    @property
    def solver(self):
        return self.result.solver

    def record(self, **extra_metrics):
        """The RunRecord to store: series (run and monitors), metrics (+ ``extra_metrics``), diagnoses, checkpoint."""
        series = {**monitor_series(self.monitor_history), **histogram_series(self.monitor_history)}
        return self.result.record(extra_metrics=extra_metrics, series=series, findings=self.diagnoses)

    def save_plots(self, directory) -> list[Path]:
        """The run's plots (loss annotated with its diagnosis, accuracy, update ratios, activations, weights)."""
        s = self.solver
        return save_run_plots(s.loss_history, s.train_acc_history, s.val_acc_history, self.monitor_history,
                              self.diagnoses, directory)


def monitored_training(config: TrainConfig, out=None, *, data=None, callbacks=(), monitor_every: int = MONITOR_EVERY,
                       verbose: bool = True, checkpoint_info=None) -> MonitoredRun:
    """Train ``config`` with the training monitors sampled every ``monitor_every`` iterations (0: off), then diagnose.

    ``out``, ``data``, ``callbacks``, ``verbose`` and ``checkpoint_info`` as ``train_model``.
    """
    check_int("monitored_training", "monitor_every", monitor_every, NON_NEGATIVE)
    monitor = TrainingMonitor(every=monitor_every) if monitor_every else None
    result = train_model(config, out, data=data, callbacks=[*callbacks, *([monitor] if monitor else [])],
                         verbose=verbose, checkpoint_info=checkpoint_info)
    diagnoses = diagnose_solver(result.solver, monitor, settings=config.to_dict())
    return MonitoredRun(result, monitor.history if monitor else None, diagnoses)


@dataclass
class TrainJob:
    """What ``train_job`` did: the monitored run, the plots written and the run's id in the store (or None)."""

    run: MonitoredRun
    plots: list = field(default_factory=list)
    run_id: int | None = None


def train_job(config: TrainConfig, out, *, store=None, plots=None, monitor_every: int = MONITOR_EVERY,
              callbacks=(), verbose: bool = True, fresh: bool = False) -> TrainJob:
    """``babysit train``: a monitored run checkpointed into ``out``; plots into ``plots``; recorded in ``store``.

    The store (a path, created if missing) is opened and the run recorded 'running' before any
    training, so a file that is not a run store fails at once and a killed run shows as interrupted.
    ``out`` holding the checkpoint of a training with other settings is refused unless ``fresh``
    (``check_replaceable``): two runs are never mixed in one folder.
    """
    for name, path in (("out", out), ("plots", plots)):
        if path is not None:
            check_directory("train_job", name, path)
    if out is not None and not fresh:
        check_replaceable(out, config.to_dict())
    with _open_store(store) as runs:
        settings = {k: v for k, v in config.to_dict().items() if v is not None}  # unset options: defaults
        run_id = runs.start_run(None, None, None, settings) if runs is not None else None
        run = monitored_training(config, out, callbacks=callbacks, monitor_every=monitor_every, verbose=verbose)
        written = run.save_plots(plots) if plots is not None else []
        if runs is not None:
            record_run(runs, run_id, run.record(), extra_metrics=train_run_extras(config))
    return TrainJob(run, written, run_id)


def _open_store(path):
    if path is None:
        return contextlib.nullcontext(None)
    from babysit.store import RunStore

    return RunStore(path)
