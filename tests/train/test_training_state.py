"""Training state: a run saved at an epoch and restored into a new Solver ends bit-identical to one never
interrupted (every update rule, dropout and batchnorm included); a state of another training is refused."""

import numpy as np
import pytest

from babysit.errors import CheckpointError
from babysit.nn import ConvNet, FullyConnectedNet
from babysit.search.rungs import StopAfter
from babysit.train.callbacks import Callback
from babysit.train.checkpoint import save_checkpoint
from babysit.train.optim import UPDATE_RULES
from babysit.train.recipe import TrainConfig, train_model
from babysit.train.solver import Solver
from babysit.train.training_state import (
    SaveTrainingState, restore_training_state, save_training_state, training_state_info,
)


def _data(n=160, shape=(3, 4, 4), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *shape)).astype(np.float32)
    y = (X.reshape(n, -1)[:, :3].argmax(axis=1) + (X.reshape(n, -1)[:, 3] > 0)) % 4
    return {"X_train": X[:120], "y_train": y[:120], "X_val": X[120:], "y_val": y[120:]}


def _fc():
    return FullyConnectedNet([12, 10], input_dim=(3, 4, 4), num_classes=4, normalization="batchnorm",
                             dropout=0.2, reg=1e-3, seed=3)


def _solver(model, data, update_rule="momentum", epochs=4, callbacks=(), **kw):
    return Solver(model, data, update_rule=update_rule, optim_config={"learning_rate": 5e-3}, lr_decay=0.9,
                  batch_size=16, num_epochs=epochs, num_train_samples=50, verbose=False, seed=11,
                  callbacks=list(callbacks), **kw)


class Crash(Callback):
    """Raises in the middle of an epoch, as a kill would end the run there."""

    def __init__(self, iteration):
        self.iteration = iteration

    def on_iteration_end(self, solver):
        if solver.iteration == self.iteration:
            raise KeyboardInterrupt


def _same_run(a: Solver, b: Solver):
    assert a.loss_history == b.loss_history
    assert a.lr_history == b.lr_history
    assert a.train_acc_history == b.train_acc_history and a.val_acc_history == b.val_acc_history
    assert (a.best_epoch, a.best_val_acc, a.epoch, a.iteration, a.status) == (b.best_epoch, b.best_val_acc, b.epoch,
                                                                             b.iteration, b.status)
    for k in a.model.params:
        assert np.array_equal(a.model.params[k], b.model.params[k]), k
    for k, state in a.optimizer.state.items():
        for buf in a.optimizer.buffers:
            assert np.array_equal(state[buf], b.optimizer.state[k][buf]), (k, buf)


@pytest.mark.parametrize("update_rule", sorted(UPDATE_RULES))
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, update_rule):
    data = _data()
    whole = _solver(_fc(), data, update_rule).train()

    path = tmp_path / "state.safetensors"
    first = _solver(_fc(), data, update_rule, callbacks=[SaveTrainingState(path, at_epochs=[2]), StopAfter(2)]).train()
    assert first.status == "stopped" and first.epoch == 2
    second = _solver(_fc(), data, update_rule)
    header = restore_training_state(path, second)
    assert header["epoch"] == 2 and second.epoch == 2
    second.train()
    _same_run(whole, second)
    assert second.metrics()["resumed_at_epoch"] == 2
    # the running statistics of batchnorm came along too
    assert np.array_equal(whole.model.layers[1].running_mean, second.model.layers[1].running_mean)


def test_a_killed_run_resumes_from_its_last_complete_epoch(tmp_path):
    data = _data()
    whole = _solver(_fc(), data, "adam", epochs=5).train()
    path = tmp_path / "state.safetensors"
    saver = SaveTrainingState(path)
    killed = _solver(_fc(), data, "adam", epochs=5, callbacks=[saver, Crash(iteration=7 * 3 + 4)])
    with pytest.raises(KeyboardInterrupt):
        killed.train()
    assert saver.saved_epoch == 3 and training_state_info(path)["epoch"] == 3  # 7 iterations per epoch
    resumed = _solver(_fc(), data, "adam", epochs=5)
    restore_training_state(path, resumed)
    resumed.train()
    _same_run(whole, resumed)
    assert resumed.seconds >= training_state_info(path)["seconds"] > 0


def test_convnet_state_round_trips(tmp_path):
    data = _data(shape=(3, 8, 8))

    def make():
        return ConvNet(input_dim=(3, 8, 8), conv_channels=[4], hidden_dims=[8], num_classes=4, normalization="batchnorm", seed=1)

    whole = _solver(make(), data, "nesterov", epochs=3).train()
    path = tmp_path / "s.safetensors"
    _solver(make(), data, "nesterov", epochs=3, callbacks=[SaveTrainingState(path, at_epochs=[1]), StopAfter(1)]).train()
    resumed = _solver(make(), data, "nesterov", epochs=3)
    restore_training_state(path, resumed)
    _same_run(whole, resumed.train())


def test_train_model_resumes_a_recipe_run(tmp_path):
    config = TrainConfig(data="digits", model="fc:20", epochs=3, lr=1e-2, seed=0)
    whole = train_model(config, verbose=False)
    path = tmp_path / "state.safetensors"
    train_model(config, verbose=False, callbacks=[SaveTrainingState(path, at_epochs=[1]), StopAfter(1)])
    resumed = train_model(config, verbose=False, resume_state=path)
    _same_run(whole.solver, resumed.solver)


def test_the_state_of_another_training_is_refused_and_changes_nothing(tmp_path):
    data = _data()
    path = tmp_path / "state.safetensors"
    _solver(_fc(), data, callbacks=[SaveTrainingState(path, at_epochs=[1]), StopAfter(1)]).train()

    longer = _solver(_fc(), data, epochs=6)
    before = {k: v.copy() for k, v in longer.model.params.items()}
    with pytest.raises(CheckpointError, match="num_epochs: 4 there, 6 here"):
        restore_training_state(path, longer)
    assert longer.epoch == 0 and all(np.array_equal(before[k], v) for k, v in longer.model.params.items())

    other_rule = _solver(_fc(), data, "adam")
    with pytest.raises(CheckpointError, match="update_rule"):
        restore_training_state(path, other_rule)

    wider = _solver(FullyConnectedNet([14, 10], input_dim=(3, 4, 4), num_classes=4, seed=3), data)
    with pytest.raises(CheckpointError, match="another training"):
        restore_training_state(path, wider)


def test_missing_truncated_and_foreign_files_are_refused(tmp_path):
    data = _data()
    solver = _solver(_fc(), data)
    with pytest.raises(CheckpointError, match="not found"):
        restore_training_state(tmp_path / "none.safetensors", solver)

    path = save_training_state(tmp_path / "state.safetensors", solver)
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CheckpointError, match="not a readable training state"):
        restore_training_state(truncated, solver)

    model_file = save_checkpoint(tmp_path / "model.safetensors", _fc(), class_names=list("abcd"))
    with pytest.raises(CheckpointError, match="not a babysit training state"):
        training_state_info(model_file)


def test_the_explosion_guard_keeps_the_first_loss_of_the_resumed_run(tmp_path):
    data = _data()
    path = tmp_path / "state.safetensors"
    first = _solver(_fc(), data, callbacks=[SaveTrainingState(path, at_epochs=[1]), StopAfter(1)]).train()
    resumed = _solver(_fc(), data)
    restore_training_state(path, resumed)
    guard = resumed.callbacks[0]
    guard.on_train_begin(resumed)
    assert guard.first_loss == first.loss_history[0]
