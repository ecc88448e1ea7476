"""npz:PATH data sets and the checks on their arrays."""

import numpy as np
import pytest

from babysit.data import load_source, read_npz_arrays
from babysit.errors import DataError


def _npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_flat_features_with_default_class_names(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 7)).astype(np.float32)
    y = np.arange(100) % 4
    d = load_source(f"npz:{_npz(tmp_path, X=X, y=y)}", val_fraction=0.2, test_fraction=0.1)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (70, 20, 10)
    assert d.input_shape == (7,) and d.X_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert d.class_names == ["0", "1", "2", "3"]
    # Every row keeps its label.
    for Xs, ys in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        rows = [np.flatnonzero((X == x).all(axis=1))[0] for x in Xs]
        assert np.array_equal(y[rows], ys)


def test_images_and_class_names(tmp_path):
    X = np.random.default_rng(1).integers(0, 256, (30, 3, 4, 4), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 10).astype(np.int32)
    X2, y2, names = read_npz_arrays(_npz(tmp_path, X=X, y=y, class_names=np.array(["cat", "dog", "owl"])))
    assert np.array_equal(X2, X) and X2.dtype == np.uint8
    assert y2.dtype == np.int64 and names == ["cat", "dog", "owl"]


def test_three_dimensional_images_get_a_channel_axis(tmp_path):
    X = np.zeros((10, 5, 6), dtype=np.uint8)
    X2, _, _ = read_npz_arrays(_npz(tmp_path, X=X, y=np.arange(10) % 2))
    assert X2.shape == (10, 1, 5, 6)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": np.zeros(3, dtype=int)}, r"missing array\(s\) X; an npz data set needs X"),
        ({"X": np.zeros((3, 2))}, r"missing array\(s\) y"),
        ({"X": np.zeros((3, 2)), "y": np.zeros(4, dtype=int)}, r"y must be \(3,\) to match X's 3 rows; got shape \(4,\)"),
        ({"X": np.zeros((3, 2)), "y": np.array([0, 1, -1])}, r"labels out of range: y\[2\] = -1, expected >= 0"),
        (
            {"X": np.zeros((3, 2)), "y": np.array([0, 2, 1]), "class_names": np.array(["a", "b"])},
            r"labels out of range: y\[1\] = 2, expected 0..1",
        ),
        ({"X": np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, np.inf]]), "y": np.array([0, 1, 0])},
         r"X has NaN or infinite values in 2 rows \(first: row 1\)"),
        ({"X": np.zeros((3, 2)), "y": np.array([0.0, 0.5, 1.0])}, r"y must hold integer class labels; got dtype float64"),
        ({"X": np.zeros(3), "y": np.array([0, 1, 0])}, r"X must be \(N, D\), \(N, H, W\) or \(N, C, H, W\)"),
        ({"X": np.array([["a", "b"]] * 3), "y": np.array([0, 1, 0])}, r"X must hold numbers; got dtype <U1"),
        ({"X": np.zeros((3, 2)), "y": np.zeros(3, dtype=int)}, r"labels name 1 class; a classifier needs at least 2"),
    ],
)
def test_bad_arrays_are_one_line_data_errors(tmp_path, arrays, message):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_source(f"npz:{path}")
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_whole_number_float_labels_are_accepted(tmp_path):
    _, y, _ = read_npz_arrays(_npz(tmp_path, X=np.zeros((3, 2)), y=np.array([0.0, 1.0, 2.0])))
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = _npz(tmp_path, X=np.array([[1, "x"]] * 3, dtype=object), y=np.array([0, 1, 0]))
    with pytest.raises(DataError, match="cannot read .*store plain numeric arrays"):
        load_source(f"npz:{path}")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"npz file not found: .*nope.npz"):
        load_source(f"npz:{tmp_path / 'nope.npz'}")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match=r"junk.npz: not a readable .npz file"):
        load_source(f"npz:{junk}")


@pytest.mark.parametrize("offset, value, said", [(10, 99, "compression method is not supported"),  # method 99
                                                 (8, 1, "encrypted")])  # flag bit 0: an encrypted entry
def test_a_damaged_zip_directory_entry_is_a_data_error(tmp_path, offset, value, said):
    """A flipped byte in the central directory entry of y.npy (found by the npz fuzz test): zipfile raises
    NotImplementedError or RuntimeError there, not BadZipFile; it must still read as a damaged file."""
    path = _npz(tmp_path, X=np.zeros((4, 2)), y=np.arange(4) % 2)
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02y.npy"[:4], data.index(b"PK\x01\x02") + 1)  # the second entry: y.npy
    assert data[entry + 46:entry + 51] == b"y.npy"
    data[entry + offset] = value
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"d.npz: not a readable .npz file \(.*{said}"):
        load_source(f"npz:{path}")


def test_labels_that_skip_classes_are_refused_without_class_names(tmp_path):
    """Regression (issue 13): one label 42 among 0..9 used to become a 43-class model with 32 empty classes."""
    X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    y = np.arange(30) % 10
    y[7] = 42
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with pytest.raises(DataError, match=r"labels skip classes: 32 of the 43 classes 0..42 .* \(first: 10\)"):
        read_npz_arrays(tmp_path / "d.npz")
    np.savez(tmp_path / "named.npz", X=X, y=np.arange(30) % 3, class_names=np.array(["a", "b", "c", "d"]))
    assert read_npz_arrays(tmp_path / "named.npz")[2] == ["a", "b", "c", "d"]  # named classes may be absent
