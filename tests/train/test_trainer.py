"""The lecture's ClassifierTrainer on real CIFAR-10 rows, with the engine's two_layer_net."""

import re

import numpy as np
import pytest

from babysit.data import Preprocessor, load_source
from babysit.errors import ConfigError
from babysit.nn import init_two_layer_model, two_layer_net
from babysit.train.trainer import ClassifierTrainer

LINE = re.compile(r"^Finished epoch (\d+) / (\d+): cost \d+\.\d{6}, train: \d\.\d{6}, val \d\.\d{6}, lr \d\.\d{6}e[+-]\d\d$")


@pytest.fixture(scope="module")
def cifar(shared_data):
    """The lecture's X_train: CIFAR-10 rows (N, 3072), minus the mean image of the training split."""
    ds = load_source(f"cifar10:{shared_data / 'cifar-10-batches-py-sample'}", seed=0)
    pre = Preprocessor("mean_image").fit(ds.X_train)
    flat = lambda X: pre.transform(X).reshape(len(X), -1)  # noqa: E731
    return flat(ds.X_train), ds.y_train, flat(ds.X_val), ds.y_val


def test_the_slides_20_example_overfit_reaches_train_accuracy_1(cifar, capsys):
    X_train, y_train, _, _ = cifar
    model = init_two_layer_model(32 * 32 * 3, 50, 10, rng=0)  # 0.0001 * randn, as on the slide
    X_tiny, y_tiny = X_train[:20], y_train[:20]
    best_model, stats = ClassifierTrainer().train(
        X_tiny, y_tiny, X_tiny, y_tiny, model, two_layer_net, num_epochs=200, reg=0.0, update="sgd",
        learning_rate_decay=1, sample_batches=False, learning_rate=1e-3, verbose=True, seed=0,
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 201
    assert all(LINE.match(line) for line in lines[:200])
    assert lines[0].startswith("Finished epoch 1 / 200: cost 2.30")  # ln(10) at init
    assert lines[0].endswith("lr 1.000000e-03")
    assert lines[-1] == "finished optimization. best validation accuracy: 1.000000"
    assert stats["train_acc_history"][-1] == 1.0
    assert stats["loss_history"][-1] < 0.01  # the slide ends at cost 0.002597
    assert len(stats["loss_history"]) == 200  # sample_batches=False: one full-batch step per epoch
    assert stats["status"] == "finished" and stats["best_val_acc"] == 1.0
    for k in model:  # best_model is a copy of the parameters left in model
        np.testing.assert_array_equal(best_model[k], model[k])
        assert best_model[k] is not model[k]


def test_sampled_minibatches_and_learning_rate_decay(cifar, capsys):
    X_train, y_train, X_val, y_val = cifar
    model = init_two_layer_model(3072, 50, 10, rng=1)
    _, stats = ClassifierTrainer().train(
        X_train, y_train, X_val, y_val, model, two_layer_net, num_epochs=3, reg=1e-6, update="momentum",
        learning_rate_decay=0.9, batch_size=100, learning_rate=1e-5, verbose=True, seed=0,
    )
    assert len(stats["loss_history"]) == 3 * (len(X_train) // 100)
    assert stats["lr_history"][0] == 1e-5 and stats["lr_history"][-1] == pytest.approx(1e-5 * 0.81)
    lines = capsys.readouterr().out.splitlines()
    assert [LINE.match(line).group(1) for line in lines[:3]] == ["1", "2", "3"]
    assert lines[2].endswith("lr 8.100000e-06")


@pytest.mark.parametrize("update", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_every_update_rule_lowers_the_cost(cifar, update):
    X_train, y_train, X_val, y_val = cifar
    model = init_two_layer_model(3072, 50, 10, rng=2)
    lr = {"sgd": 2e-3, "momentum": 3e-4, "nesterov": 3e-4}.get(update, 1e-4)
    _, stats = ClassifierTrainer().train(
        X_train[:200], y_train[:200], X_val, y_val, model, two_layer_net, num_epochs=10, update=update,
        batch_size=50, learning_rate=lr, learning_rate_decay=1.0, seed=0,
    )
    losses = stats["loss_history"]
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])


def test_explosion_guard_is_optional(cifar, capsys):
    X_train, y_train, X_val, y_val = cifar
    model = init_two_layer_model(3072, 50, 10, rng=3)
    _, stats = ClassifierTrainer().train(
        X_train, y_train, X_val, y_val, model, two_layer_net, num_epochs=10, update="sgd",
        learning_rate=1e6, learning_rate_decay=1, verbose=True, explosion_factor=3.0, seed=0,
    )
    assert stats["status"] in ("exploded", "diverged") and stats["stopped_at"] <= 5
    out = capsys.readouterr().out
    assert "stopped early" in out and "finished optimization. best validation accuracy: 0.000000" in out


def test_unknown_update_is_a_config_error(cifar):
    X_train, y_train, X_val, y_val = cifar
    with pytest.raises(ConfigError, match="Unknown update rule 'adagrad'"):
        ClassifierTrainer().train(X_train, y_train, X_val, y_val, init_two_layer_model(3072, 5, 10, rng=0),
                                  two_layer_net, update="adagrad")
