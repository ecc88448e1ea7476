"""Stratified, deterministic splits and the fraction/count arguments."""

import numpy as np
import pytest

from babysit.data import split_size, stratified_split
from babysit.errors import ConfigError, DataError


def test_split_partitions_rows_in_proportion():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    train, val, test = stratified_split(y, 20, 10, np.random.default_rng(0))
    assert (len(train), len(val), len(test)) == (170, 20, 10)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(200))
    assert np.bincount(y[val], minlength=4).tolist() == [10, 5, 3, 2]
    # 10 test rows: quotas 5, 2.5, 1.5, 1; the spare row goes to the first largest remainder.
    assert np.bincount(y[test], minlength=4).tolist() == [5, 3, 1, 1]
    assert train.dtype == np.int64


def test_split_totals_are_exact_with_uneven_classes():
    y = np.repeat(np.arange(3), [7, 5, 3])
    train, val, test = stratified_split(y, 4, 4, np.random.default_rng(1))
    assert (len(train), len(val), len(test)) == (7, 4, 4)
    assert len(set(train) | set(val) | set(test)) == 15


def test_split_is_deterministic_given_the_seed():
    y = np.random.default_rng(5).integers(0, 10, 500)
    a = stratified_split(y, 50, 50, np.random.default_rng(7))
    b = stratified_split(y, 50, 50, np.random.default_rng(7))
    c = stratified_split(y, 50, 50, np.random.default_rng(8))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_split_refuses_to_leave_no_training_rows():
    with pytest.raises(DataError, match="no training rows"):
        stratified_split(np.arange(10) % 2, 5, 5, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("value", "n", "expected"),
    [(0.1, 1797, 180), (0.0, 100, 0), (0.001, 100, 1), (25, 100, 25), (0, 100, 0)],
)
def test_split_size_fractions_and_counts(value, n, expected):
    assert split_size(value, n, "val_fraction") == expected


@pytest.mark.parametrize("value, expected", [
    (1.0, r"a float in \[0, 1\)"), (-0.1, r"a float in \[0, 1\)"), (1.5, r"a float in \[0, 1\)"),
    (float("nan"), r"a float in \[0, 1\)"), (100, r"an int in \[0, 100\)"), (-3, r"an int in \[0, 100\)"),
    (True, r"a fraction in \[0, 1\) or a row count in \[0, 100\)"), ("0.1", "a fraction in .*"),
    (None, "a fraction in .*"),
])
def test_split_size_rejects_bad_values(value, expected):
    with pytest.raises(ConfigError, match=rf"The 'val_fraction' parameter of load_source must be {expected}\. Got"):
        split_size(value, 100, "val_fraction")
