"""The Solver's callbacks on real runs: ExplosionGuard, EpochPrinter, ProgressBar, Checkpoint, and hook order."""

from __future__ import annotations

import io
import json
import math
import re
import sys
import threading

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.nn import FullyConnectedNet
from babysit.train import Callback, Checkpoint, EpochPrinter, ExplosionGuard, ProgressBar, Solver, load_checkpoint

LECTURE_LINE = re.compile(r"^Finished epoch (\d+) / (\d+): cost \d+\.\d{6}, train: \d\.\d{6}, val \d\.\d{6}, "
                          r"lr \d\.\d{6}e[+-]\d\d$")


@pytest.fixture(scope="module")
def data():
    """120 training and 40 validation rows of 8 features in 3 classes, a little learnable (class means differ)."""
    rng = np.random.default_rng(0)
    y_train, y_val = rng.integers(0, 3, 120), rng.integers(0, 3, 40)
    shift = np.eye(3, 8, dtype=np.float32)
    return {"X_train": (rng.standard_normal((120, 8)) + shift[y_train]).astype(np.float32), "y_train": y_train,
            "X_val": (rng.standard_normal((40, 8)) + shift[y_val]).astype(np.float32), "y_val": y_val}


def net(seed=0, **kw):
    return FullyConnectedNet([16], input_dim=8, num_classes=3, seed=seed, **kw)


def solver(data, callbacks=(), *, model=None, lr=0.05, epochs=3, batch_size=30, explosion_factor=None, **kw):
    """A quiet plain-sgd Solver over ``data``: no printer, no guard unless a factor is given; at batch 30,
    120 / 30 = 4 iterations per epoch."""
    return Solver(net() if model is None else model, data, update_rule="sgd", optim_config={"learning_rate": lr},
                  batch_size=batch_size, num_epochs=epochs, verbose=False, seed=0, callbacks=list(callbacks),
                  explosion_factor=explosion_factor, **kw)


# -- ExplosionGuard ---------------------------------------------------------------------------------------------

def guard_at(solver_, guard, losses):
    """Feed ``losses`` to ``guard`` as the iterations of ``solver_`` would, stopping where the Solver would."""
    solver_.status = "running"  # as Solver.train() sets it before the first hook
    guard.on_train_begin(solver_)
    for i, loss in enumerate(losses, start=1):
        solver_.iteration, solver_.loss = i, loss
        guard.on_iteration_end(solver_)
        if solver_.status != "running":
            break
    return solver_


def test_guard_stops_at_the_first_loss_above_factor_times_the_first(data):
    # The guard changes nothing until it stops a run, so the guarded run's losses are the unguarded run's. At
    # lr 1e-30 the float32 weights do not move: the loss varies with the minibatch only, up and down.
    losses = solver(data, lr=1e-30, epochs=5, batch_size=10).train().loss_history
    ratios = np.array(losses) / losses[0]
    factor = 1.1
    assert (ratios > factor).any() and (ratios[1:] <= factor).any()  # a crossing, and losses before it that pass
    first_above = 1 + int(np.flatnonzero(ratios > factor)[0])  # 1-based iteration
    guarded = solver(data, lr=1e-30, epochs=5, batch_size=10, explosion_factor=factor).train()
    assert (guarded.status, guarded.stopped_at) == ("exploded", first_above)
    assert guarded.loss_history == losses[:first_above]
    assert f"exceeds 1.1 x the first loss {losses[0]:.6g}" in guarded.stop_reason
    # factor 1 is allowed and strict: a run whose every loss equals the first (full batch, still weights) finishes
    full_batch = solver(data, lr=1e-30, epochs=3, batch_size=120, explosion_factor=1.0).train()
    assert full_batch.status == "finished" and len(set(full_batch.loss_history)) == 1


