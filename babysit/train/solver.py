"""The Solver: the minibatch loop of the lecture (cs231n-compatible API).

    solver = Solver(model, data, update_rule='momentum', optim_config={'learning_rate': 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, seed=0)
    solver.train()
    solver.best_val_acc, solver.loss_history, solver.status

The loop only samples minibatches, asks the model for (loss, grads), applies
the update rule and fires callback hooks; logging, the progress bar, the
explosion guard and checkpoints are callbacks (babysit.train.callbacks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from babysit.errors import ConfigError, InputError
from babysit.train.callbacks import Callback, EpochPrinter, ExplosionGuard
from babysit.train.optim import make_optimizer
from babysit.train.schedules import EpochDecay, Schedule, make_schedule
from babysit.validation import Interval, check_choice, check_float, check_int

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
STOP_STATUSES = ("stopped", "exploded", "diverged")  # what request_stop accepts
POSITIVE_INT = Interval(1, math.inf)


class Solver:
    """Trains a cs231n-convention model (``params``, ``loss(X, y=None)``) with minibatch updates.

    Inputs: model; data, a dict (or object) with X_train (N, ...), y_train (N,),
    X_val (M, ...), y_val (M,); update_rule, a name from babysit.train.optim;
    optim_config, its hyperparameters plus 'learning_rate' (default 1e-2);
    lr_decay, multiplied into the rate after every epoch (or pass ``schedule``,
    a Schedule or a spec like 'cosine'); num_train_samples / num_val_samples,
    how many rows the per-epoch accuracy checks use (None = all);
    print_every, iteration-loss lines every N iterations when verbose;
    seed, an int or np.random.Generator driving minibatches and subsamples;
    explosion_factor, the ExplosionGuard's factor (None: no guard); lr_mults, per-parameter
    learning-rate multipliers (name -> factor, see babysit.train.optim).
    After ``train()``: loss_history and lr_history (per iteration),
    train_acc_history and val_acc_history (per epoch), best_val_acc,
    best_params (copies, also restored into the model), seconds (wall time
    of ``train()``, plus that of the run it resumed), stopped_at, stop_reason
    and status: 'not started', then 'running', then 'finished' (every planned
    epoch ran), 'stopped' (a callback ended it on purpose: a deadline, a short
    run's step count), 'exploded' or 'diverged' (the explosion guard).
    ``metrics()`` summarizes the run. ``babysit.train.training_state`` saves a
    run in progress and restores it into a new Solver, whose ``train()`` goes on.
    """

    def __init__(
        self, model, data, *, update_rule="sgd", optim_config=None, lr_decay=1.0, batch_size=100,
        num_epochs=10, num_train_samples=1000, num_val_samples=None, print_every=None,
        verbose=True, seed=None, callbacks=(), schedule=None, explosion_factor=3.0, lr_mults=None, **unknown,
    ):
        if unknown:
            raise ConfigError(
                f"Unknown argument{'s' if len(unknown) > 1 else ''} to Solver: "
                f"{', '.join(map(repr, sorted(unknown)))}"
            )
        self.model = model
        self.X_train, self.y_train, self.X_val, self.y_val = _unpack(data)
        self.batch_size = check_int("Solver", "batch_size", batch_size, POSITIVE_INT)
        self.num_epochs = check_int("Solver", "num_epochs", num_epochs, Interval(0, math.inf))
        self.num_train_samples = _optional_int("num_train_samples", num_train_samples)
        self.num_val_samples = _optional_int("num_val_samples", num_val_samples)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

        config = dict(optim_config or {})
        lr = config.pop("learning_rate", None)
        self.optimizer = make_optimizer(update_rule, lr_mults=lr_mults, **config)
        self.iterations_per_epoch = max(len(self.X_train) // self.batch_size, 1)
        self.num_iterations = self.num_epochs * self.iterations_per_epoch
        self.schedule = self._make_schedule(schedule, lr, lr_decay)

        self.callbacks: list[Callback] = []
        if explosion_factor is not None:
            self.callbacks.append(ExplosionGuard(explosion_factor))
        self.callbacks += list(callbacks)
        if verbose:
            self.callbacks.append(EpochPrinter(print_every))

        self.epoch = 0  # epochs completed
        self.iteration = 0  # iterations completed
        self.loss = math.nan
        self.lr = self.schedule.lr_at(0, 0)
        self.grads = None
        self.loss_history: list[float] = []
        self.lr_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.best_val_acc = 0.0
        self.best_epoch = None
        self.best_params = None
        self.status = "not started"
        self.seconds = 0.0
        self.stopped_at = None
        self.stop_reason = None
        self.nonfinite = None  # {'cause': 'data' | 'gradient' | 'loss', 'where', 'iteration'} when NaN/inf stopped it
        self.resumed_from = None  # {'path', 'epoch', 'iteration'} once a training state was restored into it
        self._stop = False
        self._clock = None  # perf_counter at which train() would have started, had it never paused

    def _make_schedule(self, schedule, lr, lr_decay) -> Schedule:
        lr_decay = check_float("Solver", "lr_decay", lr_decay, Interval(0.0, math.inf, "neither"))
        if schedule is None:
            return EpochDecay(1e-2 if lr is None else lr, lr_decay)
        if lr_decay != 1.0:
            raise ConfigError(f"Solver: give lr_decay or schedule, not both (lr_decay={lr_decay}, schedule={schedule!r})")
        if isinstance(schedule, Schedule):
            if lr is not None and lr != schedule.lr:
                raise ConfigError(
                    f"Solver: optim_config learning_rate={lr} contradicts the schedule's lr={schedule.lr}"
                )
            return schedule
        return make_schedule(
            schedule, lr=1e-2 if lr is None else lr, num_epochs=self.num_epochs,
            iterations_per_epoch=self.iterations_per_epoch,
        )

    def train(self) -> Solver:
        """Run the optimization (the epochs not done yet: all of them, or those after a restored
        training state); returns self."""
        start = self._clock = time.perf_counter() - self.seconds  # a resumed run counts the time trained before
        self.status = "running"
        try:
            self._fire("on_train_begin")
            while self.epoch < self.num_epochs and not self._stop:
                self._fire("on_epoch_begin")
                for X_batch, y_batch in self._minibatches():
                    self.lr = self.schedule.lr_at(self.epoch, self.iteration)
                    loss, self.grads = self.model.loss(X_batch, y_batch)
                    cause = _nonfinite(loss, self.grads, X_batch)
                    if cause is None:
                        self.optimizer.step(self._trainable_params(), self.grads, self.lr)
                    else:  # never step on NaN/inf: the weights stay as they were, the run stops here
                        self._stop_nonfinite(cause, float(loss))
                    self.loss = float(loss)
                    self.iteration += 1
                    self.loss_history.append(self.loss)
                    self.lr_history.append(self.lr)
                    self._fire("on_iteration_end")
                    if self._stop:
                        break
                else:
                    self._end_epoch()
            if self.status == "running":
                self.status = "finished"
            self._restore_best()
            self.seconds = time.perf_counter() - start
            self._fire("on_train_end")
        except BaseException as exc:  # Ctrl-C, a failing callback or model: callbacks let go of what they hold
            self.seconds = time.perf_counter() - start
            self._abort(exc)
            raise
        return self

    def _stop_nonfinite(self, cause: tuple[str, str], loss: float) -> None:
        """Stop as 'diverged' for a NaN/inf in the batch, the loss or a gradient, saying which and what to do."""
        kind, where = cause
        k = self.iteration + 1
        if kind == "data":
            reason = (f"the training batch of iteration {k} holds NaN/inf ({where}): the data has non-finite values; "
                      "clean them (babysit's loaders refuse them), the learning rate is not the cause")
        elif kind == "gradient":
            reason = (f"the gradient {where} became NaN/inf at iteration {k} while the loss was {loss:.6g}: the "
                      "backward pass overflowed; lower the learning rate or the weight scale")
        else:
            reason = (f"the loss became {loss} at iteration {k} on finite inputs: the scores overflowed; lower the "
                      "learning rate (10x)")
        self.nonfinite = {"cause": kind, "where": where, "iteration": k}
        self.request_stop("diverged", reason)
        self.stopped_at = k  # 1-based, as the explosion guard counts: this iteration's loss tripped it

    def request_stop(self, status: str, reason: str) -> None:
        """End the run after the current hook: status 'stopped' (on purpose), 'exploded' or 'diverged'."""
        self.status = check_choice("Solver.request_stop", "status", status, STOP_STATUSES)
        self.stop_reason, self.stopped_at = reason, self.iteration
        self._stop = True

    def check_accuracy(self, X, y, num_samples=None, batch_size=None) -> float:
        """Fraction of rows of X whose argmax score is y, in eval mode, computed in batches.

        Inputs: X (N, ...); y (N,); num_samples, a random subsample size (None = all).
        """
        if num_samples is not None and len(X) > num_samples:
            rows = np.sort(self.rng.choice(len(X), num_samples, replace=False))
            X, y = X[rows], y[rows]
        batch_size = batch_size or max(self.batch_size, 256)
        correct = 0
        for start in range(0, len(X), batch_size):
            scores = self.model.loss(X[start:start + batch_size])
            correct += int(np.count_nonzero(np.argmax(scores, axis=1) == y[start:start + batch_size]))
        return correct / max(len(X), 1)

    def elapsed(self) -> float:
        """Seconds trained so far: ``seconds`` once ``train()`` returned, the running time while it runs."""
        return time.perf_counter() - self._clock if self.status == "running" and self._clock is not None else self.seconds

    def metrics(self) -> dict:
        """The run's metrics so far, JSON-able: what the run store, checkpoints and reports record.

        val_acc is the best epoch's validation accuracy (that model is the one kept, as the
        lecture's trainer keeps it; equal to best_val_acc), final_val_acc the last epoch's;
        loss the last iteration's (None when not finite); seconds the wall time of train().
        """
        has_val = bool(self.val_acc_history)
        return {
            "status": self.status, "val_acc": self.best_val_acc if has_val else None,
            "best_val_acc": self.best_val_acc if has_val else None, "best_epoch": self.best_epoch,
            "final_val_acc": self.val_acc_history[-1] if has_val else None,
            "train_acc": self.train_acc_history[-1] if self.train_acc_history else None,
            "loss": self.loss if math.isfinite(self.loss) else None,
            "epochs": self.epoch, "iterations": self.iteration, "seconds": float(self.seconds),
            "stopped_at": self.stopped_at, "stop_reason": self.stop_reason,
            **({"nonfinite_cause": self.nonfinite["cause"]} if self.nonfinite else {}),
            **({"resumed_at_epoch": self.resumed_from["epoch"]} if self.resumed_from else {}),
        }

    def _trainable_params(self):
        """The parameters to update: a model's ``trainable_params()`` (frozen ones left out), else all."""
        trainable = getattr(self.model, "trainable_params", None)
        return trainable() if trainable is not None else self.model.params

    def _minibatches(self):
        """One epoch of minibatches: a fresh permutation cut into batch_size slices."""
        n = len(self.X_train)
        order = self.rng.permutation(n)
        size = min(self.batch_size, n)
        for i in range(self.iterations_per_epoch):
            rows = np.sort(order[i * size:(i + 1) * size])  # sorted rows: friendlier memory access
            yield self.X_train[rows], self.y_train[rows]

    def _end_epoch(self) -> None:
        self.epoch += 1
        self.train_acc_history.append(self.check_accuracy(self.X_train, self.y_train, self.num_train_samples))
        self.val_acc_history.append(self.check_accuracy(self.X_val, self.y_val, self.num_val_samples))
        if self.best_params is None or self.val_acc_history[-1] > self.best_val_acc:
            self.best_val_acc, self.best_epoch = self.val_acc_history[-1], self.epoch
            if self.best_params is None:
                self.best_params = {k: np.array(v, copy=True) for k, v in self.model.params.items()}
            else:
                for k, v in self.model.params.items():
                    np.copyto(self.best_params[k], v)
        self._fire("on_epoch_end")

    def _restore_best(self) -> None:
        # In place: the model's layers hold these very arrays.
        if self.best_params is not None:
            for k, v in self.best_params.items():
                np.copyto(self.model.params[k], v)

    def _fire(self, hook: str) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self)

    def _abort(self, exc: BaseException) -> None:
        """Fire ``on_train_abort`` on every callback; one failing there does not keep the others from it
        (the exception that ended the run is the one reported)."""
        for callback in self.callbacks:
            hook = getattr(callback, "on_train_abort", None)  # a duck-typed callback may lack it
            try:
                if hook is not None:
                    hook(self, exc)
            except Exception:  # noqa: S110 - the run's own exception is being raised
                pass


