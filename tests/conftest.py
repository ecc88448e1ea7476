"""Shared test fixtures: the location of ../shared/data and the skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory ../shared/data beside the repository; skips the test where it is absent."""
    if not (SHARED_DATA / "cifar10-train-jpeg.tar.gz").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (it is beside the repository on CI only)")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
