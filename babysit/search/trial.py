"""One trial of a search: a pure, picklable function from a task to a ``RunRecord``.

``run_trial(TrialTask(data=DataRef('digits'), model='fc:100', params={'lr': 1e-3, 'reg': 1e-2},
epochs=5, seed=123))`` prepares the data (``babysit.data.prepare``, once per process), turns the
task into a ``TrainConfig`` (its hyperparameters are TrainConfig fields: lr, reg, hidden,
horizon, ...; the rest keep the recipe's defaults, the lecture's) and trains it with the one
recipe, ``babysit.train.train_model``, whose explosion guard ends a run whose cost passes 3x the
first ('exploded') or turns NaN/inf ('diverged'). The record holds plain values only, so it
travels back from a worker process or a Dask cluster unchanged. A trial that raises returns
status 'failed' with the error; it never raises itself.

A search from a pretrained model (``DataRef.finetune``, ``babysit search --from``) trains each
trial with the finetune recipe, ``babysit.train.finetune.finetune_model``, instead.

What is search-specific lives here: the task, per-trial seeds, the per-process data cache and
turning a crash into a result.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from babysit.nn.kernels import active_kernels
from babysit.search.rungs import StopAfter
from babysit.train.outcome import RunRecord


@dataclass(frozen=True)
class FinetuneRef:
    """A search that finetunes: the pretrained checkpoint (a resolved path, and the name it was given by) and
    the settings every trial shares (TrainConfig's finetune fields; lr, lr_mult, reg are searched)."""

    base: str
    name: str
    strategy: str = "head"
    freeze_epochs: int = 0
    train_bn: bool = False

    def settings(self) -> dict:
        """The TrainConfig fields this sets."""
        return {"finetune_from": self.name, "strategy": self.strategy, "freeze_epochs": self.freeze_epochs,
                "train_bn": self.train_bn}


@dataclass(frozen=True)
class DataRef:
    """Where a trial's data comes from: a ``--data`` source spec, the split seed and the preprocessing.

    With ``finetune`` (a FinetuneRef), every trial finetunes that checkpoint: the data is loaded at its
    input size and preprocessed with its own fitted preprocessing (``preprocess`` is unused).
    """

    source: str = "digits"
    seed: int = 0
    preprocess: str = "standardize"
    finetune: FinetuneRef | None = None

    def __post_init__(self):
        if isinstance(self.finetune, Mapping):  # from a stored search's JSON
            object.__setattr__(self, "finetune", FinetuneRef(**self.finetune))

    def to_json(self) -> dict:
        """JSON of the ref; no 'finetune' key without finetuning, so searches stored before it resume unchanged."""
        obj = dataclasses.asdict(self)
        if self.finetune is None:
            del obj["finetune"]
        return obj


_CACHE: dict[DataRef, tuple] = {}


def prepared(ref: DataRef):
    """``babysit.data.prepare`` of ``ref``, once per process (a worker serves one search: one data set is kept)."""
    cached = _CACHE.get(ref)
    if cached is None:
        if ref.finetune is not None:
            from babysit.train.finetune import finetune_data

            cached = finetune_data(ref.finetune.base, ref.source, ref.seed, base_name=ref.finetune.name)
        else:
            from babysit.data import prepare

            cached = prepare(ref.source, ref.preprocess, ref.seed)
        _CACHE.clear()
        _SUBSETS.clear()
        _CACHE[ref] = cached
    return cached


_SUBSETS: dict[tuple[DataRef, int], tuple] = {}


def subset(ref: DataRef, examples: int | None):
    """``prepared(ref)`` with its training split cut to a stratified subset of ``examples`` rows
    (``Dataset.stratified_sample``: every class as evenly as the split allows; the rows depend only
    on the data and the count, so every trial of a stage trains on the same ones); the whole data
    when ``examples`` is None or at least the split. Cached once per process, as ``prepared``."""
    dataset, preprocessor = data = prepared(ref)
    if examples is None or examples >= len(dataset.y_train):
        return data
    key = (ref, int(examples))
    cached = _SUBSETS.get(key)
    if cached is None:
        X, y = dataset.stratified_sample(int(examples), np.random.default_rng([ref.seed, int(examples)]))
        cached = (dataclasses.replace(dataset, X_train=X, y_train=y), preprocessor)
        _SUBSETS.clear()
        _SUBSETS[key] = cached
    return cached


@dataclass(frozen=True)
class TrialTask:
    """Everything one trial needs: data, ``--model`` spec, hyperparameters, epochs, seed.

    ``stage`` and ``index`` identify the trial within its search (for the store and the output).
    ``stop_after``: end after this many epochs (a search rung, babysit.search.rungs); the schedule
    stays that of ``epochs``, so the run is the full trial's beginning. ``save_state``: a file path
    where a rung run saves its training state at the rung (``babysit.train.training_state``), and a
    promoted trial's continuation after its epochs (but the last) once ``save_every_s`` have passed
    since its last save (a search killed mid-way resumes it from there);
    ``resume_state``: the file a promoted trial continues from (a missing or unreadable one: it
    trains from epoch 0 instead and its ``resume_note`` says why; the results are the same).
    ``train_examples``: train on this stratified subset of the training split (``subset``; None or
    at least the split: all of it); validation is always on the whole validation split.
    """

    data: DataRef
    model: str
    params: Mapping = field(default_factory=dict)
    epochs: int = 5
    seed: int = 0
    stage: int | None = None
    index: int | None = None
    stop_after: int | None = None
    save_state: str | None = None
    resume_state: str | None = None
    train_examples: int | None = None
    save_every_s: float = 0.0


def trial_seed(search_seed: int, stage: int, index: int) -> int:
    """The seed of trial ``index`` of ``stage``: a function of the three numbers only (any executor, any order)."""
    return int(np.random.SeedSequence([int(search_seed), int(stage), int(index)]).generate_state(1)[0])


def trial_config(data: DataRef, model: str, params: Mapping, epochs: int, seed: int):
    """The ``TrainConfig`` of a trial (or of a longer run of its configuration): ``params`` over the defaults."""
    from babysit.train.recipe import TrainConfig

    settings = data.finetune.settings() if data.finetune is not None else {}
    base = TrainConfig(data=data.source, preprocess=data.preprocess, seed=data.seed, model=model, **settings)
    return base.with_params(params, epochs=int(epochs), run_seed=int(seed))


# The training monitors of a trial sample every this many iterations: about 1% of a trial (every=10 costs 4%
# of an epoch, benchmarks/bench_monitor.py; docs/benchmarks.md, "Search trials record the monitors"), so that
# every trial's page shows its update ratios and activations, not only the final run's.
TRIAL_MONITOR_EVERY = 50


def run_trial(task: TrialTask, monitor_every: int = TRIAL_MONITOR_EVERY) -> RunRecord:
    """Train one configuration; never raises.

    The record's metrics: val_acc (the best epoch's: the Solver keeps that model, as the
    lecture's trainer does), final_val_acc, train_acc, loss, epochs, iterations, seconds
    (training only), data_seconds (preparing the data: 0 when this process had it cached),
    task_seconds (all this call took: data, training, state files),
    stop_reason, host, pid, kernels, val_examples, train_examples; its series: loss, train_acc,
    val_acc, lr and the training monitors' (``monitor_series``, ``histogram_series``) sampled
    every ``monitor_every`` iterations (0: none); its findings: the end-of-run diagnoses.
    """
    start = time.perf_counter()
    try:
        data = subset(task.data, task.train_examples)
        loaded = time.perf_counter()
        config = trial_config(task.data, task.model, task.params, task.epochs, task.seed)
        result, monitor, resume_note = _train(task, config, data, monitor_every)
        dataset = data[0]
        extra = {**_where(), "data_seconds": loaded - start, "task_seconds": time.perf_counter() - start,
                 "val_examples": int(len(dataset.y_val)),
                 "train_examples": int(len(dataset.y_train)), **({"resume_note": resume_note} if resume_note else {})}
        if monitor is None:
            return result.record(extra_metrics=extra)
        from babysit.doctor import diagnose_solver
        from babysit.doctor.monitor_series import histogram_series, monitor_series

        return result.record(extra_metrics=extra, findings=diagnose_solver(result.solver, monitor),
                             series={**monitor_series(monitor.history), **histogram_series(monitor.history)})
    except Exception as exc:  # a crashing trial is a result ('failed'), the search goes on
        return failed_result(exc, time.perf_counter() - start, detail=traceback.format_exc(limit=6))


def _train(task: TrialTask, config, data, monitor_every: int):
    """(TrainResult, its monitor, resume_note): the trial's training, continued from ``task.resume_state``
    when that state can be read, else from epoch 0 (resume_note says why; None when it continued or
    there was nothing to continue)."""
    from babysit.errors import CheckpointError
    from babysit.train.recipe import train_model
    from babysit.train.training_state import SaveTrainingState

    def callbacks(monitor):
        out = [monitor] if monitor else []
        if task.stop_after is not None:
            if task.save_state is not None:  # before StopAfter: the state is the rung's, whatever ends the run
                # (not required: a state that cannot be written, a full disk, costs its continuation time only)
                out.append(SaveTrainingState(task.save_state, at_epochs=[task.stop_after], required=False))
            out.append(StopAfter(task.stop_after))
        elif task.save_state is not None and task.epochs > 1:  # a continuation: killed, it resumes at its last save
            out.append(SaveTrainingState(task.save_state, at_epochs=range(1, task.epochs),
                                         every_seconds=task.save_every_s, required=False))
        return out

    def fit(monitor, resume_state=None):
        if task.data.finetune is not None:  # `babysit search --from`: every trial finetunes the base model
            from babysit.train.finetune import finetune_model

            return finetune_model(task.data.finetune.base, config, data=data, verbose=False,
                                  callbacks=callbacks(monitor), resume_state=resume_state)
        return train_model(config, data=data, verbose=False, callbacks=callbacks(monitor), resume_state=resume_state)

    note = None
    if task.resume_state is not None:
        monitor = _monitor(monitor_every)
        try:
            return fit(monitor, task.resume_state), monitor, None
        except CheckpointError as exc:  # missing, truncated, another training's: the same results from epoch 0
            note = f"could not continue from the rung's training state ({exc}); trained from epoch 0 instead"
    monitor = _monitor(monitor_every)
    return fit(monitor), monitor, note


def _monitor(every: int):
    """The trial's TrainingMonitor (None when ``every`` is 0)."""
    if not every:
        return None
    from babysit.doctor import TrainingMonitor

    return TrainingMonitor(every=every)


def failed_result(exc: BaseException | str, seconds: float = 0.0, detail: str | None = None) -> RunRecord:
    """The record of a trial that raised (or whose worker died): status 'failed' and the error in one line."""
    error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return RunRecord("failed", {"epochs": 0, "iterations": 0, "seconds": float(seconds), **_where()},
                     error=error, traceback=detail)


def _where() -> dict:
    """Where a trial ran: host, process, and the kernels (babysit.nn.kernels) that set its pace."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "kernels": active_kernels()}
