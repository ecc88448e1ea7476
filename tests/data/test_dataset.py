"""The Dataset container and matching classes by name across sources."""

import dataclasses

import numpy as np
import pytest

from babysit.data import Dataset, load_source, match_classes
from babysit.errors import DataError

from .conftest import CIFAR10_CLASSES


def _permuted(d: Dataset, order: list[int]) -> Dataset:
    """The same data with classes listed in another order (label i -> class_names[order[i]])."""
    inverse = np.argsort(order)
    return dataclasses.replace(
        d,
        class_names=[d.class_names[i] for i in order],
        y_train=inverse[d.y_train],
        y_val=inverse[d.y_val],
        y_test=inverse[d.y_test],
    )


def test_properties_and_dict():
    d = load_source("digits")
    assert d.num_classes == 10 and d.input_shape == (1, 8, 8)
    data = d.as_dict()
    assert set(data) == {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}
    assert data["X_val"] is d.X_val
    X, y = d.split("test")
    assert X is d.X_test and y is d.y_test
    assert "train=1437" in repr(d)


def test_match_classes_reorders_labels_by_name():
    d = load_source("digits")
    shuffled = _permuted(d, [3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    assert shuffled.class_names != d.class_names
    matched = match_classes(d.class_names, shuffled)
    assert matched.class_names == d.class_names
    for split in ("train", "val", "test"):
        assert np.array_equal(getattr(matched, f"y_{split}"), getattr(d, f"y_{split}"))
    assert matched.X_train is shuffled.X_train  # images are shared, not copied


def test_match_classes_identity_returns_the_dataset():
    d = load_source("digits")
    assert match_classes(list(d.class_names), d) is d


def test_folder_trained_model_can_evaluate_on_official_batches(small_targz, cifar_sample_dir, tmp_path):
    trained_on = load_source(f"folder:{small_targz}", cache_dir=tmp_path)
    official = load_source(f"cifar10:{cifar_sample_dir}")
    assert trained_on.class_names == official.class_names == CIFAR10_CLASSES
    assert trained_on.input_shape == official.input_shape == (3, 32, 32)
    assert trained_on.X_train.dtype == official.X_test.dtype == np.uint8
    matched = match_classes(trained_on.class_names, official)
    assert np.array_equal(matched.y_test, official.y_test)


def test_mismatched_classes_are_refused():
    d = load_source("digits")
    with pytest.raises(DataError, match=r"do not match the model's.*not in data: \['airplane'.*not in model: \['0'") as info:
        match_classes(CIFAR10_CLASSES, d)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match=r"not in data: \[\]; not in model: \['9'\]"):
        match_classes([str(i) for i in range(9)], d)
    with pytest.raises(DataError, match="duplicates"):
        match_classes(["0"] * 10, d)
