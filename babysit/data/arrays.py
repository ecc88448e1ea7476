"""Array data sets from ``.npz`` files, and the checks every source's arrays pass."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from babysit.errors import DataError


def check_features(X: np.ndarray, where: str) -> np.ndarray:
    """Validate a feature array and bring it to (N, D) or (N, C, H, W).

    Accepts (N, D), (N, H, W) (given one channel) and (N, C, H, W) arrays of a
    numeric dtype, with no NaN or infinity. Returns X (a view when reshaped).
    """
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: X must hold numbers; got dtype {X.dtype}")
    if X.ndim not in (2, 3, 4) or X.shape[0] == 0:
        raise DataError(
            f"{where}: X must be (N, D), (N, H, W) or (N, C, H, W) with N > 0; got shape {X.shape}"
        )
    if X.dtype.kind == "b":
        X = X.astype(np.uint8)
    if X.dtype.kind == "f":
        bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataError(
                f"{where}: X has NaN or infinite values in {len(rows)} rows (first: row {rows[0]}); "
                f"expected finite numbers"
            )
    if X.ndim == 3:
        X = X[:, None]
    return X


def check_labels(y: np.ndarray, n: int, num_classes: int | None, where: str) -> np.ndarray:
    """Validate labels: (n,) integers in ``0 .. num_classes - 1``; returns them as int64.

    With ``num_classes`` None, only negative labels are out of range.
    """
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"{where}: y must be ({n},) to match X's {n} rows; got shape {y.shape}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
            y = y.astype(np.int64)  # whole-number float labels, as some tools save them
        else:
            raise DataError(f"{where}: y must hold integer class labels; got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    top = num_classes - 1 if num_classes is not None else None
    bad = (y < 0) if top is None else ((y < 0) | (y > top))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        expected = f"0..{top}" if top is not None else ">= 0"
        raise DataError(
            f"{where}: labels out of range: y[{i}] = {y[i]}, expected {expected} "
            f"({bad.sum()} bad labels)"
        )
    return y


def read_npz_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read arrays ``X``, ``y`` and optional ``class_names`` from an .npz (no pickle).

    Returns X (N, D) or (N, C, H, W) in its stored dtype, y (N,) int64 and the
    class names (``class_names`` if stored, else "0", "1", ... up to max(y)).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"npz file not found: {path}")
    where = str(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise DataError(f"cannot read {where}: {exc.strerror or exc}") from None
    if magic != b"PK\x03\x04":  # np.load would take any other file for a pickle
        raise DataError(f"{where}: not a readable .npz file (expected a zip archive written by np.savez)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            missing = [k for k in ("X", "y") if k not in keys]
            if missing:
                raise DataError(
                    f"{where}: missing array(s) {', '.join(missing)}; an npz data set needs "
                    f"X (N, ...) and y (N,), optionally class_names; found {sorted(keys)}"
                )
            X, y = npz["X"], npz["y"]
            names = npz["class_names"] if "class_names" in keys else None
    except DataError:
        raise
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise DataError(f"{where}: cannot read ({exc}); store plain numeric arrays") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        # a damaged zip entry's header can name an unknown compression (NotImplementedError) or say it is
        # encrypted (RuntimeError): zipfile's words for a corrupted file
        raise DataError(f"{where}: not a readable .npz file ({exc})") from None

    X = check_features(X, where)
    class_names = None
    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
            raise DataError(f"{where}: class_names must be a 1-D array of strings; got {names.dtype} {names.shape}")
        class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
        if len(set(class_names)) != len(class_names):
            raise DataError(f"{where}: class_names has duplicates: {class_names}")
    y = check_labels(y, len(X), len(class_names) if class_names else None, where)
    if class_names is None:
        num_classes = int(y.max()) + 1
        missing = np.setdiff1d(np.arange(num_classes), y)
        if len(missing):  # e.g. one label 42 among 0..9: not a 43-class data set with 32 empty classes
            raise DataError(
                f"{where}: labels skip classes: {len(missing)} of the {num_classes} classes 0..{num_classes - 1} "
                f"that the largest label {num_classes - 1} implies have no example (first: {int(missing[0])}); "
                "labels must be 0..K-1 with every class present, or store class_names naming all K classes")
        class_names = [str(i) for i in range(num_classes)]
    return X, y, class_names
