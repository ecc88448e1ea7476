"""One trial of a search: a pure, picklable function from settings to a plain dict of results.

``run_trial(TrialTask(data=DataRef('digits'), model='fc:100', params={'lr': 1e-3, 'reg': 1e-2},
epochs=5, seed=123))`` loads (and caches, once per process) the preprocessed data, builds the
model, trains it with the Solver and its explosion guard (cost > 3x the first cost stops the
run: 'exploded'; a NaN/inf cost: 'diverged') and returns plain Python values only, so the
result travels back from a worker process or a Dask cluster unchanged. A trial that raises
returns status 'failed' with the error; it never raises itself.

Hyperparameters a trial understands (names of ``babysit.search.HYPERPARAMETERS``): lr, reg,
weight_scale, dropout, lr_decay, momentum, horizon, hidden (units of every hidden layer),
batch_size, update, init, activation, normalization. Unset ones take ``TRIAL_DEFAULTS``: the
lecture's momentum update, lr_decay 0.95, batch size 100.

``horizon`` fights the short-horizon bias of coarse stages: a 5-epoch trial with the per-epoch
decay of an 80-epoch run ends with a rate 16x too high for its length, and so prefers rates that
are too low for the long run. With ``horizon=80`` the trial compresses the 80-epoch schedule into
its own epochs (decay ``lr_decay ** (80 / 5)`` per epoch) and ends as annealed as the long run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from babysit.errors import ConfigError

# The lecture's coarse search: trainer.train(..., update='momentum', learning_rate_decay=0.9x, batch_size=100)
TRIAL_DEFAULTS = {"update": "momentum", "lr_decay": 0.95, "batch_size": 100, "reg": 0.0, "lr": 1e-3}
# Rows of the training split the per-epoch train accuracy is measured on (the Solver's default).
TRAIN_ACC_ROWS = 1000


@dataclass(frozen=True)
class DataRef:
    """Where a trial's data comes from: a ``--data`` source spec, the split seed and the preprocessing.

    Workers load and preprocess the data themselves (once per process, see ``prepared_data``);
    the preprocessing is fitted on the training split only.
    """

    source: str = "digits"
    seed: int = 0
    preprocess: str = "standardize"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class PreparedData:
    """A loaded, split and preprocessed data set: float32 X arrays, int64 labels, the fitted preprocessor."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    preprocessor: object
    load_seconds: float

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])

    def solver_data(self) -> dict:
        return {"X_train": self.X_train, "y_train": self.y_train, "X_val": self.X_val, "y_val": self.y_val}


_CACHE: dict[DataRef, PreparedData] = {}


def prepared_data(ref: DataRef) -> PreparedData:
    """The data ``ref`` names, loaded and preprocessed once per process (the last one is kept)."""
    cached = _CACHE.get(ref)
    if cached is not None:
        return cached
    from babysit.data import Preprocessor, load_source

    start = time.perf_counter()
    preprocessor = Preprocessor.from_spec(ref.preprocess)
    dataset = load_source(ref.source, seed=ref.seed)
    X_train = preprocessor.fit_transform(dataset.X_train)
    prepared = PreparedData(
        X_train, dataset.y_train, preprocessor.transform(dataset.X_val), dataset.y_val,
        preprocessor.transform(dataset.X_test) if len(dataset.y_test) else dataset.X_test.astype(np.float32),
        dataset.y_test, list(dataset.class_names), preprocessor, time.perf_counter() - start,
    )
    _CACHE.clear()  # one data set per process: a worker serves one search at a time
    _CACHE[ref] = prepared
    return prepared


@dataclass(frozen=True)
class TrialTask:
    """Everything one trial needs: data, ``--model`` spec, hyperparameters, epochs, seed.

    ``stage`` and ``index`` identify the trial within its search (for the store and the output).
    """

    data: DataRef
    model: str
    params: Mapping = field(default_factory=dict)
    epochs: int = 5
    seed: int = 0
    stage: int | None = None
    index: int | None = None


def trial_seed(search_seed: int, stage: int, index: int) -> int:
    """The seed of trial ``index`` of ``stage``: a function of the three numbers only (any executor, any order)."""
    return int(np.random.SeedSequence([int(search_seed), int(stage), int(index)]).generate_state(1)[0])


def settings(params: Mapping) -> dict:
    """``params`` over ``TRIAL_DEFAULTS``; ConfigError for a name no trial understands."""
    from babysit.search.hyperparameters import hyperparameter

    for name in params:
        hyperparameter(name)  # raises, naming the known ones
    return {**TRIAL_DEFAULTS, **params}


def model_spec_with_hidden(model: str, hidden: int | None) -> str:
    """``model`` with every hidden affine layer set to ``hidden`` units (``hidden`` None: unchanged)."""
    from babysit.train.model_spec import ModelSpec, parse_model_spec

    spec = parse_model_spec(model)
    if hidden is None:
        return str(spec)
    if not spec.hidden_dims:
        raise ConfigError(
            f"--hidden: the model {spec} has no hidden affine layer to size; use e.g. --model fc:100 "
            f"(got hidden={hidden})"
        )
    return str(ModelSpec(spec.kind, (int(hidden),) * len(spec.hidden_dims), spec.conv_channels))


