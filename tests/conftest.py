"""Shared test fixtures: ../shared/data and torch, each skipping the tests that need it where it is absent; one BLAS thread."""

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


@pytest.fixture(params=["numpy", "numba"])
def kernels(request, monkeypatch):
    """Run a test with each kernel set (babysit.nn.kernels): the fused conv -> ReLU -> pool's passes and the
    update rules, in NumPy and in numba (skipped, with the reason, where numba is not installed)."""
    if request.param == "numba":
        pytest.importorskip("numba", reason="the numba kernels are optional: pip install 'babysit[numba]'")
    monkeypatch.setenv("BABYSIT_KERNELS", request.param)
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


TORCH_MISSING = "torch is not installed (pip install torch==2.13.0, a test-only dependency)"


@pytest.fixture(scope="session")
def torch():
    """The torch module, for PyTorch parity tests: the one way a test gets torch; skips it where torch is missing.

    Session-scoped, so hypothesis tests can take it too.
    """
    return pytest.importorskip("torch", reason=TORCH_MISSING)


def pytest_itemcollected(item):
    """A test that takes the ``torch`` fixture is marked ``torch`` (``-m "not torch"`` deselects it)."""
    if "torch" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.torch)