def test_guard_threshold_is_strictly_above_factor_times_the_first(data):
    # 3 x 2.0 = 6.0 exactly in binary floating point: equal to the threshold passes, just above it does not
    assert guard_at(solver(data), ExplosionGuard(3.0), [2.0, 6.0, 1.0, 6.0]).status == "running"  # not stopped
    stopped = guard_at(solver(data), ExplosionGuard(3.0), [2.0, 5.9, math.nextafter(6.0, 7.0), 1.0])
    assert (stopped.status, stopped.stopped_at) == ("exploded", 3)
    assert stopped.stop_reason == "the loss 6 at iteration 3 exceeds 3 x the first loss 2"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_is_diverged_whatever_the_factor(data, bad):
    for factor in (3.0, math.inf):  # inf keeps only this check
        stopped = guard_at(solver(data), ExplosionGuard(factor), [2.0, 2.1, bad, 2.0])
        assert (stopped.status, stopped.stopped_at) == ("diverged", 3)
        assert stopped.stop_reason == f"the loss became {bad} at iteration 3"
    # a non-finite first loss is not taken as the reference either
    assert guard_at(solver(data), ExplosionGuard(), [bad, 2.0]).status == "diverged"


def test_an_infinite_factor_lets_any_finite_loss_through(data):
    assert guard_at(solver(data), ExplosionGuard(math.inf), [1e-3, 1e30, 1e300]).status == "running"  # not stopped


@pytest.mark.parametrize("factor", [0.5, 0.999, -3.0, math.nan, "3", True, None])
def test_guard_factor_must_be_a_float_of_at_least_one(factor):
    with pytest.raises(ConfigError, match=r"The 'factor' parameter of ExplosionGuard must be a float in \[1, inf\)\. "
                                          rf"Got {re.escape(repr(factor))} instead"):
        ExplosionGuard(factor)


def test_the_solvers_explosion_factor_is_the_guards():
    with pytest.raises(ConfigError, match="'factor' parameter of ExplosionGuard"):
        Solver(net(), {"X_train": np.zeros((4, 8), np.float32), "y_train": np.zeros(4, np.int64),
                       "X_val": np.zeros((2, 8), np.float32), "y_val": np.zeros(2, np.int64)}, explosion_factor=0.5)


def test_one_guard_reused_takes_each_runs_own_first_loss(data):
    guard = ExplosionGuard(3.0)
    calm = solver(data, [guard], lr=0.01, epochs=1).train()
    assert calm.status == "finished"
    # a net with a large init starts (and stays, at this tiny rate) far above 3 x the calm run's first loss
    loud = solver(data, [guard], model=net(weight_scale=5.0), lr=1e-6, epochs=1).train()
    assert min(loud.loss_history) > 3 * calm.loss_history[0]
    assert loud.status == "finished" and guard.first_loss == loud.loss_history[0]


# -- EpochPrinter -----------------------------------------------------------------------------------------------

def test_epoch_lines_carry_the_epochs_last_cost_accuracies_and_rate(data):
    out = io.StringIO()
    s = solver(data, [EpochPrinter(file=out)], lr=0.04, lr_decay=0.5).train()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 + 1 and all(LECTURE_LINE.match(line) for line in lines[:3])
    per_epoch = s.iterations_per_epoch
    for epoch, line in enumerate(lines[:3], start=1):
        last = epoch * per_epoch - 1  # the epoch's last minibatch
        assert line == (f"Finished epoch {epoch} / 3: cost {s.loss_history[last]:.6f}, "
                        f"train: {s.train_acc_history[epoch - 1]:.6f}, val {s.val_acc_history[epoch - 1]:.6f}, "
                        f"lr {s.lr_history[last]:.6e}")
    # the rate used during each epoch, 0.04 halved after every epoch (not the next epoch's rate)
    assert [line.rsplit(" lr ", 1)[1] for line in lines[:3]] == ["4.000000e-02", "2.000000e-02", "1.000000e-02"]
    assert lines[3] == f"finished optimization. best validation accuracy: {max(s.val_acc_history):.6f}"


def test_print_every_adds_the_iteration_lines_at_1_and_every_n(data):
    out = io.StringIO()
    s = solver(data, [EpochPrinter(print_every=5, file=out)]).train()
    lines = out.getvalue().splitlines()
    total = s.num_iterations  # 3 epochs x 4
    iteration_lines = [f"(Iteration {i} / {total}) loss: {s.loss_history[i - 1]:f}" for i in (1, 5, 10)]
    epoch_lines = [line for line in lines if line.startswith("Finished epoch")]
    # in the order they happen: iterations 1 (epoch 1), 5 (epoch 2), 10 (epoch 3), each before its epoch's line
    assert lines == [iteration_lines[0], epoch_lines[0], iteration_lines[1], epoch_lines[1], iteration_lines[2],
                     epoch_lines[2], lines[-1]]


