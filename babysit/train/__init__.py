"""babysit.train: the Solver (minibatch loop), update rules, schedules, callbacks, checkpoints,
the lecture's ClassifierTrainer and one-call training runs (``train_model``)."""

from babysit.train.callbacks import Callback, Checkpoint, Deadline, EpochPrinter, ExplosionGuard, ProgressBar
from babysit.train.checkpoint import checkpoint_meta, checkpoint_paths, load_checkpoint, save_checkpoint
from babysit.train.evaluate import evaluate, evaluate_checkpoint
from babysit.train.model_spec import ModelSpec, build_from_spec, parse_model_spec
from babysit.train.optim import SGD, UPDATE_RULES, Adam, Momentum, Nesterov, Optimizer, RMSProp, make_optimizer
from babysit.train.outcome import RunRecord, run_record
from babysit.train.recipe import TrainConfig, TrainResult, build_model, make_solver, model_factory, train_model
from babysit.train.schedules import CosineDecay, EpochDecay, ExponentialDecay, Schedule, StepDecay, make_schedule
from babysit.train.solver import Solver
from babysit.train.trainer import ClassifierTrainer, LectureModel

__all__ = [
    "Solver", "ClassifierTrainer", "LectureModel",
    "Optimizer", "SGD", "Momentum", "Nesterov", "RMSProp", "Adam", "UPDATE_RULES", "make_optimizer",
    "Schedule", "EpochDecay", "StepDecay", "ExponentialDecay", "CosineDecay", "make_schedule",
    "Callback", "Deadline", "ExplosionGuard", "EpochPrinter", "ProgressBar", "Checkpoint",
    "save_checkpoint", "load_checkpoint", "checkpoint_paths", "checkpoint_meta",
    "ModelSpec", "parse_model_spec", "build_from_spec",
    "TrainConfig", "TrainResult", "train_model", "build_model", "make_solver", "model_factory", "RunRecord", "run_record", "evaluate", "evaluate_checkpoint",
]
