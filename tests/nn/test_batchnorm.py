"""Batchnorm: PyTorch's running-average convention over several steps, eval mode, and misuse."""

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import BatchNorm, SpatialBatchNorm

from .layer_cases import NORM, RUNNING
from .torch_helpers import assert_layer_matches_torch, torch_tensor


def test_one_train_step_updates_running_stats_with_momentum_and_unbiased_variance():
    x = np.random.default_rng(0).standard_normal((8, 3)) * 3 + 2
    bn = BatchNorm(3, dtype=np.float64)
    bn.forward(x)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, 0.9 * 1.0 + 0.1 * x.var(axis=0, ddof=1))


def test_train_output_has_batch_mean_beta_and_std_gamma():
    x = np.random.default_rng(0).standard_normal((500, 3)) * 5 - 7
    bn = BatchNorm(3, dtype=np.float64)
    bn.params["gamma"][...] = [0.5, 1.0, 2.0]
    bn.params["beta"][...] = [-1.0, 0.0, 3.0]
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=0), [-1.0, 0.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [0.5, 1.0, 2.0], rtol=1e-5)


def test_eval_mode_uses_running_statistics():
    bn = BatchNorm(2, dtype=np.float64).eval()
    bn.running_mean[...] = [1.0, -2.0]
    bn.running_var[...] = [4.0, 0.25]
    bn.params["gamma"][...] = [2.0, 1.0]
    bn.params["beta"][...] = [0.5, 0.0]
    x = np.array([[3.0, -2.0], [1.0, -1.5]])
    out = bn.forward(x)
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 1.0] + [0.5, 0.0]
    np.testing.assert_allclose(out, expected)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0])  # eval never moves them


@pytest.mark.parametrize("spatial", [False, True], ids=["batchnorm", "spatial"])
def test_running_statistics_track_torch_over_several_steps_then_eval(torch, spatial):
    rng = np.random.default_rng(3)
    shape = (5, 3, 2, 3) if spatial else (7, 3)
    bn = (SpatialBatchNorm if spatial else BatchNorm)(3, dtype=np.float64)
    module = torch.nn.BatchNorm2d(3) if spatial else torch.nn.BatchNorm1d(3)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        assert_layer_matches_torch(bn, module, x, NORM, train=True, buffers=RUNNING)
        bn.params["gamma"] += 0.1  # both sides read the params again at the next step
    assert_layer_matches_torch(bn, module, rng.standard_normal(shape), NORM, train=False, buffers=RUNNING)
    assert torch_tensor(module, "num_batches_tracked").item() == 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_statistics_keep_the_dtype(dtype):
    bn = SpatialBatchNorm(2, dtype=dtype)
    bn.forward(np.random.default_rng(0).standard_normal((3, 2, 2, 2)).astype(dtype))
    assert bn.running_mean.dtype == dtype and bn.running_var.dtype == dtype


def test_train_mode_needs_more_than_one_value_per_channel():
    with pytest.raises(InputError, match=r"BatchNorm\(4\): train mode needs more than one value per channel"
                                          r".*got input of shape \(1, 4\)"):
        BatchNorm(4, dtype=np.float64).forward(np.ones((1, 4)))
    out = BatchNorm(4, dtype=np.float64).eval().forward(np.ones((1, 4)))  # eval mode is fine
    assert out.shape == (1, 4)


def test_wrong_feature_count_names_layer_expectation_and_shape():
    with pytest.raises(InputError, match=r"BatchNorm\(4\): expected input of shape \(N, 4\), got \(3, 5\)"):
        BatchNorm(4, dtype=np.float64).forward(np.ones((3, 5)))
    with pytest.raises(InputError, match=r"SpatialBatchNorm\(3\): expected a 4-D input \(N, 3, \?, \?\), "
                                         r"got shape \(2, 3\)"):
        SpatialBatchNorm(3, dtype=np.float64).forward(np.ones((2, 3)))


def test_float64_into_float32_batchnorm_is_rejected():
    with pytest.raises(InputError, match=r"BatchNorm\(2\): expected input of dtype float32, got float64"):
        BatchNorm(2).forward(np.ones((3, 2)))


@pytest.mark.parametrize("cls", [BatchNorm, SpatialBatchNorm])
@pytest.mark.parametrize("kwargs, expected", [
    (dict(momentum=-0.1), r"a float in \[0, 1\]\. Got -0.1"), (dict(momentum=1.5), r"a float in \[0, 1\]\. Got 1.5"),
    (dict(momentum=float("nan")), r"a float in \[0, 1\]\. Got nan"), (dict(momentum="0.1"), "a float"),
    (dict(eps=0.0), r"a float in \(0, inf\)\. Got 0.0"), (dict(eps=-1e-5), r"a float in \(0, inf\)"),
    (dict(eps=float("inf")), r"a float in \(0, inf\)"), (dict(dim=0), r"an int in \[1, inf\)"),
    (dict(dim=3.0), r"an int in \[1, inf\)"), (dict(dtype=np.int64), "np.float32 or np.float64"),
])
def test_bad_configuration_names_the_parameter(cls, kwargs, expected):
    args = dict(dim=3) | kwargs
    (parameter,) = kwargs
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of {cls.__name__} must be {expected}"):
        cls(**args)
