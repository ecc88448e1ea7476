"""Callbacks: everything the Solver does besides the minibatch loop.

A callback overrides any of the fixed hooks; each receives the running
``Solver`` (read its ``epoch``, ``iteration``, ``loss``, ``lr``, ``grads``,
histories and ``model``; call ``solver.request_stop(status, reason)`` to end
the run). Hooks fire in the order callbacks were given.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from babysit.validation import Interval, check_float


class Callback:
    """Base class with the fixed hooks, all no-ops."""

    def on_train_begin(self, solver) -> None: ...

    def on_epoch_begin(self, solver) -> None: ...

    def on_iteration_end(self, solver) -> None: ...

    def on_epoch_end(self, solver) -> None: ...

    def on_train_end(self, solver) -> None: ...

    def on_train_abort(self, solver, exc: BaseException) -> None:
        """The run ended by ``exc`` (Ctrl-C, an error in the model or a callback) instead of
        ``on_train_end``: release what the callback holds (a live display), save nothing."""


class ExplosionGuard(Callback):
    """The lecture's tip: stop when the cost is non-finite or exceeds ``factor`` x the first cost.

    The run ends with status 'diverged' (NaN/inf) or 'exploded' (too large);
    ``solver.stopped_at`` is the iteration (1-based) whose loss tripped the guard.
    ``factor=math.inf`` keeps only the non-finite check.
    """

    def __init__(self, factor: float = 3.0):
        self.factor = check_float("ExplosionGuard", "factor", factor, Interval(1.0, math.inf))
        self.first_loss = None

    def on_train_begin(self, solver):
        # a resumed run (babysit.train.training_state) keeps the first loss of the run it continues
        self.first_loss = solver.loss_history[0] if solver.loss_history else None

    def on_iteration_end(self, solver):
        if getattr(solver, "nonfinite", None):  # the Solver stopped on NaN/inf already and said why
            return
        loss = float(solver.loss)
        if not math.isfinite(loss):
            solver.request_stop("diverged", f"the loss became {loss} at iteration {solver.iteration}")
        elif self.first_loss is None:
            self.first_loss = loss
        elif loss > self.factor * self.first_loss:
            solver.request_stop(
                "exploded",
                f"the loss {loss:.6g} at iteration {solver.iteration} exceeds "
                f"{self.factor:g} x the first loss {self.first_loss:.6g}",
            )


class EpochPrinter(Callback):
    """Prints the lecture's lines, e.g. ``Finished epoch 1 / 10: cost 2.302576, train: 0.080000,
    val 0.103000, lr 1.000000e-06``, then ``finished optimization. best validation accuracy: 0.192000``.

    ``cost`` is the last minibatch's loss and ``lr`` the rate used during the epoch.
    ``print_every=N`` also prints cs231n's ``(Iteration 1 / 4900) loss: 2.302585`` every N iterations;
    ``prefix`` starts every line (``babysit run`` prints its final training's lines as ``final: ...``);
    lines go to ``say`` (a callable taking one line) when given, else to ``file`` (default stdout).
    """

    def __init__(self, print_every: int | None = None, file=None, prefix: str = "", say=None):
        self.print_every = print_every
        self.file = file
        self.prefix = prefix
        self.say = say

    def _print(self, line: str) -> None:
        if self.say is not None:
            self.say(self.prefix + line)
        else:
            print(self.prefix + line, file=self.file or sys.stdout, flush=True)

    def on_iteration_end(self, solver):
        it = solver.iteration
        if self.print_every and (it == 1 or it % self.print_every == 0):
            self._print(f"(Iteration {it} / {solver.num_iterations}) loss: {solver.loss:f}")

    def on_epoch_end(self, solver):
        self._print(
            "Finished epoch %d / %d: cost %f, train: %f, val %f, lr %e"
            % (solver.epoch, solver.num_epochs, solver.loss, solver.train_acc_history[-1],
               solver.val_acc_history[-1], solver.lr)
        )

    def on_train_end(self, solver):
        if solver.status == "stopped":
            self._print(f"stopped early: {solver.stop_reason}")
        elif solver.status != "finished":
            self._print(f"stopped early ({solver.status}): {solver.stop_reason}")
        self._print("finished optimization. best validation accuracy: %f" % solver.best_val_acc)


class Deadline(Callback):
    """Ends the run (status 'stopped') after the epoch past which another one, at the pace of the last,
    would end after ``deadline`` (a time.monotonic()).

    Checked at epoch ends only, so the model kept is always a whole epoch's; the pace is the run's
    own, measured, not a plan's estimate (``babysit run``'s final training stops here when its time
    budget runs out: a ConvNet's 50-90 s epochs overran an 8-minute job by one of them, and an epoch
    estimated from a trial's pace can be several times off under load). ``clock``: for tests.
    """

    def __init__(self, deadline: float, clock=time.monotonic):
        self.deadline = float(deadline)
        self.clock = clock
        self._epoch_start = None

    def on_epoch_begin(self, solver):
        self._epoch_start = self.clock()

    def on_epoch_end(self, solver):
        now = self.clock()
        pace = 0.0 if self._epoch_start is None else now - self._epoch_start
        if now + pace > self.deadline and solver.epoch < solver.num_epochs:
            solver.request_stop("stopped", f"the time budget ran out after {solver.epoch} epochs "
                                           f"(another would take ~{pace:.1f} s)")


class BlasThreads(Callback):
    """Picks the BLAS threads of a run from its own first epochs: one epoch with one thread, the next with
    ``most`` (default: what the process has), the rest with the faster of the two (one thread unless
    ``most`` was at least ``gain`` faster: the other cores stay free). A run of at least ``WARMUP_MIN_EPOCHS``
    epochs first runs one warm-up epoch with one thread that is not compared: a first epoch carries the run's
    start (page faults, first-time buffers, caches), which made one thread look slow (fc:50 on CIFAR-10: 0.84 s
    in epoch 1 with one thread against 0.29 s in epoch 2 with two, where a settled 1-thread epoch takes ~0.33 s;
    docs/benchmarks.md). ``chosen`` is the count taken, ``decided_after`` the epoch it was taken after,
    ``epoch_seconds`` {threads: seconds} of the two compared epochs.

    Why: a 2-thread OpenBLAS epoch collapses when another process takes a core (fc:50 on CIFAR-10:
    9.0 s against 2.2 s with one thread, session 2), and on a quiet 2-core machine gives fc:50 almost
    nothing (0.44-0.50 s against 0.40-0.46 s, docs/benchmarks.md); a ConvNet's larger GEMMs may gain.
    The limits are set process-wide (threadpoolctl) and restored when the run ends.
    ``limit(n)``: sets n threads and returns an object with ``restore_original_limits()`` (for tests).
    """

    WARMUP_MIN_EPOCHS = 4  # a warm-up epoch then two compared ones leave at least one on the chosen threads

    def __init__(self, most: int | None = None, gain: float = 1.1, clock=time.perf_counter, limit=None):
        self.most, self.gain, self.clock = most, float(gain), clock
        self.limit = limit or _threadpool_limit
        self.chosen: int | None = None
        self.decided_after: int | None = None
        self.epoch_seconds: dict[int, float] = {}
        self._first = self._start = None
        self._warmup = 0

    def _set(self, threads: int) -> None:
        limiter = self.limit(threads)
        self._first = self._first or limiter

    def on_train_begin(self, solver):
        if self.most is None:
            from threadpoolctl import threadpool_info

            self.most = max([1, *(int(p.get("num_threads") or 1) for p in threadpool_info())])
        self._warmup = 1 if self.most > 1 and solver.num_epochs - solver.epoch >= self.WARMUP_MIN_EPOCHS else 0
        self._set(1)

    def on_epoch_begin(self, solver):
        self._start = self.clock()

    def on_epoch_end(self, solver):
        if self.chosen is not None:
            return
        seconds = self.clock() - self._start
        if self._warmup:
            self._warmup -= 1
            return
        if not self.epoch_seconds:
            self.epoch_seconds[1] = seconds
            if self.most > 1:
                self._set(self.most)
                return
        else:
            self.epoch_seconds[self.most] = seconds
        faster = self.most > 1 and self.epoch_seconds[1] > self.gain * self.epoch_seconds.get(self.most, math.inf)
        self.chosen = self.most if faster else 1
        self.decided_after = solver.epoch
        self._set(self.chosen)

    def on_train_end(self, solver):
        self._restore()

    def on_train_abort(self, solver, exc):
        self._restore()

    def _restore(self) -> None:
        if self._first is not None:
            self._first.restore_original_limits()
            self._first = None


def _threadpool_limit(threads: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


class ProgressBar(Callback):
    """A rich progress bar over all iterations with the current loss; off when stdout is not a TTY."""

    def __init__(self, verbose: bool = True, console=None):
        self.verbose = verbose
        self.console = console
        self._progress = None

    def on_train_begin(self, solver):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        # soft_wrap: lines printed while the bar is live (the epoch lines) must not be re-wrapped.
        console = self.console or Console(soft_wrap=True)
        if not (self.verbose and console.is_terminal):
            return
        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train", total=solver.num_iterations, epoch=1, epochs=solver.num_epochs, loss="-"
        )

    def on_iteration_end(self, solver):
        if self._progress is not None:
            self._progress.update(
                self._task, completed=solver.iteration, epoch=solver.epoch + 1, loss=f"{solver.loss:.4f}"
            )

    def on_train_end(self, solver):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_train_abort(self, solver, exc):
        self.on_train_end(solver)  # the bar goes, the terminal is given back


class Checkpoint(Callback):
    """Saves the model (safetensors + JSON) whenever validation accuracy improves, and at the end.

    Inputs: path, the ``.safetensors`` file to write; the rest is passed to
    ``babysit.train.checkpoint.save_checkpoint``. Nothing is written before the
    first epoch ends, so an exploded run leaves an earlier checkpoint untouched.
    """

    def __init__(self, path, *, class_names, preprocessor=None, train_config=None):
        self.path = Path(path)
        self.class_names = list(class_names)
        self.preprocessor = preprocessor
        self.train_config = dict(train_config or {})
        self.saved = False

    def _save(self, solver):
        from babysit.train.checkpoint import save_checkpoint

        save_checkpoint(
            self.path, solver.model, preprocessor=self.preprocessor, class_names=self.class_names,
            train_config=self.train_config, metrics=solver.metrics(),
        )
        self.saved = True

    def on_epoch_end(self, solver):
        if solver.best_epoch == solver.epoch:
            self._save(solver)

    def on_train_end(self, solver):
        # The Solver has restored the best parameters by now; record the final metrics and status.
        if solver.best_params is not None:
            self._save(solver)
