"""The one training recipe: TrainConfig (checked, the lecture's defaults) -> model + Solver -> TrainResult."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from babysit.data import prepare
from babysit.errors import ConfigError
from babysit.train.callbacks import Callback
from babysit.train.checkpoint import load_checkpoint
from babysit.train.recipe import TUNABLE, TrainConfig, build_model, make_solver, model_factory, train_model


@pytest.fixture(scope="module")
def digits():
    return prepare("digits", "standardize", seed=0)


def test_the_defaults_are_the_lectures():
    config = TrainConfig()
    assert (config.update, config.batch_size, config.epoch_decay()) == ("momentum", 100, 0.95)
    assert TrainConfig(schedule="cosine").epoch_decay() == 1.0  # a schedule replaces the per-epoch decay


@pytest.mark.parametrize("field, value", [
    ("reg", float("nan")), ("reg", -1.0), ("reg", float("inf")), ("lr", 0.0), ("lr", float("nan")),
    ("epochs", 0), ("batch_size", 0), ("dropout", 1.0), ("momentum", 1.0), ("lr_decay", 0.0), ("lr_decay", 1.5),
    ("seed", -1), ("hidden", 0), ("horizon", 0), ("update", "sgdd"), ("epochs", 2.5), ("epochs", True),
])
def test_bad_settings_are_refused_naming_the_parameter(field, value):
    with pytest.raises(ConfigError, match=f"The '{field}' parameter of TrainConfig") as info:
        TrainConfig(**{field: value})
    assert info.value.parameter == field


def test_a_bad_model_spec_fails_when_the_config_is_built():
    with pytest.raises(ConfigError, match="expected 'fc:H1,H2"):
        TrainConfig(model="mlp:3")
    with pytest.raises(ConfigError, match="no hidden affine layer"):
        TrainConfig(model="fc", hidden=10)


def test_with_params_applies_a_searchs_hyperparameters_and_refuses_others():
    config = TrainConfig(model="fc:100,100").with_params({"lr": 0.2, "hidden": 7, "horizon": 40}, epochs=4)
    assert (config.lr, config.epochs, str(config.model_spec())) == (0.2, 4, "fc:7,7")
    assert config.epoch_decay() == pytest.approx(0.95 ** 10)  # a 40-epoch decay spread over 4 epochs
    with pytest.raises(ConfigError, match="'seed'"):
        TrainConfig().with_params({"seed": 3})  # the split is not a hyperparameter
    assert "data" not in TUNABLE and "lr" in TUNABLE


def test_init_and_minibatch_order_draw_from_separate_seeds(digits):
    dataset, _ = digits
    config = TrainConfig(model="fc:16", run_seed=11)
    a, b = build_model(config, dataset.input_shape, 10), build_model(config, dataset.input_shape, 10)
    assert np.array_equal(a.params["W1"], b.params["W1"])  # init from run_seed
    other = build_model(dataclasses.replace(config, run_seed=12), dataset.input_shape, 10)
    assert not np.array_equal(a.params["W1"], other.params["W1"])
    solver = make_solver(config, a, dataset)
    # minibatches from run_seed + 1: a fresh generator of that seed draws the same first permutation
    assert np.array_equal(solver.rng.permutation(50), np.random.default_rng(12).permutation(50))
    assert build_model(TrainConfig(model="fc:16", seed=11), dataset.input_shape, 10).params["W1"].tolist() \
        == a.params["W1"].tolist()  # without run_seed, init follows seed


def test_settings_reach_the_model_and_the_solver(digits):
    dataset, _ = digits
    config = TrainConfig(model="fc:100", hidden=9, dropout=0.2, reg=0.3, update="nesterov", lr=1e-3, momentum=0.7,
                         lr_decay=0.8, batch_size=40, epochs=3)
    model = build_model(config, dataset.input_shape, dataset.num_classes)
    assert model.params["W1"].shape == (64, 9) and model.reg == 0.3 and model.params["W1"].dtype == np.float32
    solver = make_solver(config, model, dataset)
    assert (solver.batch_size, solver.num_epochs, type(solver.optimizer).__name__) == (40, 3, "Nesterov")
    assert solver.optimizer.config["momentum"] == 0.7 and solver.schedule.lr_at(2, 0) == pytest.approx(1e-3 * 0.64)
    assert solver.num_train_samples == 1000


def test_train_model_checkpoints_the_best_epoch_with_its_settings(tmp_path, digits):
    seen = []

    class Count(Callback):
        def on_epoch_end(self, solver):
            seen.append(solver.epoch)

    config = TrainConfig(model="fc:16", lr=3e-2, epochs=3)
    result = train_model(config, tmp_path, data=digits, callbacks=[Count()], verbose=False,
                         checkpoint_info={"search": "s"})
    assert seen == [1, 2, 3] and result.solver.status == "finished" and result.seconds == result.solver.seconds
    assert result.checkpoint == tmp_path / "model.safetensors" and result.dataset is digits[0]
    model, meta = load_checkpoint(result.checkpoint)
    assert meta["train_config"]["lr"] == 3e-2 and meta["train_config"]["search"] == "s"
    assert meta["metrics"]["val_acc"] == result.solver.best_val_acc
    assert meta["class_names"] == digits[0].class_names
    record = result.record()
    assert record.artifacts == [("checkpoint", result.checkpoint)] and "lr" in record.series


def test_model_factory_builds_fresh_models_in_the_asked_dtype(digits):
    dataset, _ = digits
    make = model_factory(TrainConfig(model="fc:8"), dataset.input_shape, dataset.num_classes)
    a, b = make(), make(dtype=np.float64)
    assert a.params["W1"].dtype == np.float32 and b.params["W1"].dtype == np.float64
    assert np.allclose(a.params["W1"], b.params["W1"]) and a is not make()
