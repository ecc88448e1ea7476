"""One training run from plain settings: load, preprocess, build, train, checkpoint.

``train_model(TrainConfig(data='digits', model='fc:100'), out='runs/a')`` is what
``babysit train`` does. (The search's trials and ``babysit run``'s final training build
their Solver with ``babysit.search.trial.make_solver`` instead: they share one prepared data set.)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from babysit.train.callbacks import Checkpoint
from babysit.train.model_spec import build_from_spec, parse_model_spec
from babysit.train.solver import Solver

CHECKPOINT_NAME = "model.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one run (the CLI flags of ``babysit train``); JSON-able via ``to_dict``.

    lr_decay None means the lecture's 0.95, or 1.0 when a ``schedule`` is given.
    """

    data: str = "digits"
    model: str = "fc:100"
    activation: str | None = None
    init: str | None = None
    weight_scale: float | None = None
    normalization: str | None = None
    dropout: float = 0.0
    update: str = "momentum"
    lr: float = 1e-2
    reg: float = 0.0
    lr_decay: float | None = None
    schedule: str | None = None
    epochs: int = 10
    batch_size: int = 100
    seed: int = 0
    # Per-feature standardization gives the unit-scale inputs that the default He/Xavier init
    # assumes; the lecture's mean_image alone leaves pixels at +-128 (it pairs with a tiny init).
    preprocess: str = "standardize"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What a run produced: the Solver (histories, status), model, fitted preprocessor,
    the data set, the checkpoint path (None when nothing was saved) and wall seconds."""

    solver: Solver
    model: object
    preprocessor: object
    dataset: object
    checkpoint: Path | None
    seconds: float


def train_model(config: TrainConfig, out=None, *, callbacks=(), verbose: bool = True) -> TrainResult:
    """Train one model as ``config`` says; with ``out``, keep the best one in ``out/model.safetensors``.

    The checkpoint is written (atomically) whenever validation accuracy improves,
    so a run that explodes early leaves any earlier checkpoint in ``out`` intact.
    """
    from babysit.data import Preprocessor, load_source

    spec = parse_model_spec(config.model)  # fail on a bad spec before loading any data
    preprocessor = Preprocessor.from_spec(config.preprocess)
    dataset = load_source(config.data, seed=config.seed)
    data = {
        "X_train": preprocessor.fit_transform(dataset.X_train), "y_train": dataset.y_train,
        "X_val": preprocessor.transform(dataset.X_val), "y_val": dataset.y_val,
    }
    model = build_from_spec(
        spec, input_shape=data["X_train"].shape[1:], num_classes=dataset.num_classes,
        activation=config.activation, init=config.init, weight_scale=config.weight_scale,
        normalization=config.normalization, dropout=config.dropout, reg=config.reg, seed=config.seed,
    )
    callbacks = list(callbacks)
    checkpoint = None
    if out is not None:
        checkpoint = Checkpoint(
            Path(out) / CHECKPOINT_NAME, class_names=dataset.class_names, preprocessor=preprocessor,
            train_config=config.to_dict(),
        )
        callbacks.append(checkpoint)
    lr_decay = config.lr_decay if config.lr_decay is not None else (1.0 if config.schedule else 0.95)
    solver = Solver(
        model, data, update_rule=config.update, optim_config={"learning_rate": config.lr},
        lr_decay=lr_decay, schedule=config.schedule, batch_size=config.batch_size,
        num_epochs=config.epochs, seed=config.seed, callbacks=callbacks, verbose=verbose,
    )
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    saved = checkpoint.path if checkpoint is not None and checkpoint.saved else None
    return TrainResult(solver, model, preprocessor, dataset, saved, seconds)
