"""The Solver: overfitting, the digits benchmark, the explosion guard, callbacks, histories, errors."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from babysit.data import Preprocessor, load_source
from babysit.errors import ConfigError, InputError
from babysit.nn import FullyConnectedNet
from babysit.train.callbacks import Callback, EpochPrinter, ExplosionGuard, ProgressBar
from babysit.train.schedules import StepDecay
from babysit.train.solver import Solver


@pytest.fixture(scope="module")
def digits():
    ds = load_source("digits", seed=0)
    pre = Preprocessor("standardize").fit(ds.X_train)
    return {"X_train": pre.transform(ds.X_train), "y_train": ds.y_train,
            "X_val": pre.transform(ds.X_val), "y_val": ds.y_val}


def _net(hidden=(50,), **kw):
    return FullyConnectedNet(list(hidden), input_dim=(1, 8, 8), num_classes=10, seed=0, **kw)


def _small(data, n_train=200, n_val=100):
    return {"X_train": data["X_train"][:n_train], "y_train": data["y_train"][:n_train],
            "X_val": data["X_val"][:n_val], "y_val": data["y_val"][:n_val]}


def test_overfits_20_examples(digits):
    tiny = {"X_train": digits["X_train"][:20], "y_train": digits["y_train"][:20],
            "X_val": digits["X_train"][:20], "y_val": digits["y_train"][:20]}
    solver = Solver(_net(), tiny, update_rule="sgd", optim_config={"learning_rate": 0.1},
                    batch_size=20, num_epochs=100, verbose=False, seed=0)
    solver.train()
    assert solver.status == "finished"
    assert solver.train_acc_history[-1] == 1.0
    assert solver.loss_history[-1] < 0.05 < solver.loss_history[0]
    assert len(solver.loss_history) == 100  # full batch: one iteration per epoch


def test_fc100_on_digits_reaches_95_percent_validation_accuracy(digits):
    # this setting reaches 0.961-0.978 over model/minibatch seeds 0-5: not a lucky seed
    model = _net([100], reg=1e-3)
    solver = Solver(model, digits, update_rule="adam", optim_config={"learning_rate": 2e-3},
                    batch_size=50, num_epochs=30, verbose=False, seed=0)
    solver.train()
    assert solver.best_val_acc >= 0.95
    # the restored best parameters reproduce the best validation accuracy
    assert solver.check_accuracy(digits["X_val"], digits["y_val"]) == solver.best_val_acc
    assert model.params["W1"].dtype == np.float32


@pytest.mark.parametrize("rule", ["sgd", "momentum", "adam"])
def test_guard_stops_a_run_at_lr_1e6(digits, rule):
    solver = Solver(_net(), digits, update_rule=rule, optim_config={"learning_rate": 1e6},
                    num_epochs=5, batch_size=50, verbose=False, seed=0)
    solver.train()
    assert solver.status in ("exploded", "diverged")
    assert 2 <= solver.stopped_at <= 5
    assert len(solver.loss_history) == solver.stopped_at
    last = solver.loss_history[-1]
    assert not math.isfinite(last) or last > 3 * solver.loss_history[0]
    assert solver.epoch == 0 and solver.best_params is None  # no epoch finished, nothing "best"


class NaNAtIteration:
    """A model whose loss turns NaN at a chosen iteration: the guard must say 'diverged'."""

    def __init__(self, at):
        self.at, self.calls = at, 0
        self.params = {"w": np.zeros(3, np.float32)}

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((len(X), 2), np.float32)
        self.calls += 1
        return (math.nan if self.calls == self.at else 1.0), {"w": np.ones(3, np.float32)}


def test_guard_reports_diverged_and_the_iteration():
    data = {"X_train": np.zeros((10, 3), np.float32), "y_train": np.zeros(10, np.int64),
            "X_val": np.zeros((4, 3), np.float32), "y_val": np.zeros(4, np.int64)}
    solver = Solver(NaNAtIteration(7), data, batch_size=2, num_epochs=3, verbose=False)
    solver.train()
    assert (solver.status, solver.stopped_at, solver.epoch) == ("diverged", 7, 1)
    assert "nan" in solver.stop_reason
    assert solver.metrics()["loss"] is None


def test_guard_factor_is_configurable_and_validated(digits):
    solver = Solver(_net(), _small(digits), optim_config={"learning_rate": 1e6}, num_epochs=1,
                    verbose=False, explosion_factor=None)
    with np.errstate(all="ignore"):  # unguarded, the weights overflow: exactly what the guard prevents
        solver.train()
    assert solver.status == "finished" and len(solver.loss_history) == 2
    with pytest.raises(ConfigError, match=r"The 'factor' parameter of ExplosionGuard must be a float in \[1, inf\)"):
        ExplosionGuard(0.5)


def test_best_params_are_copies_restored_in_place(digits):
    model = _net()
    arrays = {k: v for k, v in model.params.items()}
    solver = Solver(model, _small(digits), update_rule="momentum", optim_config={"learning_rate": 0.05},
                    num_epochs=6, batch_size=20, verbose=False, seed=1)
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert solver.best_epoch == 1 + solver.val_acc_history.index(solver.best_val_acc)
    for k, v in model.params.items():
        assert v is arrays[k]  # the layers still own the arrays the model reports
        np.testing.assert_array_equal(v, solver.best_params[k])
        assert not np.shares_memory(v, solver.best_params[k])


def test_histories_and_lr_decay(digits):
    solver = Solver(_net(), _small(digits), optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                    batch_size=50, num_epochs=3, verbose=False)
    solver.train()
    assert solver.iterations_per_epoch == 4
    assert len(solver.loss_history) == 12 and len(solver.train_acc_history) == 3 == len(solver.val_acc_history)
    assert solver.lr_history == [0.1] * 4 + [0.05] * 4 + [0.025] * 4
    assert all(isinstance(x, float) for x in solver.loss_history + solver.lr_history + solver.val_acc_history)


def test_schedule_spec_and_object(digits):
    solver = Solver(_net(), _small(digits), optim_config={"learning_rate": 0.1}, schedule="step:2:0.1",
                    batch_size=100, num_epochs=4, verbose=False)
    solver.train()
    assert solver.lr_history == pytest.approx([0.1] * 4 + [0.01] * 4)
    solver = Solver(_net(), _small(digits), schedule=StepDecay(0.2, 1, 0.5), batch_size=100, num_epochs=2,
                    verbose=False)
    solver.train()
    assert solver.lr_history == [0.2, 0.2, 0.1, 0.1]


def test_same_seed_same_run_other_seed_other_run(digits):
    def losses(seed):
        s = Solver(_net(), _small(digits), update_rule="momentum", optim_config={"learning_rate": 0.05},
                   num_epochs=2, batch_size=20, verbose=False, seed=seed)
        return s.train().loss_history

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, s):
        self.events.append(("train_begin", s.epoch, s.iteration))

    def on_epoch_begin(self, s):
        self.events.append(("epoch_begin", s.epoch, s.iteration))

    def on_iteration_end(self, s):
        self.events.append(("iteration_end", s.epoch, s.iteration))

    def on_epoch_end(self, s):
        self.events.append(("epoch_end", s.epoch, s.iteration))

    def on_train_end(self, s):
        self.events.append(("train_end", s.epoch, s.iteration))


def test_callback_hooks_fire_in_order(digits):
    rec = Recorder()
    Solver(_net(), _small(digits), batch_size=100, num_epochs=2, verbose=False, callbacks=[rec]).train()
    assert rec.events == [
        ("train_begin", 0, 0),
        ("epoch_begin", 0, 0), ("iteration_end", 0, 1), ("iteration_end", 0, 2), ("epoch_end", 1, 2),
        ("epoch_begin", 1, 2), ("iteration_end", 1, 3), ("iteration_end", 1, 4), ("epoch_end", 2, 4),
        ("train_end", 2, 4),
    ]


class StopAfterEpoch(Callback):
    def on_epoch_end(self, solver):
        if solver.epoch == 2:
            solver.request_stop("stopped", "validation accuracy stopped improving")


def test_a_callback_can_stop_the_run(digits):
    solver = Solver(_net(), _small(digits), batch_size=100, num_epochs=10, verbose=False,
                    callbacks=[StopAfterEpoch()])
    solver.train()
    assert (solver.status, solver.epoch, solver.stopped_at) == ("stopped", 2, 4)
    assert solver.stop_reason == "validation accuracy stopped improving"


def test_status_tells_not_started_running_finished_and_refuses_unknown_stops(digits):
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, solver):
            seen.append(solver.status)

    solver = Solver(_net(), _small(digits), batch_size=100, num_epochs=2, verbose=False, callbacks=[Watch()])
    assert solver.status == "not started"
    solver.train()
    assert seen == ["running", "running"] and solver.status == "finished" and solver.seconds > 0
    with pytest.raises(ConfigError, match="'status' parameter of Solver.request_stop"):
        solver.request_stop("early_stopped", "no such status")


def test_check_accuracy_is_eval_mode_and_batch_independent(digits):
    model = _net(dropout=0.5)  # train-mode dropout would make repeated checks disagree
    solver = Solver(model, digits, verbose=False)
    X, y = digits["X_val"], digits["y_val"]
    expected = float(np.mean(model.loss(X).argmax(axis=1) == y))
    assert solver.check_accuracy(X, y, batch_size=7) == expected == solver.check_accuracy(X, y, batch_size=1000)
    assert 0 <= solver.check_accuracy(X, y, num_samples=50) <= 1


def test_unknown_and_bad_arguments_are_config_errors(digits):
    with pytest.raises(ConfigError, match=r"Unknown argument to Solver: 'learning_rate'"):
        Solver(_net(), digits, learning_rate=1e-3)
    with pytest.raises(ConfigError, match=r"The 'batch_size' parameter of Solver must be an int in \[1, inf\)\. Got 0"):
        Solver(_net(), digits, batch_size=0)
    with pytest.raises(ConfigError, match=r"Unknown update rule 'sgdd'"):
        Solver(_net(), digits, update_rule="sgdd")
    with pytest.raises(ConfigError, match=r"The 'momentum' parameter of momentum must be a float in \[0, 1\)\. Got 1\.5"):
        Solver(_net(), digits, update_rule="momentum", optim_config={"momentum": 1.5})
    with pytest.raises(ConfigError, match="give lr_decay or schedule, not both"):
        Solver(_net(), digits, lr_decay=0.9, schedule="cosine")
    with pytest.raises(ConfigError, match="contradicts the schedule"):
        Solver(_net(), digits, optim_config={"learning_rate": 1.0}, schedule=StepDecay(0.1, 1))


def test_bad_data_is_an_input_error(digits):
    with pytest.raises(InputError, match="data lacks X_val, y_val"):
        Solver(_net(), {"X_train": digits["X_train"], "y_train": digits["y_train"]})
    bad = dict(digits, y_train=digits["y_train"][:-1])
    with pytest.raises(InputError, match=r"X_train has 1437 rows but y_train has 1436 labels"):
        Solver(_net(), bad)
    with pytest.raises(InputError, match="y_val must hold integer class labels; got dtype float64"):
        Solver(_net(), dict(digits, y_val=digits["y_val"].astype(float)))


def test_accepts_a_dataset_object():
    """A Dataset gives the Solver its arrays by attribute: the train and val splits (never the test split),
    trained exactly as the same arrays in the cs231n data dict."""
    ds = load_source("digits", seed=0)
    solver = Solver(_net(), ds, num_epochs=1, verbose=False, seed=0)
    for key in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(getattr(solver, key), getattr(ds, key))
    solver.train()
    as_dict = Solver(_net(), {k: getattr(ds, k) for k in ("X_train", "y_train", "X_val", "y_val")}, num_epochs=1,
                     verbose=False, seed=0).train()
    assert len(solver.loss_history) == len(ds.y_train) // 100  # one epoch of the training split at batch 100
    assert solver.loss_history == as_dict.loss_history
    # one epoch: the restored best model is the one scored; its accuracy on ds's val split is the history's
    val_acc = float(np.mean(solver.model.predict(ds.X_val) == ds.y_val))
    assert solver.val_acc_history == as_dict.val_acc_history == [val_acc]


def test_epoch_printer_prints_the_slides_lines(capsys):
    state = SimpleNamespace(epoch=1, num_epochs=10, loss=2.302576, train_acc_history=[0.08],
                            val_acc_history=[0.103], lr=1e-6, best_val_acc=0.192, status="finished",
                            iteration=1, num_iterations=4900)
    printer = EpochPrinter(print_every=100)
    printer.on_iteration_end(state)
    printer.on_epoch_end(state)
    printer.on_train_end(state)
    assert capsys.readouterr().out.splitlines() == [
        "(Iteration 1 / 4900) loss: 2.302576",
        "Finished epoch 1 / 10: cost 2.302576, train: 0.080000, val 0.103000, lr 1.000000e-06",
        "finished optimization. best validation accuracy: 0.192000",
    ]


def test_verbose_solver_prints_one_line_per_epoch(digits, capsys):
    Solver(_net(), _small(digits), num_epochs=3, batch_size=100).train()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("Finished epoch 1 / 3: cost ")
    assert lines[-1].startswith("finished optimization. best validation accuracy: ")


def test_progress_bar_is_off_without_a_tty(digits, capsys):
    Solver(_net(), _small(digits), num_epochs=1, verbose=False, callbacks=[ProgressBar()]).train()
    assert capsys.readouterr().out == ""


def test_progress_bar_renders_on_a_terminal(digits):
    import io
    import re

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    solver = Solver(_net(), _small(digits), num_epochs=2, batch_size=50, verbose=False,
                    callbacks=[ProgressBar(console=console)]).train()
    # the frames the terminal was sent, without colours and cursor moves; rich redraws the bar after "\r"
    frames = [f.strip() for f in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue()).split("\r") if f.strip()]
    assert solver.num_iterations == 8  # 200 rows / batch 50 = 4 iterations x 2 epochs
    # it starts at 0 of all iterations, and its last frame (drawn when the bar stops) shows the run's end:
    # the second epoch, every iteration done, and the last minibatch's loss
    assert frames[0].startswith("epoch 1/2") and "0/8" in frames[0] and "loss -" in frames[0]
    assert frames[-1].startswith("epoch 2/2") and "8/8" in frames[-1]
    assert f"loss {solver.loss_history[-1]:.4f}" in frames[-1]
