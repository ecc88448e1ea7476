"""Shared test fixtures: the location of ../shared/data and the skip when it is absent; one BLAS thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    """Run the test process's BLAS on one thread.

    The tests multiply small matrices, where extra BLAS threads buy nothing and, on a machine whose cores
    are busy, spin and wait for each other: on 2 shared cores at load ~5, tests/train took 68 s with the
    default threads and 25 s with one (the slides' 20-example overfit alone: 9.7 s -> 1.0 s). Only this
    process is limited: `python -m babysit` subprocesses (tests/cli) and spawned search workers start
    with the product's own settings, which their tests check.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory ../shared/data beside the repository; skips the test where it is absent."""
    if not (SHARED_DATA / "cifar10-train-jpeg.tar.gz").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (it is beside the repository on CI only)")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