def build_trial_model(model: str, params: Mapping, input_shape, num_classes: int, seed: int):
    """The babysit.nn model for ``model`` (a --model spec) with the trial's hyperparameters applied."""
    from babysit.train.model_spec import build_from_spec

    s = settings(params)
    return build_from_spec(
        model_spec_with_hidden(model, s.get("hidden")), input_shape=input_shape, num_classes=num_classes,
        activation=s.get("activation"), init=s.get("init"), weight_scale=s.get("weight_scale"),
        normalization=s.get("normalization"), dropout=s.get("dropout", 0.0), reg=s["reg"], seed=seed,
    )


def make_solver(model, data: Mapping, params: Mapping, epochs: int, seed: int, *, callbacks=(), verbose=False):
    """A Solver set up as the trial's hyperparameters say (update rule, lr, momentum, lr decay, batch size)."""
    from babysit.train.solver import Solver

    s = settings(params)
    optim_config = {"learning_rate": float(s["lr"])}
    if "momentum" in s:
        optim_config["momentum"] = float(s["momentum"])
    return Solver(
        model, data, update_rule=s["update"], optim_config=optim_config, lr_decay=epoch_decay(s, epochs),
        batch_size=int(s["batch_size"]), num_epochs=int(epochs), num_train_samples=TRAIN_ACC_ROWS,
        seed=np.random.default_rng(seed), callbacks=list(callbacks), verbose=verbose,
    )


def epoch_decay(params: Mapping, epochs: int) -> float:
    """The per-epoch lr factor of a run of ``epochs`` epochs: ``lr_decay``, spread over ``horizon`` when given."""
    decay = float(params.get("lr_decay", TRIAL_DEFAULTS["lr_decay"]))
    horizon = params.get("horizon")
    if horizon is None:
        return decay
    return decay ** (float(horizon) / max(int(epochs), 1))


def run_trial(task: TrialTask) -> dict:
    """Train one configuration; never raises.

    Returns a dict of plain values: status ('finished' | 'exploded' | 'diverged' | 'failed'),
    error (text or None), val_acc (the best epoch's validation accuracy: the Solver keeps that
    model, as the lecture's trainer does), final_val_acc, train_acc (last epoch), loss (last
    iteration), epochs (completed), iterations, seconds (training only), data_seconds (loading and
    preprocessing the data: 0 when this process had it cached), stop_reason, host, pid, and series:
    {'loss': [per iteration], 'train_acc': [per epoch], 'val_acc': [per epoch],
    'lr': [[iteration, lr] where the rate changes]}.
    """
    start = time.perf_counter()
    try:
        # Probing absurd learning rates overflows by design: the guard judges the loss, not NumPy warnings.
        with np.errstate(all="ignore"):
            return _train(task, start)
    except Exception as exc:  # a crashing trial is a result ('failed'), the search goes on
        return failed_result(exc, time.perf_counter() - start, detail=traceback.format_exc(limit=6))


def _train(task: TrialTask, start: float) -> dict:
    data = prepared_data(task.data)
    loaded = time.perf_counter()
    model = build_trial_model(task.model, task.params, data.input_shape, data.num_classes, seed=task.seed)
    # separate streams for init (above) and minibatches, both from the trial's seed
    solver = make_solver(model, data.solver_data(), task.params, task.epochs, seed=task.seed + 1)
    solver.train()
    result = solver_result(solver, time.perf_counter() - loaded)
    # a worker's first trial loads the data: kept apart so 'seconds' measures training alone
    result["data_seconds"] = loaded - start
    return result


def solver_result(solver, seconds: float) -> dict:
    """The result dict of ``run_trial`` from a trained Solver."""
    return {
        "status": solver.status,
        "error": None,
        "stop_reason": solver.stop_reason,
        "val_acc": float(solver.best_val_acc) if solver.val_acc_history else None,
        "final_val_acc": _last(solver.val_acc_history),
        "train_acc": _last(solver.train_acc_history),
        "loss": _finite_or_none(solver.loss),
        "epochs": int(solver.epoch),
        "iterations": int(solver.iteration),
        "seconds": float(seconds),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "series": {
            "loss": [float(v) for v in solver.loss_history],
            "train_acc": [float(v) for v in solver.train_acc_history],
            "val_acc": [float(v) for v in solver.val_acc_history],
            "lr": lr_changes(solver.lr_history),
        },
    }


def failed_result(exc: BaseException | str, seconds: float = 0.0, detail: str | None = None) -> dict:
    """The result of a trial that raised (or whose worker died): status 'failed' and the error in one line."""
    error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return {
        "status": "failed", "error": error, "stop_reason": None, "val_acc": None, "final_val_acc": None,
        "train_acc": None, "loss": None, "epochs": 0, "iterations": 0, "seconds": float(seconds),
        "host": socket.gethostname(), "pid": os.getpid(),
        "series": {"loss": [], "train_acc": [], "val_acc": [], "lr": []}, "traceback": detail,
    }


def lr_changes(lr_history) -> list[list]:
    """[[iteration (1-based), lr], ...] at the first iteration and wherever the rate changes."""
    out, last = [], None
    for i, lr in enumerate(lr_history, start=1):
        if lr != last:
            out.append([i, float(lr)])
            last = lr
    return out


def _last(values):
    return float(values[-1]) if values else None


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None
