"""The ``Dataset`` every data source returns, and class matching across sources."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from babysit.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


@dataclass
class Dataset:
    """Train/val/test splits of one data source, with class names in label order.

    X arrays are (N, C, H, W) for images (uint8 pixels) or (N, D) for flat
    features; y arrays are int64 labels in ``0 .. num_classes - 1``, where label
    ``i`` means ``class_names[i]``. ``source`` is the spec it was loaded from.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) for images, (D,) for flat features."""
        return tuple(self.X_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X, y)`` of split ``name`` ('train', 'val' or 'test')."""
        if name not in SPLITS:
            raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {name!r}")
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` training rows drawn without replacement (all rows when there are fewer), in sorted order."""
        if n >= len(self.y_train):
            return self.X_train, self.y_train
        rows = np.sort(rng.choice(len(self.y_train), n, replace=False))
        return self.X_train[rows], self.y_train[rows]

    def stratified_sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """About ``n`` training rows covering as many classes as possible (round-robin over classes)."""
        if n >= len(self.y_train):
            return self.X_train, self.y_train
        by_class = [rng.permutation(np.flatnonzero(self.y_train == c)) for c in np.unique(self.y_train)]
        rows, depth = [], 0
        while len(rows) < n:
            for members in by_class:
                if depth < len(members) and len(rows) < n:
                    rows.append(members[depth])
            depth += 1
        rows = np.sort(np.array(rows))
        return self.X_train[rows], self.y_train[rows]

    def as_dict(self) -> dict[str, np.ndarray]:
        """The cs231n ``data`` dict: X_train, y_train, X_val, y_val, X_test, y_test."""
        return {f"{a}_{s}": getattr(self, f"{a}_{s}") for s in SPLITS for a in ("X", "y")}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, f'y_{s}'))}" for s in SPLITS)
        return (
            f"Dataset(source={self.source!r}, {sizes}, input_shape={self.input_shape}, "
            f"dtype={self.X_train.dtype}, num_classes={self.num_classes})"
        )


def label_map(class_names, order) -> np.ndarray:
    """``new_label[old_label]``: the position in ``order`` of each of ``class_names`` (the same names)."""
    order = [str(n) for n in order]
    return np.array([order.index(str(n)) for n in class_names], dtype=np.int64)


def match_classes(train_class_names: list[str], dataset: Dataset) -> Dataset:
    """Relabel ``dataset`` so that label i means ``train_class_names[i]``.

    Inputs: the class names a model was trained with (label order) and a data set
    holding the same classes, possibly in another order. Returns a new Dataset
    (X arrays shared, y arrays remapped). Raises DataError when the names differ.
    """
    train_names = [str(n) for n in train_class_names]
    if len(set(train_names)) != len(train_names):
        raise DataError(f"the model's class names contain duplicates: {train_names}")
    if train_names == list(dataset.class_names):
        return dataset
    missing = [n for n in train_names if n not in dataset.class_names]
    extra = [n for n in dataset.class_names if n not in train_names]
    if missing or extra:
        raise DataError(
            f"classes of {dataset.source!r} do not match the model's: "
            f"model has {len(train_names)} classes {train_names}, data has "
            f"{dataset.num_classes} {list(dataset.class_names)} "
            f"(not in data: {missing}; not in model: {extra})"
        )
    new_label = label_map(dataset.class_names, train_names)
    remapped = {f"y_{s}": new_label[getattr(dataset, f"y_{s}")] for s in SPLITS}
    return dataclasses.replace(dataset, class_names=train_names, **remapped)