def _nonfinite(loss, grads, X_batch) -> tuple[str, str] | None:
    """None when the loss and every gradient are finite, else (cause, where): 'data' when the batch itself
    holds NaN/inf, else 'gradient' (a finite loss, a non-finite gradient) or 'loss'.

    One sum per gradient (a NaN or inf anywhere makes it non-finite; so does an overflow of the sum, a
    gradient that large is as unusable), the batch is only looked at once something is wrong.
    """
    bad_grad = next((k for k, g in grads.items() if g is not None and not np.isfinite(np.sum(g))), None)
    if bad_grad is None and math.isfinite(float(loss)):
        return None
    X = np.asarray(X_batch)
    if X.dtype.kind in "fc" and not np.isfinite(X).all():
        rows = np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))
        return "data", f"{len(rows)} of its {len(X)} rows, first: batch row {int(rows[0])}"
    if bad_grad is not None and math.isfinite(float(loss)):
        return "gradient", f"of {bad_grad}"
    return "loss", "the loss"


def _unpack(data):
    """(X_train, y_train, X_val, y_val) from a dict or an object with those attributes."""
    get = data.get if isinstance(data, Mapping) else lambda k: getattr(data, k, None)
    arrays = [get(k) for k in DATA_KEYS]
    missing = [k for k, a in zip(DATA_KEYS, arrays) if a is None]
    if missing:
        raise InputError(f"Solver: data lacks {', '.join(missing)}; expected keys {', '.join(DATA_KEYS)}")
    for X_key, y_key, X, y in (("X_train", "y_train", *arrays[:2]), ("X_val", "y_val", *arrays[2:])):
        if len(X) != len(y):
            raise InputError(f"Solver: {X_key} has {len(X)} rows but {y_key} has {len(y)} labels")
        if not np.issubdtype(np.asarray(y).dtype, np.integer):
            raise InputError(f"Solver: {y_key} must hold integer class labels; got dtype {np.asarray(y).dtype}")
    if len(arrays[0]) == 0:
        raise InputError("Solver: X_train is empty; expected at least one training row")
    return arrays


def _optional_int(name, value):
    return None if value is None else check_int("Solver", name, value, POSITIVE_INT)
