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

from babysit.validation import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Interval, check_float, check_int, invalid


class Schedule:
    """Base class; subclasses are frozen dataclasses with a base rate ``lr``.

    Each declares ``floats`` and ``ints`` (field name -> Interval); the checks run when
    an instance is made, and float fields are stored as Python floats (no np.float64 upcasts).
    """

    lr: float
    floats: dict[str, Interval] = {}
    ints: dict[str, Interval] = {}

    def __post_init__(self):
        owner = type(self).__name__
        for name, interval in self.floats.items():
            object.__setattr__(self, name, check_float(owner, name, getattr(self, name), interval))
        for name, interval in self.ints.items():
            check_int(owner, name, getattr(self, name), interval)

    def lr_at(self, epoch: int, iteration: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class EpochDecay(Schedule):
    """``lr * decay**epoch``: the lecture's ``learning_rate_decay`` applied after every epoch."""

    lr: float
    decay: float = 1.0
    floats = {"lr": POSITIVE, "decay": POSITIVE}

    def lr_at(self, epoch, iteration):
        return self.lr * self.decay**epoch


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``lr * gamma**(epoch // step_size)``: drop by ``gamma`` every ``step_size`` epochs."""

    lr: float
    step_size: int
    gamma: float = 0.1
    floats = {"lr": POSITIVE, "gamma": POSITIVE}
    ints = {"step_size": AT_LEAST_ONE}

    def lr_at(self, epoch, iteration):
        return self.lr * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """``lr * exp(-k * epoch)``: the lecture notes' exponential decay, t counted in epochs."""

    lr: float
    k: float
    floats = {"lr": POSITIVE, "k": NON_NEGATIVE}

    def lr_at(self, epoch, iteration):
        return self.lr * math.exp(-self.k * epoch)


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Per-iteration cosine annealing from ``lr`` to ``min_lr`` over ``total_iterations``."""

    lr: float
    total_iterations: int
    min_lr: float = 0.0
    floats = {"lr": POSITIVE, "min_lr": NON_NEGATIVE}
    ints = {"total_iterations": AT_LEAST_ONE}

    def lr_at(self, epoch, iteration):
        t = min(iteration, self.total_iterations) / self.total_iterations
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * t))


SCHEDULE_SYNTAX = "'decay:FACTOR', 'step:EPOCHS:GAMMA', 'exponential:K' or 'cosine[:MIN_LR]'"
# what a bad spec is told; it names --schedule too, the CLI option that takes these specs
SPEC_EXPECTED = f"a schedule spec {SCHEDULE_SYNTAX} (as --schedule takes)"


def make_schedule(spec: str, *, lr: float, num_epochs: int, iterations_per_epoch: int) -> Schedule:
    """Parse a schedule spec (e.g. 'step:10:0.5', 'cosine') into a Schedule starting at ``lr``."""
    name, *args = str(spec).strip().split(":")
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise invalid("make_schedule", "spec", SPEC_EXPECTED, spec) from None
    arity = {"decay": (1, 1), "step": (2, 2), "exponential": (1, 1), "cosine": (0, 1)}
    if name not in arity or not arity[name][0] <= len(values) <= arity[name][1]:
        raise invalid("make_schedule", "spec", SPEC_EXPECTED, spec)
    if name == "decay":
        return EpochDecay(lr, values[0])
    if name == "step":
        if not values[0].is_integer():
            raise invalid("make_schedule", "spec", "'step:EPOCHS:GAMMA' with a whole number of EPOCHS "
                          "(as --schedule takes)", spec)
        return StepDecay(lr, int(values[0]), values[1])
    if name == "exponential":
        return ExponentialDecay(lr, values[0])
    return CosineDecay(lr, max(1, num_epochs * iterations_per_epoch), *values)
