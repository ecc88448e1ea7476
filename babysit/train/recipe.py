"""The one training recipe: settings -> model + Solver + callbacks -> result.

``train_model(TrainConfig(data='digits', model='fc:100'), out='runs/a')`` is what ``babysit train``
does, and every other training goes through the same functions: each search trial
(``TrainConfig.with_params``), the final training of ``babysit run``, and finetuning next.
``TrainConfig``'s defaults are the lecture's (the momentum update, a learning-rate decay of
0.95 per epoch, minibatches of 100): they are written here and nowhere else.

Seeds: ``seed`` splits the data; the model's init draws from ``run_seed`` (default: ``seed``)
and the minibatch order from ``run_seed + 1``, separate streams, so a search gives each trial
its own ``run_seed`` while all trials share one split.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babysit.errors import ConfigError
from babysit.nn.kernels import prepare_kernels
from babysit.train.callbacks import Checkpoint
from babysit.train.model_spec import ModelSpec, build_from_spec, parse_model_spec
from babysit.train.optim import prepare_update_kernels
from babysit.train.outcome import run_record
from babysit.train.solver import Solver
from babysit.validation import (
    AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, UNIT_OPEN, Interval, check_bool, check_choice, check_float, check_int,
    check_optional_float, check_optional_int, invalid, reject_unknown,
)

CHECKPOINT_NAME = "model.safetensors"
FINITE_NON_NEGATIVE = Interval(0.0, math.inf, "left")  # [0, inf): reg=inf is no regularization strength
LECTURE_LR_DECAY = 0.95  # the lecture's learning_rate_decay, per epoch, when no schedule is given
TRAIN_ACC_ROWS = 1000  # rows of the training split each epoch's train accuracy is measured on


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run; JSON-able via ``to_dict``. Checked when built.

    Data: data (a source spec), preprocess, seed (of the split, and of init and minibatches
    unless ``run_seed`` is given). Model: model (``fc:100,100`` / ``conv:32,64``), hidden (units
    of every hidden affine layer, overriding the spec's), activation, init, weight_scale,
    normalization, dropout. Optimization: update, lr, momentum (None: the rule's default), reg,
    lr_decay (None: 0.95, or 1 with a ``schedule``), schedule, horizon (spread the decay of a
    ``horizon``-epoch run over ``epochs``: a short trial ends as annealed as the long run it
    stands for), epochs, batch_size, run_seed.
    Finetuning (``babysit.train.finetune``; only with ``finetune_from``, a checkpoint path or zoo
    name): strategy (head | top:K | all | scratch), lr_mult (the rate factor of pretrained blocks
    that train), freeze_epochs (classifier-only epochs first), train_bn. ``to_dict`` leaves them
    out when ``finetune_from`` is None, so the records of plain runs are unchanged.
    """

    data: str = "digits"
    preprocess: str = "standardize"
    seed: int = 0
    model: str = "fc:100"
    hidden: int | None = None
    activation: str | None = None
    init: str | None = None
    weight_scale: float | None = None
    normalization: str | None = None
    dropout: float = 0.0
    update: str = "momentum"
    lr: float = 1e-2
    momentum: float | None = None
    reg: float = 0.0
    lr_decay: float | None = None
    schedule: str | None = None
    horizon: int | None = None
    epochs: int = 10
    batch_size: int = 100
    run_seed: int | None = None
    finetune_from: str | None = None
    strategy: str = "head"
    lr_mult: float = 1.0
    freeze_epochs: int = 0
    train_bn: bool = False

    def __post_init__(self):
        from babysit.train.optim import UPDATE_RULES

        owner = "TrainConfig"
        check_int(owner, "seed", self.seed, NON_NEGATIVE)
        check_optional_int(owner, "run_seed", self.run_seed, NON_NEGATIVE)
        check_optional_int(owner, "hidden", self.hidden, AT_LEAST_ONE)
        check_float(owner, "dropout", self.dropout, UNIT_OPEN)
        check_choice(owner, "update", self.update, UPDATE_RULES)
        check_float(owner, "lr", self.lr, POSITIVE)
        check_optional_float(owner, "momentum", self.momentum, UNIT_OPEN)
        check_float(owner, "reg", self.reg, FINITE_NON_NEGATIVE)
        check_optional_float(owner, "lr_decay", self.lr_decay, Interval(0.0, 1.0, "right"))
        check_optional_float(owner, "weight_scale", self.weight_scale, POSITIVE)
        check_optional_int(owner, "horizon", self.horizon, AT_LEAST_ONE)
        check_int(owner, "epochs", self.epochs, AT_LEAST_ONE)
        check_int(owner, "batch_size", self.batch_size, AT_LEAST_ONE)
        self.model_spec()  # a bad --model fails before any data is read
        if self.finetune_from is not None:
            if not isinstance(self.finetune_from, str) or not self.finetune_from.strip():
                raise invalid(owner, "finetune_from", "a checkpoint path or zoo name, or None", self.finetune_from)
            self.finetune_spec()  # checks strategy, lr_mult, freeze_epochs, train_bn
        else:
            set_ = [f.name for f in FINETUNE_FIELDS if getattr(self, f.name) != f.default]
            if set_:
                raise ConfigError(f"{', '.join(set_)} of {owner} apply to finetuning only: give finetune_from "
                                  "(the pretrained checkpoint) too, or leave them at their defaults",
                                  parameter=set_[0], owner=owner)

    def model_spec(self) -> ModelSpec:
        """The parsed ``model`` with ``hidden`` applied."""
        return parse_model_spec(self.model).with_hidden(self.hidden)

    def with_params(self, params: Mapping, **settings) -> TrainConfig:
        """This config with a search's hyperparameters (names of TrainConfig fields) and ``settings`` applied."""
        reject_unknown("TrainConfig.with_params", params, TUNABLE)
        return dataclasses.replace(self, **dict(params), **settings)

    def finetune_spec(self):
        """The ``babysit.train.finetune.FinetuneSpec`` of the finetune fields (it checks them)."""
        from babysit.train.finetune import FinetuneSpec

        check_bool("TrainConfig", "train_bn", self.train_bn)
        return FinetuneSpec(strategy=self.strategy, lr_mult=self.lr_mult, freeze_epochs=self.freeze_epochs,
                            train_bn=self.train_bn)

    @property
    def init_seed(self) -> int:
        return self.seed if self.run_seed is None else self.run_seed

    def epoch_decay(self) -> float:
        """The learning-rate factor per epoch: ``lr_decay`` (its default), spread over ``horizon`` when given."""
        decay = self.lr_decay if self.lr_decay is not None else (1.0 if self.schedule else LECTURE_LR_DECAY)
        if self.horizon is None:
            return decay
        return decay ** (self.horizon / self.epochs)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if self.finetune_from is None:
            for f in FINETUNE_FIELDS:
                del out[f.name]
            del out["finetune_from"]
        return out


