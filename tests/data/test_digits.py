"""The embedded digits: shapes, labels and deterministic stratified splits."""

import numpy as np

from babysit.data import load_source, read_digits

# Class counts of the UCI digits test set as shipped with scikit-learn.
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_read_digits_shapes_and_labels():
    X, y, names = read_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.uint8
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    assert np.bincount(y).tolist() == DIGIT_COUNTS
    assert names == [str(d) for d in range(10)]
    # The first row of the UCI file is a 0 whose top row reads 0 0 5 13 9 1 0 0.
    assert y[0] == 0 and X[0, 0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]


def test_load_digits_splits_sizes_and_strata():
    d = load_source("digits")
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (1437, 180, 180)
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10 and d.source == "digits"
    assert d.X_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    # 180 held-out rows over 10 nearly equal classes: 18 per class.
    assert np.bincount(d.y_val, minlength=10).tolist() == [18] * 10
    assert np.bincount(d.y_test, minlength=10).tolist() == [18] * 10
    # The three splits together are the whole data set, row for row.
    X, y, _ = read_digits()
    everything = np.concatenate([d.X_train, d.X_val, d.X_test]).reshape(1797, -1)
    labels = np.concatenate([d.y_train, d.y_val, d.y_test])
    key = lambda A, b: sorted(map(tuple, np.column_stack([A.reshape(len(A), -1), b]).tolist()))  # noqa: E731
    assert key(everything, labels) == key(X, y)


def test_digits_splits_are_deterministic_per_seed():
    a, b, c = load_source("digits", seed=3), load_source("digits", seed=3), load_source("digits", seed=4)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.y_train, c.y_train)


def test_digits_training_split_is_shuffled_across_classes():
    d = load_source("digits")
    # A class-sorted prefix would make X_train[:20] a single digit.
    assert len(np.unique(d.y_train[:20])) >= 5
