"""Deterministic, stratified train/val/test splits."""

from __future__ import annotations

import numbers

import numpy as np

from babysit.errors import DataError
from babysit.validation import Interval, check_float, check_int, invalid


def split_size(value: float | int, n: int, name: str, owner: str = "load_source") -> int:
    """Number of rows a split takes out of ``n``.

    ``value``, the parameter ``name`` of ``owner``, is a fraction in [0, 1) or an int
    count of rows in [0, n); a positive fraction always yields at least one row.
    Raises ConfigError when out of range.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return check_int(owner, name, value, Interval(0, n, "left"))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = check_float(owner, name, value, Interval(0.0, 1.0, "left"))
        return max(1, round(value * n)) if value > 0 else 0
    raise invalid(owner, name, f"a fraction in [0, 1) or a row count in [0, {n})", value)


def _allocate(total: int, counts: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Split ``total`` rows over classes in proportion to ``counts`` (largest remainder).

    No class gets more than its ``capacity``; the result sums to ``total`` exactly.
    """
    quota = total * counts / counts.sum()
    alloc = np.minimum(np.floor(quota).astype(np.int64), capacity)
    short = total - int(alloc.sum())
    # Hand out the rest to the classes with the largest fractional quota first.
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    while short > 0:
        room = [c for c in order if alloc[c] < capacity[c]]
        if not room:
            raise DataError(f"cannot take {total} rows out of {int(counts.sum())}")
        for c in room[:short]:
            alloc[c] += 1
        short = total - int(alloc.sum())
    return alloc


def stratified_split(
    y: np.ndarray, n_val: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train, val and test rows, each class in proportion, each split shuffled.

    Inputs: y (N,) int labels; n_val, n_test rows to hold out (n_val + n_test < N);
    rng drives every random choice, so a fixed seed gives the same split.
    Returns three int64 index arrays that partition ``range(N)``.
    """
    n = len(y)
    if n_val + n_test >= n:
        raise DataError(
            f"a split of {n} rows into val={n_val} and test={n_test} leaves no training rows"
        )
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    test_per_class = _allocate(n_test, counts, counts)
    val_per_class = _allocate(n_val, counts, counts - test_per_class)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(inverse == c))
        t, v = test_per_class[c], val_per_class[c]
        parts["test"].append(rows[:t])
        parts["val"].append(rows[t : t + v])
        parts["train"].append(rows[t + v :])
    # Shuffle within each split: sources sorted by class (image folders) must not
    # hand out single-class minibatches or single-class prefixes like X_train[:20].
    return tuple(
        rng.permutation(np.concatenate(parts[s]).astype(np.int64)) for s in ("train", "val", "test")
    )
