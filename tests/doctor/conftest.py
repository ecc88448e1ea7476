"""Fixtures for the doctor's tests: the embedded digits, standardized as the doctor's CLI does."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def digits():
    """The embedded digits as the doctor sees them: standardized (fitted on train), float32, (N, 1, 8, 8)."""
    from babysit.data import Preprocessor, load_source

    ds = load_source("digits", seed=0)
    pre = Preprocessor.from_spec("standardize")
    return {"X_train": pre.fit_transform(ds.X_train), "y_train": ds.y_train,
            "X_val": pre.transform(ds.X_val), "y_val": ds.y_val}


@pytest.fixture(scope="session")
def small_digits(digits):
    """400 training rows: enough for every check, and quick."""
    return {"X_train": digits["X_train"][:400], "y_train": digits["y_train"][:400],
            "X_val": digits["X_val"][:100], "y_val": digits["y_val"][:100]}
