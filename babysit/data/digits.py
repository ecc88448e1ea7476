"""The embedded default data set: the UCI 8x8 handwritten digits (1,797 images)."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

DIGITS_CLASS_NAMES = [str(d) for d in range(10)]


def read_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read the digits installed with the package; no download.

    Returns X (1797, 1, 8, 8) uint8 pixel counts 0..16, y (1797,) int64 digits
    0..9, and the class names "0".."9".
    """
    ref = resources.files("babysit.data").joinpath("embedded", "digits.csv.gz")
    with ref.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    # Each row: 64 pixel values (row-major 8x8) then the label.
    X = table[:, :64].astype(np.uint8).reshape(-1, 1, 8, 8)
    y = table[:, 64].astype(np.int64)
    return X, y, list(DIGITS_CLASS_NAMES)