def test_a_run_stopped_early_says_why_before_the_summary(data):
    out = io.StringIO()
    s = solver(data, [EpochPrinter(file=out)], lr=1e6, explosion_factor=3.0).train()
    assert s.status in ("exploded", "diverged") and s.epoch == 0
    assert out.getvalue().splitlines() == [f"stopped early ({s.status}): {s.stop_reason}",
                                           "finished optimization. best validation accuracy: 0.000000"]


class StopAfterEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, solver_):
        if solver_.epoch == self.epoch:
            solver_.request_stop("stopped", "validation accuracy stopped improving")


def test_a_callbacks_stop_is_printed_after_the_epochs_that_ran(data):
    out = io.StringIO()
    solver(data, [StopAfterEpoch(2), EpochPrinter(file=out)], epochs=5).train()
    lines = out.getvalue().splitlines()
    assert [LECTURE_LINE.match(line).group(1, 2) for line in lines[:2]] == [("1", "5"), ("2", "5")]
    assert lines[2:] == ["stopped early: validation accuracy stopped improving", lines[3]]
    assert lines[3].startswith("finished optimization. best validation accuracy: ")


# -- ProgressBar ------------------------------------------------------------------------------------------------

def rich_threads_left(wait=5.0):
    """rich's refresh threads still alive; a stopped display's thread ends within its refresh period (0.1 s)."""
    threads = [t for t in threading.enumerate() if type(t).__module__.startswith("rich")]
    for thread in threads:
        thread.join(wait)
    return [t for t in threads if t.is_alive()]


def test_progress_bar_is_off_on_a_console_that_is_not_a_terminal(data):
    from rich.console import Console

    plain = io.StringIO()
    solver(data, [ProgressBar(console=Console(file=plain))], epochs=1).train()
    quiet = io.StringIO()
    solver(data, [ProgressBar(verbose=False, console=Console(file=quiet, force_terminal=True))], epochs=1).train()
    assert plain.getvalue() == "" and quiet.getvalue() == ""


class StreamsSeen(Callback):
    """Records sys.stdout during the run: a live rich display redirects it through its console."""

    def __init__(self):
        self.stdout = []

    def on_iteration_end(self, solver_):
        self.stdout.append(sys.stdout)


def test_progress_bar_on_a_terminal_is_live_during_the_run_and_gone_after(data):
    from rich.console import Console

    buffer = io.StringIO()
    stdout_before = sys.stdout
    seen = StreamsSeen()
    solver(data, [ProgressBar(console=Console(force_terminal=True, file=buffer)), seen], epochs=2).train()
    assert all(stream is not stdout_before for stream in seen.stdout)  # it was live: output went through rich
    assert sys.stdout is stdout_before  # and it let go of the streams
    assert rich_threads_left() == []  # no refresh thread left drawing
    text = buffer.getvalue()
    assert re.findall(r"\x1b\[\?25[lh]", text) == ["\x1b[?25l", "\x1b[?25h"]  # the cursor hidden once, then shown
    assert "8/8" in text  # 2 epochs x 4 iterations, all counted


class Interrupt(Callback):
    def on_iteration_end(self, solver_):
        if solver_.iteration == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of an epoch


def test_progress_bar_is_gone_after_a_run_ended_by_an_exception(data):
    # Solver.train() fires on_train_abort on an exception; without it rich's live display stayed running
    # (cursor hidden, sys.stdout/sys.stderr redirected, the refresh thread drawing)
    from rich.console import Console

    console = Console(force_terminal=True, file=io.StringIO())
    stdout_before = sys.stdout
    try:
        with pytest.raises(KeyboardInterrupt):
            solver(data, [ProgressBar(console=console), Interrupt()], epochs=2).train()
        assert sys.stdout is stdout_before and rich_threads_left(wait=1.0) == []
    finally:
        for live in list(console._live_stack):  # clean up what the bug leaves, for the tests that follow
            live.stop()
        assert sys.stdout is stdout_before


