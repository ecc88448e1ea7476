"""MaxPool2d: random windows and strides against PyTorch, tie handling, misuse."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babysit.errors import ConfigError, InputError
from babysit.nn import MaxPool2d

from .layer_cases import distinct
from .torch_helpers import assert_layer_matches_torch


@st.composite
def pool_configs(draw):
    size, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(size, 9)), draw(st.integers(size, 9))
    return draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w, size, stride


@settings(max_examples=30, deadline=None)
@given(pool_configs(), st.integers(0, 2**16))
def test_random_windows_match_torch(torch, config, seed):
    n, c, h, w, size, stride = config
    x = distinct(np.random.default_rng(seed), (n, c, h, w))
    result = assert_layer_matches_torch(MaxPool2d(size, stride), torch.nn.MaxPool2d(size, stride), x, seed=seed)
    assert result["out"].shape == (n, c, (h - size) // stride + 1, (w - size) // stride + 1)


def test_2x2_stride_2_by_hand():
    x = np.array([[[[1.0, 2.0, 5.0, 0.0],
                    [3.0, 4.0, 1.0, 1.5],
                    [0.0, 0.0, 9.0, 8.0],
                    [7.0, 0.5, 2.0, 3.0]]]])
    pool = MaxPool2d(2, 2)
    np.testing.assert_array_equal(pool.forward(x)[0, 0], [[4.0, 5.0], [7.0, 9.0]])
    dx = pool.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[0, 2], expected[3, 0], expected[2, 2] = 10.0, 20.0, 30.0, 40.0
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_overlapping_windows_accumulate_into_a_shared_maximum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the centre wins every 2x2 window at stride 1
    pool = MaxPool2d(2, 1)
    np.testing.assert_array_equal(pool.forward(x), np.full((1, 1, 2, 2), 5.0))
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_ties_send_the_gradient_to_the_first_maximum_only():
    pool = MaxPool2d(2, 2)
    pool.forward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(pool.backward(np.full((1, 1, 1, 1), 3.0))[0, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_input_smaller_than_window():
    with pytest.raises(InputError, match=r"MaxPool2d\(size=3, stride=3\): input of spatial size \(2, 5\) "
                                         r"is smaller than the window 3"):
        MaxPool2d(3).forward(np.ones((1, 1, 2, 5)))


def test_wrong_rank():
    with pytest.raises(InputError, match=r"MaxPool2d.*expected a 4-D input.*got shape \(4, 4\)"):
        MaxPool2d(2).forward(np.ones((4, 4)))


@pytest.mark.parametrize("size, stride, parameter", [(0, 1, "size"), (2, 0, "stride"), (2.0, None, "size"),
                                                    (2, 1.5, "stride"), (True, None, "size")])
def test_bad_configuration(size, stride, parameter):
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of MaxPool2d must be an int in \[1, inf\)"):
        MaxPool2d(size, stride)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    pool = MaxPool2d(2)
    out = pool.forward(np.ones((1, 1, 4, 4), dtype=dtype))
    assert out.dtype == dtype and pool.backward(np.ones_like(out)).dtype == dtype


@pytest.mark.parametrize("layout", ["nchw", "chwn"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_pass_equals_the_running_maximum_on_tied_values(monkeypatch, layout, dtype):
    """The 2x2 windows' pairwise pass picks the same max and the same (first) winner as the general
    running maximum, on values with many ties and small channel blocks, with and without the fused ReLU."""
    from babysit.nn import pool

    monkeypatch.setattr(pool, "CACHE_BLOCK_BYTES", 256)  # several channel blocks, a short last one
    x = np.random.default_rng(3).integers(-2, 3, (3, 7, 6, 8)).astype(dtype)
    if layout == "chwn":
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    for relu in (False, True):
        fast, cache = pool.maxpool_forward(x, 2, 2, relu=relu)
        monkeypatch.setattr(pool, "_max2x2", pool._max_running)
        slow, slow_cache = pool.maxpool_forward(x, 2, 2, relu=relu)
        monkeypatch.undo()
        monkeypatch.setattr(pool, "CACHE_BLOCK_BYTES", 256)
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(cache.argmax, slow_cache.argmax)
        assert np.isin(cache.argmax, [0, 1, 2, 3, 4] if relu else [0, 1, 2, 3]).all()
