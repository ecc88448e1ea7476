"""Freezing and per-layer learning-rate multipliers: frozen parameters and BatchNorm statistics stay
bit-identical, backward stops at the lowest trainable layer, gradients stay right, multipliers match
PyTorch's param groups."""

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.nn import ConvNet, FullyConnectedNet
from babysit.nn.gradcheck import check_model_gradients
from babysit.train.optim import make_optimizer
from babysit.train.solver import Solver

from tests.train.test_optim import TORCH_CASES  # the same matching hyperparameters


def _images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
    return X, rng.integers(0, 3, n)


def _conv(**kw):
    return ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], hidden_dims=[8], num_classes=3,
                   normalization="batchnorm", seed=0, **kw)


def _state(model):
    arrays = {k: v.copy() for k, v in model.params.items()}
    for layer in model.layers:
        for attr in ("running_mean", "running_var"):
            if hasattr(layer, attr):
                arrays[f"{id(layer)}.{attr}"] = getattr(layer, attr).copy()
    return arrays


def _train(model, steps_epochs=2, **solver_kw):
    X, y = _images()
    data = {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}
    Solver(model, data, update_rule="momentum", optim_config={"learning_rate": 0.05}, batch_size=10,
           num_epochs=steps_epochs, verbose=False, seed=0, explosion_factor=None, **solver_kw).train()


def _bn_stats(model, block):
    layer = next(layer for layer in model._blocks[block] if hasattr(layer, "running_mean"))
    return layer.running_mean.copy(), layer.running_var.copy()


def test_frozen_parameters_and_batchnorm_statistics_are_bit_identical_after_training():
    model = _conv().freeze([1, 2])
    before = _state(model)
    stats_before = [_bn_stats(model, k) for k in (1, 2, 3)]
    _train(model)
    for name in ("W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2"):
        assert np.array_equal(model.params[name], before[name]), name
    for k in (1, 2):
        assert all(np.array_equal(a, b) for a, b in zip(_bn_stats(model, k), stats_before[k - 1])), k
    # the trainable blocks moved, and so did their BatchNorm statistics
    for name in ("W3", "gamma3", "W4", "b4"):
        assert not np.array_equal(model.params[name], before[name]), name
    assert not np.array_equal(_bn_stats(model, 3)[0], stats_before[2][0])


def test_train_bn_keeps_batchnorm_trainable_in_frozen_blocks():
    model = _conv().freeze([1, 2], train_bn=True)
    before = _state(model)
    stats = _bn_stats(model, 1)
    _train(model)
    assert np.array_equal(model.params["W1"], before["W1"]) and np.array_equal(model.params["W2"], before["W2"])
    assert not np.array_equal(model.params["gamma1"], before["gamma1"])
    assert not np.array_equal(_bn_stats(model, 1)[0], stats[0])


def test_backward_stops_at_the_lowest_trainable_layer():
    model = _conv()
    X, y = _images(10)
    model.loss(X, y)
    model.freeze([1, 2])
    for name in ("W1", "W2", "gamma1"):
        model.grads[name][...] = np.nan  # a backward into a frozen block below the stop would overwrite these
    _, grads = model.loss(X, y)
    assert set(grads) == {"W3", "b3", "gamma3", "beta3", "W4", "b4"}
    assert all(np.isnan(model.grads[n]).all() for n in ("W1", "W2", "gamma1"))
    assert model.layers.backward_stop == model.layers.layers.index(model._blocks[3][0])
    assert not model.layers[model.layers.backward_stop].input_grad  # nobody below needs its input gradient
    model.unfreeze()
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params) and model.layers.backward_stop == 0
    assert np.isfinite(model.grads["W1"]).all()


def test_unfrozen_gradients_are_right_with_a_frozen_block_between_trainable_ones():
    """A frozen middle block (its BatchNorm in eval mode) is backpropagated through: numeric gradient check."""
    rng = np.random.default_rng(0)
    model = FullyConnectedNet([7, 6], input_dim=5, num_classes=4, normalization="batchnorm", reg=0.1,
                              dtype=np.float64, seed=0)
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 4, 9)
    model.loss(X, y)  # move the running statistics away from (0, 1)
    model.freeze(2)
    names = [n for n in model.params if model.block_of(n) != 2]
    errors = check_model_gradients(model, X, y, params=names)
    assert max(e for e, _ in errors.values()) < 1e-6, errors
    assert set(model.frozen_params) == {"W2", "b2", "gamma2", "beta2"}


def test_a_fully_frozen_model_trains_nothing_and_reports_its_loss():
    model = _conv().freeze()
    X, y = _images(10)
    loss, grads = model.loss(X, y)
    assert grads == {} and np.isfinite(loss)


def test_unknown_block_is_a_config_error():
    with pytest.raises(ConfigError, match="blocks"):
        _conv().freeze([9])


@pytest.mark.parametrize("rule, config, torch_name, torch_kwargs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_lr_multipliers_match_torch_param_groups(torch, rule, config, torch_name, torch_kwargs):
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(3), "W2": rng.standard_normal((3, 2))}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(6)]
    lr, mults = 0.05, {"W1": 0.1, "b1": 0.1}  # W2 keeps the base rate

    def make(tensors, rate):
        w1, b1, w2 = tensors
        groups = [{"params": [w1, b1], "lr": rate * 0.1}, {"params": [w2], "lr": rate}]
        return getattr(torch.optim, torch_name)(groups, lr=rate, **torch_kwargs)

    start = {k: v.copy() for k, v in params.items()}
    ours = make_optimizer(rule, lr_mults=mults, **config)
    torch_params = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    theirs = make(list(torch_params.values()), lr)
    for step in grads:
        ours.step(params, step, lr)
        for k, t in torch_params.items():
            t.grad = torch.tensor(step[k])
        theirs.step()
        for k, t in torch_params.items():
            np.testing.assert_allclose(params[k], t.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=k)
    assert np.abs(params["W2"] - start["W2"]).max() > 1e-3  # the comparison is not trivial


