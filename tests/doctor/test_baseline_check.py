"""input_baseline: zeroed inputs must do clearly worse than the real ones (Karpathy's input-independent baseline)."""

import dataclasses

import numpy as np
import pytest

from babysit.doctor import input_baseline
from babysit.doctor.plots import plot_input_batch
from babysit.train.recipe import TrainConfig, model_factory


@pytest.fixture(scope="module")
def digits_data():
    from babysit.data import prepare

    return prepare("digits", "standardize", 0)[0]


def test_real_digits_beat_zeroed_inputs(digits_data):
    make = model_factory(TrainConfig(model="fc:50"), digits_data.input_shape, digits_data.num_classes)
    f = input_baseline(make, digits_data)
    assert f.status == "pass" and f.cause == "healthy"
    assert f.details["real_acc"] > 0.5 and f.details["zero_acc"] < 0.2


def test_shuffled_labels_fail_with_no_signal(digits_data):
    shuffled = dataclasses.replace(digits_data, y_train=np.random.default_rng(1).permutation(digits_data.y_train))
    make = model_factory(TrainConfig(model="fc:50"), digits_data.input_shape, digits_data.num_classes)
    f = input_baseline(make, shuffled)
    assert f.status == "fail" and f.cause == "no_signal" and "shuffled" in f.advice


def test_the_input_batch_plot_is_written(digits_data, tmp_path):
    path = plot_input_batch(digits_data.X_train, tmp_path / "b.png", digits_data.y_train, digits_data.class_names)
    assert path.stat().st_size > 1000
    flat = plot_input_batch(digits_data.X_train.reshape(len(digits_data.X_train), -1), tmp_path / "f.png")
    assert flat.exists()