# The finetune settings besides finetune_from (see TrainConfig).
FINETUNE_FIELDS = tuple(f for f in dataclasses.fields(TrainConfig)
                        if f.name in ("strategy", "lr_mult", "freeze_epochs", "train_bn"))
# The hyperparameters a search may vary: every setting but the data, the checkpoint it starts from and the seeds.
TUNABLE = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("data", "preprocess", "seed",
                                                                                    "run_seed", "finetune_from"))


@dataclass
class TrainResult:
    """What a run produced: the Solver (histories, status, ``metrics()``), the model, the fitted
    preprocessor, the (preprocessed) data set, and the checkpoint path (None when nothing was saved)."""

    config: TrainConfig
    solver: Solver
    model: object
    preprocessor: object
    dataset: object
    checkpoint: Path | None

    @property
    def seconds(self) -> float:
        return self.solver.seconds

    def record(self, *, extra_metrics: Mapping | None = None, series: Mapping | None = None, findings=()):
        """This run as a ``RunRecord`` (``babysit.train.outcome.run_record``), its checkpoint as an artifact."""
        artifacts = [("checkpoint", self.checkpoint)] if self.checkpoint is not None else []
        return run_record(self.solver, extra_metrics=extra_metrics, series=series, findings=findings,
                          artifacts=artifacts)