def test_lr_multiplier_must_be_positive():
    with pytest.raises(ConfigError, match="lr_mult"):
        make_optimizer("sgd", lr_mults={"W1": 0.0})


def test_solver_applies_lr_multipliers_and_skips_frozen_parameters():
    model = _conv().freeze([1])
    before = _state(model)
    _train(model, steps_epochs=1, lr_mults={"W2": 1e-9, "b2": 1e-9})
    assert np.array_equal(model.params["W1"], before["W1"])
    assert np.abs(model.params["W2"] - before["W2"]).max() < 1e-6 < np.abs(model.params["W3"] - before["W3"]).max()


def test_stopping_the_backward_leaves_the_trainable_gradients_unchanged():
    """Without BatchNorm, freezing changes nothing in the forward: the trainable blocks' gradients are bit-equal."""
    X, y = _images(12)
    whole = ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], hidden_dims=[8], num_classes=3, seed=0, reg=0.01)
    stopped = ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], hidden_dims=[8], num_classes=3, seed=0,
                      reg=0.01).freeze([1, 2])
    loss_a, grads_a = whole.loss(X, y)
    loss_b, grads_b = stopped.loss(X, y)
    assert loss_a == loss_b and set(grads_b) == {"W3", "b3", "W4", "b4"}
    for name, g in grads_b.items():
        assert np.array_equal(g, grads_a[name]), name


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_frozen_blocks_above_the_lowest_trainable_one_get_no_parameter_gradient_work(algorithm):
    """freeze([2, 3]) with block 1 trainable: blocks 2-3 pass the gradient down (dx) and compute no dW/db of
    their own (NaN sentinels survive); every trainable gradient is bit-equal to the unfrozen model's."""
    X, y = _images(12)

    def make():
        return ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], hidden_dims=[8], num_classes=3, seed=0, reg=0.01,
                       conv_algorithm=algorithm)

    whole, part = make(), make().freeze([2, 3])
    assert whole.layers[0].uses_winograd == (algorithm == "winograd")
    for name in ("W2", "b2", "W3", "b3"):
        part.grads[name][...] = np.nan  # a parameter gradient computed for a frozen layer would overwrite these
    loss_a, grads_a = whole.loss(X, y)
    loss_b, grads_b = part.loss(X, y)
    assert loss_a == loss_b and set(grads_b) == {"W1", "b1", "W4", "b4"}
    assert all(np.isnan(part.grads[n]).all() for n in ("W2", "b2", "W3", "b3"))
    for name, g in grads_b.items():
        assert np.array_equal(g, grads_a[name]), name
    assert part.layers.backward_stop == 0 and not any(
        layer.param_grad for layer in part._blocks[2] + part._blocks[3])


def test_a_frozen_batchnorm_above_the_stop_passes_only_dx_and_the_gradient_check_holds():
    rng = np.random.default_rng(1)
    model = FullyConnectedNet([7, 6], input_dim=5, num_classes=4, normalization="batchnorm", dtype=np.float64, seed=0)
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 4, 9)
    model.loss(X, y)
    model.freeze(2)
    for name in ("W2", "b2", "gamma2", "beta2"):
        model.grads[name][...] = np.nan
    errors = check_model_gradients(model, X, y, params=[n for n in model.params if model.block_of(n) != 2])
    assert max(e for e, _ in errors.values()) < 1e-6, errors
    assert all(np.isnan(model.grads[n]).all() for n in ("W2", "b2", "gamma2", "beta2"))


def test_a_batchnorm_as_the_stop_layer_computes_no_input_gradient():
    """head with train_bn: the lowest trainable layer is block 1's BatchNorm; it returns no dx, and the
    gradients are bit-equal to a full backward's (train_bn leaves the forward unchanged)."""
    X, y = _images(12)
    whole, part = _conv(), _conv().freeze([1, 2, 3], train_bn=True)
    stop = part.layers[part.layers.backward_stop]
    assert type(stop).__name__ == "SpatialBatchNorm" and not stop.input_grad
    returned = []
    backward = stop.backward
    stop.backward = lambda dout: returned.append(backward(dout)) or returned[-1]
    _, grads_a = whole.loss(X, y)
    _, grads_b = part.loss(X, y)
    assert returned == [None]
    assert set(grads_b) == {"gamma1", "beta1", "gamma2", "beta2", "gamma3", "beta3", "W4", "b4"}
    for name, g in grads_b.items():
        assert np.array_equal(g, grads_a[name]), name


def test_frozen_maxout_and_affine_blocks_above_a_trainable_one_skip_their_parameter_gradients():
    X, y = np.random.default_rng(2).standard_normal((10, 6)), np.arange(10) % 3

    def make():
        return FullyConnectedNet([5, 4], input_dim=6, num_classes=3, activation="maxout", seed=0, reg=0.1)

    whole, part = make(), make().freeze([2])
    part.grads["W2"][...] = np.nan
    _, grads_a = whole.loss(X, y)
    _, grads_b = part.loss(X, y)
    assert np.isnan(part.grads["W2"]).all() and set(grads_b) == {"W1", "b1", "W3", "b3"}
    for name, g in grads_b.items():
        assert np.array_equal(g, grads_a[name]), name
