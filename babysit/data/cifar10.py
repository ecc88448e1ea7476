"""CIFAR-10 in the official "python version" layout (``cifar-10-batches-py``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from babysit.data.arrays import check_labels
from babysit.data.safe_pickle import safe_unpickle_file
from babysit.errors import DataError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CIFAR10_CLASS_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]
IMAGE_SHAPE = (3, 32, 32)


def _str_keys(d: dict) -> dict:
    """Keys as str: Python-2 pickles may give bytes keys, depending on how they were made."""
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}


def read_batch(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file: X (N, 3, 32, 32) uint8, y (N,) int64.

    Rows of ``data`` hold 1024 red, then 1024 green, then 1024 blue values, each
    plane row-major, so a plain reshape gives (N, 3, 32, 32).
    """
    batch = safe_unpickle_file(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a CIFAR-10 batch (a dict); got {type(batch).__name__}")
    batch = _str_keys(batch)
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: a CIFAR-10 batch needs 'data' and 'labels'; found keys {sorted(batch, key=repr)}")  # (keys of any types)
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a uint8 array (N, 3072); got {got}")
    try:
        labels = np.asarray(batch["labels"])
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: 'labels' is not a list of ints ({exc})") from None
    y = check_labels(labels, len(data), num_classes, str(path))
    return data.reshape((-1,) + IMAGE_SHAPE), y


def read_class_names(directory: Path) -> list[str]:
    """Label names from ``batches.meta``, in label order."""
    meta = safe_unpickle_file(directory / META)
    names = _str_keys(meta).get("label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, (str, bytes)) for n in names):
        raise DataError(f"{directory / META}: expected a dict with 'label_names', a list of strings")
    return [n.decode("latin1") if isinstance(n, bytes) else n for n in names]


def read_cifar10(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read an official CIFAR-10 python-version directory.

    Returns X_train (N, 3, 32, 32) uint8 (data_batch_1..5 in order), y_train (N,)
    int64, X_test, y_test (test_batch) and the class names from batches.meta.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataError(f"CIFAR-10 directory not found: {directory}")
    expected = (*TRAIN_BATCHES, TEST_BATCH, META)
    missing = [name for name in expected if not (directory / name).is_file()]
    if missing:
        what = "it holds none of its files" if len(missing) == len(expected) else f"missing {', '.join(missing)}"
        raise DataError(
            f"{directory} is not a CIFAR-10 python-version directory: {what} (expected "
            f"{TRAIN_BATCHES[0]}..{len(TRAIN_BATCHES)}, {TEST_BATCH} and {META}, as extracted from cifar-10-python.tar.gz)"
        )
    class_names = read_class_names(directory)
    train = [read_batch(directory / name, len(class_names)) for name in TRAIN_BATCHES]
    X_test, y_test = read_batch(directory / TEST_BATCH, len(class_names))
    X_train = np.concatenate([X for X, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return X_train, y_train, X_test, y_test, class_names