def build_model(config: TrainConfig, input_shape, num_classes: int, dtype=np.float32):
    """The babysit.nn model ``config`` describes, for examples of ``input_shape`` and ``num_classes`` classes."""
    return build_from_spec(
        config.model_spec(), input_shape=input_shape, num_classes=num_classes, activation=config.activation,
        init=config.init, weight_scale=config.weight_scale, normalization=config.normalization,
        dropout=config.dropout, reg=config.reg, dtype=dtype, seed=config.init_seed,
    )


def make_solver(config: TrainConfig, model, data, *, callbacks=(), verbose: bool = False, lr_mults=None) -> Solver:
    """The Solver ``config`` describes for ``model`` on ``data`` (a Dataset or the cs231n data dict);
    lr_mults, per-parameter learning-rate multipliers (finetuning's pretrained layers)."""
    optim_config = {"learning_rate": config.lr}
    if config.momentum is not None:
        optim_config["momentum"] = config.momentum
    return Solver(
        model, data, update_rule=config.update, optim_config=optim_config, lr_decay=config.epoch_decay(),
        schedule=config.schedule, batch_size=config.batch_size, num_epochs=config.epochs,
        num_train_samples=TRAIN_ACC_ROWS, seed=np.random.default_rng(config.init_seed + 1),
        callbacks=list(callbacks), verbose=verbose, lr_mults=lr_mults,
    )


def train_model(config: TrainConfig, out=None, *, data=None, callbacks=(), verbose: bool = True,
                checkpoint_info: Mapping | None = None, model=None, lr_mults: Mapping | None = None,
                resume_state=None) -> TrainResult:
    """Train one model as ``config`` says; with ``out``, keep the best one in ``out/model.safetensors``.

    Inputs: data, the ``(dataset, preprocessor)`` of ``babysit.data.prepare`` when the caller has
    it already (a search, ``babysit run``), else it is prepared from the config; callbacks,
    besides the Checkpoint; checkpoint_info, extra keys for the checkpoint's train_config; model, a
    model built already (finetuning's pretrained one; default: ``build_model(config, ...)``);
    lr_mults, per-parameter learning-rate multipliers; resume_state, a training state file
    (``babysit.train.training_state``) of this same training: the run goes on from its epoch.
    The checkpoint is written (atomically) whenever validation accuracy improves, so a run that
    explodes early leaves any earlier checkpoint in ``out`` intact.
    """
    if data is None:
        from babysit.data import prepare

        data = prepare(config.data, config.preprocess, config.seed)
    dataset, preprocessor = data
    if model is None:
        model = build_model(config, dataset.input_shape, dataset.num_classes)
    callbacks = list(callbacks)
    checkpoint = None
    if out is not None:
        checkpoint = Checkpoint(
            Path(out) / CHECKPOINT_NAME, class_names=dataset.class_names, preprocessor=preprocessor,
            train_config={**config.to_dict(), **(checkpoint_info or {})},
        )
        callbacks.insert(0, checkpoint)
    # numba's one-time compile or cache load, when its kernels are chosen, before the Solver's clock starts: the
    # search paces its stages from a timed epoch (babysit.nn.kernels)
    prepare_kernels()
    prepare_update_kernels()
    solver = make_solver(config, model, dataset, callbacks=callbacks, verbose=verbose, lr_mults=lr_mults)
    if resume_state is not None:
        from babysit.train.training_state import restore_training_state

        restore_training_state(resume_state, solver)
    # Probing absurd learning rates overflows by design: the explosion guard judges the loss, not NumPy warnings.
    with np.errstate(all="ignore"):
        solver.train()
    saved = checkpoint.path if checkpoint is not None and checkpoint.saved else None
    return TrainResult(config, solver, model, preprocessor, dataset, saved)


def model_factory(config: TrainConfig, input_shape, num_classes: int):
    """``make(dtype=np.float32) -> model``: fresh models of ``config`` for the doctor's checks (float64 for
    the gradient check), each initialized from the same seed."""

    def make(dtype=np.float32):
        return build_model(config, input_shape, num_classes, dtype=dtype)

    return make
