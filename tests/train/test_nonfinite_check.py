"""The Solver's per-step check: its fast dot-product test gives the verdict of the sum it replaces."""

import numpy as np
import pytest

from babysit.train.solver import _finite_gradient, _nonfinite


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", [
    [1.0, -2.0, 3.0], [1e20, 1.0], [3e38, 3e38], [-3e38, 3e38], [np.nan, 1.0], [np.inf, 1.0], [-np.inf, np.inf],
    [1e200, 1.0], [1e300, 1e300], [0.0] * 4,
], ids=str)
def test_fast_gradient_check_agrees_with_the_sum(values, dtype):
    with np.errstate(all="ignore"):
        g = np.array(values).astype(dtype)
        expected = bool(np.isfinite(np.sum(g)))
    assert _finite_gradient(g) is expected
    assert _finite_gradient(g.reshape(-1, 1)[::-1]) is expected  # any shape and layout


def test_nonfinite_names_the_first_bad_gradient():
    grads = {"W1": np.ones((3, 2), np.float32), "W2": np.array([[1e20, np.nan]], np.float32), "b2": np.ones(2)}
    assert _nonfinite(0.5, grads, np.ones((4, 3))) == ("gradient", "of W2")
    assert _nonfinite(0.5, {"W1": np.full(3, 1e20, np.float32)}, np.ones((4, 3))) is None
    assert _nonfinite(float("nan"), {"W1": np.ones(3)}, np.full((2, 2), np.inf))[0] == "data"
