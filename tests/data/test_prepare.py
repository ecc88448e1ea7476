"""prepare: load + split + preprocessing fitted on the training split only, the one data path."""

from __future__ import annotations

import numpy as np
import pytest

from babysit.data import Preprocessor, load_source, prepare
from babysit.errors import ConfigError


def test_prepare_fits_on_the_training_split_and_applies_it_everywhere():
    dataset, preprocessor = prepare("digits", "standardize", seed=3)
    raw = load_source("digits", seed=3)
    assert preprocessor.fitted and dataset.class_names == raw.class_names and dataset.source == "digits"
    for split in ("train", "val", "test"):
        X, y = dataset.split(split)
        assert X.dtype == np.float32 and np.array_equal(y, raw.split(split)[1])
    # the statistics are the training split's: standardized train columns have mean ~0, std ~1
    assert np.abs(dataset.X_train.mean(axis=0)).max() < 1e-5
    spread = dataset.X_train.std(axis=0)
    assert np.allclose(spread[spread > 0], 1.0, atol=1e-3)
    # and validation is transformed with those same statistics, not its own
    expected = Preprocessor("standardize").fit(raw.X_train).transform(raw.X_val)
    assert np.array_equal(dataset.X_val, expected)
    assert not np.abs(dataset.X_val.mean(axis=0)).max() < 1e-5  # its own mean would be ~0


def test_same_arguments_same_arrays_and_the_seed_changes_the_split():
    a, _ = prepare("digits", "mean_image", seed=1)
    b, _ = prepare("digits", "mean_image", seed=1)
    c, _ = prepare("digits", "mean_image", seed=2)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_val, c.y_val)


def test_pca_flattens_and_an_empty_split_keeps_the_transformed_shape():
    dataset, preprocessor = prepare("digits", "pca:10", seed=0, test_fraction=0)
    assert dataset.X_train.shape[1:] == (10,) and dataset.X_val.shape[1:] == (10,)
    assert dataset.X_test.shape == (0, 10) and dataset.X_test.dtype == np.float32
    assert preprocessor.output_shape == (10,)


def test_a_bad_preprocessing_spec_fails_before_any_data_is_read(tmp_path):
    missing = tmp_path / "none.npz"  # would be a DataError if it were read first
    with pytest.raises(ConfigError):
        prepare(f"npz:{missing}", "pca:abc")


def test_an_unfitted_preprocessor_object_is_fitted_and_returned():
    mine = Preprocessor("channel_mean")
    dataset, fitted = prepare("digits", mine, seed=0)
    assert fitted is mine and mine.fitted and dataset.X_train.dtype == np.float32