class FailingEnd(Callback):
    def on_train_end(self, solver_):
        raise OSError("disk full")


class Aborts(Callback):
    def __init__(self):
        self.seen = []

    def on_train_abort(self, solver_, exc):
        self.seen.append((solver_.iteration, type(exc).__name__))

    def on_train_end(self, solver_):
        self.seen.append("end")


def test_a_failing_on_train_end_still_releases_the_bar_and_every_callback_hears_the_abort(data):
    from rich.console import Console

    console = Console(force_terminal=True, file=io.StringIO())
    stdout_before, heard = sys.stdout, Aborts()
    with pytest.raises(OSError, match="disk full"):  # the run's own exception, not one from an abort hook
        solver(data, [FailingEnd(), heard, ProgressBar(console=console)], epochs=1).train()
    assert sys.stdout is stdout_before and rich_threads_left(wait=1.0) == []
    assert heard.seen == [(4, "OSError")]  # on_train_abort instead of on_train_end, never both


# -- Checkpoint -------------------------------------------------------------------------------------------------

class SavesSeen(Callback):
    """After each epoch (placed after Checkpoint): the checkpoint_id on disk, or None when nothing is there yet."""

    def __init__(self, path):
        self.sidecar = path.with_suffix(".json")
        self.ids = []

    def read(self):
        return json.loads(self.sidecar.read_text())["checkpoint_id"] if self.sidecar.exists() else None

    def on_epoch_end(self, solver_):
        self.ids.append(self.read())


