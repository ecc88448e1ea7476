"""The layer base: dtype resolution, the finiteness check used at the model boundary, the cache check."""

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import Flatten
from babysit.nn.base import as_float_dtype, check_finite


@pytest.mark.parametrize("dtype", [np.float32, "float64", np.dtype(np.float32)])
def test_as_float_dtype_accepts_float32_and_float64(dtype):
    assert as_float_dtype(dtype, "X") in (np.float32, np.float64)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "nonsense", object])
def test_as_float_dtype_rejects_everything_else_naming_the_owner(dtype):
    with pytest.raises(ConfigError, match=r"The 'dtype' parameter of Widget must be np.float32 or np.float64\. Got"):
        as_float_dtype(dtype, "Widget")


def test_the_cache_survives_backward_so_backward_can_run_twice():
    # _checked_cache checks and returns the cache; it does not pop it (a second backward works)
    layer = Flatten()
    layer.forward(np.ones((2, 3, 2)))
    first, second = layer.backward(np.ones((2, 6))), layer.backward(np.ones((2, 6)))
    assert first.shape == second.shape == (2, 3, 2)


def test_check_finite_accepts_huge_values_whose_sum_overflows():
    x = np.full(10, np.finfo(np.float32).max, np.float32)
    check_finite(x, "Net")  # the fast sum is inf, but every value is finite


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_finite_names_count_kind_and_first_index(dtype):
    x = np.zeros((3, 4), dtype)
    x[2, 1], x[1, 3] = np.inf, np.nan
    with pytest.raises(InputError, match=r"Net: input X contains 2 non-finite value\(s\) \(NaN at index \(1, 3\)\)"):
        check_finite(x, "Net", "input X")
