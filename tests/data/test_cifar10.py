"""The official CIFAR-10 python-version layout, read from the shared format fixture."""

import io
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from babysit.data import load_source, read_cifar10, safe_unpickle_file
from babysit.data.cifar10 import TRAIN_BATCHES
from babysit.errors import DataError

from .conftest import CIFAR10_CLASSES, fixture_row_jpegs


@pytest.fixture
def cifar_copy(cifar_sample_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the format fixture, for damaging."""
    target = tmp_path / "cifar-10-batches-py"
    shutil.copytree(cifar_sample_dir, target)
    for f in target.iterdir():
        f.chmod(0o644)
    return target


def test_read_cifar10_sample_shapes_and_names(cifar_sample_dir):
    X_train, y_train, X_test, y_test, names = read_cifar10(cifar_sample_dir)
    assert X_train.shape == (1000, 3, 32, 32) and X_train.dtype == np.uint8
    assert y_train.shape == (1000,) and y_train.dtype == np.int64
    assert X_test.shape == (200, 3, 32, 32) and y_test.shape == (200,)
    assert names == CIFAR10_CLASSES
    assert 0 <= y_train.min() and y_train.max() == 9


def test_rows_are_red_green_blue_planes_row_major(cifar_sample_dir):
    raw = safe_unpickle_file(cifar_sample_dir / "data_batch_1")
    row = raw["data"][0]
    X_train, *_ = read_cifar10(cifar_sample_dir)
    x = X_train[0]
    assert x[0, 0, 1] == row[1]  # red, row 0, column 1
    assert x[0, 1, 0] == row[32]  # red, row 1, column 0
    assert x[1, 0, 0] == row[1024]  # green plane starts at 1024
    assert x[2, 31, 31] == row[3071]  # last blue pixel
    assert np.array_equal(x.reshape(-1), row)


def test_pixels_match_the_jpeg_each_row_came_from(cifar_sample_dir, tarball_subset):
    """The fixture rows are the decoded JPEGs: decoding them independently gives the same (3, 32, 32)."""
    X_train, y_train, *_ = read_cifar10(cifar_sample_dir)
    members = fixture_row_jpegs(cifar_sample_dir)
    for i, member in enumerate(members):
        assert y_train[i] == CIFAR10_CLASSES.index(member.split("/")[1])
        hwc = np.asarray(Image.open(io.BytesIO(tarball_subset[member])).convert("RGB"))
        assert np.array_equal(X_train[i], hwc.transpose(2, 0, 1)), member


def test_load_source_cifar10_splits(cifar_sample_dir):
    spec = f"cifar10:{cifar_sample_dir}"
    d = load_source(spec)
    # 1,000 training rows (not 50,000): val_fraction 0.1 holds out 100; test is test_batch.
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (900, 100, 200)
    assert d.input_shape == (3, 32, 32) and d.class_names == CIFAR10_CLASSES and d.source == spec
    _, _, X_test, y_test, _ = read_cifar10(cifar_sample_dir)
    assert np.array_equal(d.X_test, X_test) and np.array_equal(d.y_test, y_test)
    again = load_source(spec)
    assert np.array_equal(d.X_val, again.X_val) and np.array_equal(d.y_train, again.y_train)


def _write_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    with open(path, "wb") as f:
        pickle.dump({"batch_label": "x", "labels": labels, "data": data}, f, protocol=2)


def test_fifty_thousand_rows_give_the_lectures_49000_1000_split(cifar_copy):
    labels = (np.arange(10000) % 10).tolist()
    data = np.zeros((10000, 3072), dtype=np.uint8)
    for name in TRAIN_BATCHES:
        _write_batch(cifar_copy / name, data, labels)
    d = load_source(f"cifar10:{cifar_copy}", val_fraction=0.3)  # the fraction is not used at 50,000
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (49000, 1000, 200)
    assert np.bincount(d.y_val).tolist() == [100] * 10


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 directory not found: .*nowhere"):
        load_source(f"cifar10:{tmp_path / 'nowhere'}")


def test_an_empty_directory_lists_the_expected_files_once(tmp_path):
    with pytest.raises(DataError) as info:
        load_source(f"cifar10:{tmp_path}")
    message = str(info.value)
    assert "holds none of its files" in message and message.count("test_batch") == 1
    assert "data_batch_1..5, test_batch and batches.meta" in message


def test_missing_batch_file_is_named(cifar_copy):
    (cifar_copy / "data_batch_3").unlink()
    with pytest.raises(DataError, match="missing data_batch_3 "):
        load_source(f"cifar10:{cifar_copy}")


def test_truncated_batch_file(cifar_copy):
    path = cifar_copy / "data_batch_2"
    path.write_bytes(path.read_bytes()[:300_000])
    with pytest.raises(DataError, match=r"data_batch_2: corrupted or truncated") as info:
        load_source(f"cifar10:{cifar_copy}")
    assert "\n" not in str(info.value)


def test_corrupted_batch_file(cifar_copy):
    path = cifar_copy / "test_batch"
    data = bytearray(path.read_bytes())
    data[:40] = b"\x00garbage, not a pickle at all!!" + b"\x07" * 9
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="test_batch: corrupted"):
        load_source(f"cifar10:{cifar_copy}")


def test_a_batch_whose_keys_mix_types_is_named_not_a_crash(cifar_copy):
    # found by the slow unpickler fuzz test: sorting int and str keys for the message raised TypeError
    import pickle

    (cifar_copy / "data_batch_1").write_bytes(pickle.dumps({1: 0, "x": 0}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_1: a CIFAR-10 batch needs 'data' and 'labels'; found keys \['x', 1\]"):
        load_source(f"cifar10:{cifar_copy}")


def test_batch_with_wrong_content(cifar_copy):
    _write_batch(cifar_copy / "data_batch_4", np.zeros((5, 100), dtype=np.uint8), [0] * 5)
    with pytest.raises(DataError, match=r"data_batch_4: 'data' must be a uint8 array \(N, 3072\); got uint8 \(5, 100\)"):
        load_source(f"cifar10:{cifar_copy}")


def test_batch_with_labels_out_of_range(cifar_copy):
    _write_batch(cifar_copy / "data_batch_5", np.zeros((3, 3072), dtype=np.uint8), [0, 10, 1])
    with pytest.raises(DataError, match=r"data_batch_5: labels out of range: y\[1\] = 10, expected 0..9"):
        load_source(f"cifar10:{cifar_copy}")


def test_batch_that_is_not_a_dict(cifar_copy):
    (cifar_copy / "data_batch_1").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DataError, match="expected a CIFAR-10 batch"):
        load_source(f"cifar10:{cifar_copy}")