def test_checkpoint_saves_on_improving_epochs_and_once_more_at_the_end(data, tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint = Checkpoint(path, class_names=["a", "b", "c"], train_config={"lr": 0.05})
    seen = SavesSeen(path)
    s = solver(data, [checkpoint, seen], lr=0.05, epochs=8).train()
    val = s.val_acc_history
    improved = [i == 0 or v > max(val[:i]) for i, v in enumerate(val)]
    assert any(improved[1:]) and not all(improved)  # both kinds of epoch happen in this run
    # a new checkpoint id on exactly the epochs that improved on the best so far
    changed = [seen.ids[0] is not None] + [a != b for a, b in zip(seen.ids, seen.ids[1:])]
    assert changed == improved
    # then once more at the end: the final metrics with the best (restored) parameters
    assert seen.read() != seen.ids[-1] and checkpoint.saved
    model, meta = load_checkpoint(path)
    assert meta["metrics"] == json.loads(json.dumps(s.metrics()))
    last_improved = 1 + max(i for i, up in enumerate(improved) if up)
    assert meta["metrics"]["epochs"] == 8 and meta["metrics"]["best_epoch"] == last_improved
    assert meta["class_names"] == ["a", "b", "c"] and meta["train_config"] == {"lr": 0.05}
    for name, best in s.best_params.items():
        np.testing.assert_array_equal(model.params[name], best)


def test_checkpoint_writes_nothing_when_no_epoch_ends(data, tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint = Checkpoint(path, class_names=["a", "b", "c"])
    assert checkpoint.saved is False
    s = solver(data, [checkpoint], lr=1e6, explosion_factor=3.0).train()
    assert s.status in ("exploded", "diverged") and s.epoch == 0
    assert checkpoint.saved is False and list(tmp_path.iterdir()) == []


def test_an_exploding_run_leaves_the_earlier_checkpoint_as_it_was(data, tmp_path):
    path = tmp_path / "m.safetensors"
    solver(data, [Checkpoint(path, class_names=["a", "b", "c"])], epochs=1).train()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["m.json", "m.safetensors"]
    again = Checkpoint(path, class_names=["a", "b", "c"])
    solver(data, [again], lr=1e6, explosion_factor=3.0).train()
    assert again.saved is False and {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


class InterruptAt(Callback):
    def __init__(self, iteration):
        self.iteration = iteration

    def on_iteration_end(self, solver_):
        if solver_.iteration == self.iteration:
            raise KeyboardInterrupt


def test_a_run_ended_by_an_exception_makes_no_end_of_run_save(data, tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint, seen = Checkpoint(path, class_names=["a", "b", "c"]), SavesSeen(tmp_path / "m.safetensors")
    with pytest.raises(KeyboardInterrupt):
        solver(data, [checkpoint, seen, InterruptAt(6)], epochs=3).train()  # in epoch 2 (4 iterations an epoch)
    assert seen.ids[0] is not None and seen.read() == seen.ids[-1]  # epoch 1's save, no end-of-run save after it


# -- hook order -------------------------------------------------------------------------------------------------

class Log(Callback):
    """Appends (name, hook, solver status) to a shared list at every hook."""

    def __init__(self, name, log):
        self.name, self.log = name, log

    def _note(self, hook, s):
        self.log.append((self.name, hook, s.status))

    def on_train_begin(self, s):
        self._note("train_begin", s)

    def on_epoch_begin(self, s):
        self._note("epoch_begin", s)

    def on_iteration_end(self, s):
        self._note("iteration_end", s)

    def on_epoch_end(self, s):
        self._note("epoch_end", s)

    def on_train_end(self, s):
        self._note("train_end", s)


def test_hooks_fire_in_list_order_between_the_solvers_guard_and_printer(data):
    log = []
    s = Solver(net(), data, batch_size=60, num_epochs=1, seed=0, callbacks=[Log("b", log), Log("a", log)])
    assert [type(c) for c in s.callbacks] == [ExplosionGuard, Log, Log, EpochPrinter]
    s.callbacks[-1].file = io.StringIO()
    s.train()
    hooks = ["train_begin", "epoch_begin", "iteration_end", "iteration_end", "epoch_end", "train_end"]
    assert [(name, hook) for name, hook, _ in log] == [(name, hook) for hook in hooks for name in ("b", "a")]


def test_callbacks_after_the_guard_see_its_verdict_in_the_same_hook(data):
    log = []
    s = solver(data, [Log("after", log)], lr=1e6, explosion_factor=3.0).train()
    iteration_ends = [status for _, hook, status in log if hook == "iteration_end"]
    assert len(iteration_ends) == s.stopped_at  # the stopping iteration's hook still reached every callback
    assert iteration_ends[:-1] == ["running"] * (s.stopped_at - 1) and iteration_ends[-1] == s.status != "running"


# -- Deadline and BlasThreads: decisions from the run's own epoch times (a fake clock: no wall time asserted) -------


class FakeClock:
    """A clock that moves only when told: each epoch 'takes' the next of ``epoch_seconds``."""

    def __init__(self, epoch_seconds):
        self.now, self.epoch_seconds = 1000.0, list(epoch_seconds)

    def __call__(self):
        return self.now


class Ticks(Callback):
    """Moves ``clock`` on by the epoch's seconds during the epoch (before the callbacks after it see its end)."""

    def __init__(self, clock):
        self.clock = clock

    def on_epoch_end(self, solver):
        self.clock.now += self.clock.epoch_seconds[solver.epoch - 1]


def test_the_deadline_stops_once_another_epoch_at_the_runs_own_pace_would_end_past_it(data):
    from babysit.train.callbacks import Deadline

    clock = FakeClock([10.0, 30.0, 30.0, 30.0, 30.0])
    s = solver(data, [Ticks(clock), Deadline(1000.0 + 75.0, clock=clock)], epochs=5).train()
    # after epoch 2 (t = 40): another 30 s epoch ends at 70 <= 75, go on; after epoch 3 (t = 70): 100 > 75, stop
    assert (s.epoch, s.status) == (3, "stopped") and "another would take ~30.0 s" in s.stop_reason
    clock = FakeClock([1.0] * 5)
    assert solver(data, [Ticks(clock), Deadline(1000.0 + 75.0, clock=clock)], epochs=5).train().status == "finished"


class Limits:
    """Records the thread limits set, as threadpoolctl's limiter would apply them."""

    def __init__(self):
        self.calls, self.restored = [], 0

    def __call__(self, threads):
        self.calls.append(threads)
        return self

    def restore_original_limits(self):
        self.restored += 1


@pytest.mark.parametrize("seconds, chosen", [((9.0, 2.0, 1.0, 1.0, 1.0), 2),  # 2 threads twice as fast: taken
                                             ((9.0, 2.0, 1.9, 1.9, 1.9), 1),  # within 10%: one thread, a core kept free
                                             ((9.0, 1.0, 4.0, 4.0, 4.0), 1)])  # 2 threads collapse under load
def test_blas_threads_compares_the_two_epochs_after_a_warm_up_one_and_restores_the_limits(data, seconds, chosen):
    from babysit.train.callbacks import BlasThreads

    clock, limits = FakeClock(seconds), Limits()
    threads = BlasThreads(most=2, clock=clock, limit=limits)
    solver(data, [Ticks(clock), threads], epochs=5).train()
    # epoch 1 (9 s: the run's start) is never compared; epoch 2 has one thread, epoch 3 two
    assert threads.epoch_seconds == pytest.approx({1: seconds[1], 2: seconds[2]})
    assert (threads.chosen, threads.decided_after, limits.calls, limits.restored) == (chosen, 3, [1, 2, chosen], 1)


def test_blas_threads_in_a_short_run_compares_its_first_two_epochs(data):
    from babysit.train.callbacks import BlasThreads

    clock, limits = FakeClock((2.0, 1.0, 1.0)), Limits()
    threads = BlasThreads(most=2, clock=clock, limit=limits)
    solver(data, [Ticks(clock), threads], epochs=3).train()  # fewer than WARMUP_MIN_EPOCHS: no warm-up epoch
    assert threads.epoch_seconds == pytest.approx({1: 2.0, 2: 1.0})
    assert (threads.chosen, threads.decided_after, limits.calls) == (2, 2, [1, 2, 2])


def test_blas_threads_with_one_thread_to_give_decides_after_one_epoch_and_restores_on_an_abort(data):
    from babysit.train.callbacks import BlasThreads

    limits = Limits()
    threads = BlasThreads(most=1, limit=limits)
    solver(data, [threads], epochs=2).train()
    assert (threads.chosen, limits.calls, limits.restored) == (1, [1, 1], 1)

    class Boom(Callback):
        def on_epoch_end(self, solver):
            raise RuntimeError("boom")

    limits = Limits()
    with pytest.raises(RuntimeError):
        solver(data, [BlasThreads(most=2, limit=limits), Boom()], epochs=2).train()
    assert limits.restored == 1


def test_save_training_state_every_few_seconds_saves_only_once_they_have_passed(data, tmp_path):
    from babysit.train.training_state import SaveTrainingState, training_state_info

    clock = FakeClock([4.0, 4.0, 4.0, 4.0, 4.0, 4.0])
    saver = SaveTrainingState(tmp_path / "s.safetensors", at_epochs=range(1, 6), every_seconds=10.0, clock=clock)
    saved = []

    class Watch(Callback):
        def on_epoch_end(self, solver):
            saved.append(saver.saved_epoch)

    solver(data, [Ticks(clock), saver, Watch()], epochs=6).train()
    # 4 s epochs: saved after epoch 3 (12 s since the start) and 6 (... but 6 is not listed): only 3
    assert saved == [None, None, 3, 3, 3, 3] and training_state_info(tmp_path / "s.safetensors")["epoch"] == 3
    with pytest.raises(ConfigError, match="every_seconds"):
        SaveTrainingState(tmp_path / "x", every_seconds=-1)


def test_a_required_state_save_that_fails_ends_the_run_a_best_effort_one_is_noted(data, tmp_path):
    from babysit.errors import CheckpointError
    from babysit.train.training_state import SaveTrainingState

    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot write the training state"):
        solver(data, [SaveTrainingState(tmp_path / "a-file" / "s.safetensors")], epochs=1).train()
    saver = SaveTrainingState(tmp_path / "a-file" / "s.safetensors", required=False)
    assert solver(data, [saver], epochs=2).train().status == "finished"
    assert saver.saved_epoch is None and "cannot write the training state" in saver.error
