"""Learning-rate schedules: the learning rate as a function of training progress.

Every schedule answers ``lr_at(epoch, iteration)``, where ``epoch`` is the
number of epochs completed and ``iteration`` the number of iterations
completed before the step that uses the rate (both start at 0).
``make_schedule('step:10:0.5', lr=1e-3, num_epochs=..., iterations_per_epoch=...)``
builds one from the CLI's ``--schedule`` syntax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from babysit.errors import ConfigError
from babysit.validation import Interval, check_float, check_int

POSITIVE = Interval(0.0, math.inf, "neither")
NON_NEGATIVE = Interval(0.0, math.inf)


class Schedule:
    """Base class; subclasses are frozen dataclasses with a base rate ``lr``."""

    lr: float

    def lr_at(self, epoch: int, iteration: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class EpochDecay(Schedule):
    """``lr * decay**epoch``: the lecture's ``learning_rate_decay`` applied after every epoch."""

    lr: float
    decay: float = 1.0

    def __post_init__(self):
        _check(self, lr=POSITIVE, decay=POSITIVE)

    def lr_at(self, epoch, iteration):
        return self.lr * self.decay**epoch


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``lr * gamma**(epoch // step_size)``: drop by ``gamma`` every ``step_size`` epochs."""

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _check(self, lr=POSITIVE, gamma=POSITIVE)
        check_int(type(self).__name__, "step_size", self.step_size, Interval(1, math.inf))

    def lr_at(self, epoch, iteration):
        return self.lr * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """``lr * exp(-k * epoch)``: the lecture notes' exponential decay, t counted in epochs."""

    lr: float
    k: float

    def __post_init__(self):
        _check(self, lr=POSITIVE, k=NON_NEGATIVE)

    def lr_at(self, epoch, iteration):
        return self.lr * math.exp(-self.k * epoch)


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Per-iteration cosine annealing from ``lr`` to ``min_lr`` over ``total_iterations``."""

    lr: float
    total_iterations: int
    min_lr: float = 0.0

    def __post_init__(self):
        _check(self, lr=POSITIVE, min_lr=NON_NEGATIVE)
        check_int(type(self).__name__, "total_iterations", self.total_iterations, Interval(1, math.inf))

    def lr_at(self, epoch, iteration):
        t = min(iteration, self.total_iterations) / self.total_iterations
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * t))


def _check(schedule: Schedule, **intervals: Interval) -> None:
    for name, interval in intervals.items():
        value = check_float(type(schedule).__name__, name, getattr(schedule, name), interval)
        object.__setattr__(schedule, name, value)  # store a Python float (no np.float64 upcasts)


SCHEDULE_SYNTAX = "'decay:FACTOR', 'step:EPOCHS:GAMMA', 'exponential:K' or 'cosine[:MIN_LR]'"


def make_schedule(spec: str, *, lr: float, num_epochs: int, iterations_per_epoch: int) -> Schedule:
    """Parse a schedule spec (e.g. 'step:10:0.5', 'cosine') into a Schedule starting at ``lr``."""
    name, *args = str(spec).strip().split(":")
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise ConfigError(f"--schedule: expected {SCHEDULE_SYNTAX}; got {spec!r}") from None
    arity = {"decay": (1, 1), "step": (2, 2), "exponential": (1, 1), "cosine": (0, 1)}
    if name not in arity or not arity[name][0] <= len(values) <= arity[name][1]:
        raise ConfigError(f"--schedule: expected {SCHEDULE_SYNTAX}; got {spec!r}")
    if name == "decay":
        return EpochDecay(lr, values[0])
    if name == "step":
        if not values[0].is_integer():
            raise ConfigError(f"--schedule: the step size is a whole number of epochs; got {spec!r}")
        return StepDecay(lr, int(values[0]), values[1])
    if name == "exponential":
        return ExponentialDecay(lr, values[0])
    return CosineDecay(lr, max(1, num_epochs * iterations_per_epoch), *values)
