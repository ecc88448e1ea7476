"""Update rules: parity with torch.optim, in-place updates, dtype kept, config validated; the rules' parity,
in-place and state tests run on both kernel sets (the ``kernels`` fixture)."""

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.train.optim import UPDATE_RULES, make_optimizer

# tests/ is on sys.path (pytest puts the first folder without an __init__.py there), so tests/nn is `nn`
from nn.torch_helpers import assert_optimizer_matches_torch, torch_optimizer_steps

SHAPES = {"W": (5, 3), "b": (3,)}


def _params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def _grad_sequence(steps, seed=1):
    rng = np.random.default_rng(seed)
    return [{k: rng.standard_normal(s) for k, s in SHAPES.items()} for _ in range(steps)]


# (our rule, our config, torch class name, torch kwargs): matching hyperparameters.
TORCH_CASES = [
    ("sgd", {}, "SGD", {}),
    ("momentum", {"momentum": 0.9}, "SGD", {"momentum": 0.9}),
    ("nesterov", {"momentum": 0.8}, "SGD", {"momentum": 0.8, "nesterov": True}),
    ("rmsprop", {"decay_rate": 0.95, "epsilon": 1e-6}, "RMSprop", {"alpha": 0.95, "eps": 1e-6}),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-7}, "Adam", {"betas": (0.8, 0.99), "eps": 1e-7}),
]


@pytest.mark.parametrize("rule, config, torch_name, torch_kwargs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch_optim_over_several_steps(torch, kernels, rule, config, torch_name, torch_kwargs):
    lr, steps = 0.05, 7
    params = _params()
    make = lambda tensors, rate: getattr(torch.optim, torch_name)(tensors, lr=rate, **torch_kwargs)  # noqa: E731
    assert_optimizer_matches_torch(make_optimizer(rule, **config), make, params, _grad_sequence(steps), [lr] * steps,
                                   rtol=1e-12, atol=1e-14)
    # the parameters moved well away from the start: the comparison is not trivial
    assert np.abs(params["W"] - _params()["W"]).max() > 0.05


def test_momentum_convention_differs_from_torch_only_when_lr_changes(torch):
    """Documented choice: v = mu*v - lr*g (cs231n). With a changing lr, PyTorch's v = mu*v + g,
    p -= lr*v rescales the old velocity too; ours matches the hand-written cs231n formula."""
    mu, lrs = 0.9, [0.1, 0.1, 0.01, 0.01]
    params = _params()
    grads = _grad_sequence(len(lrs))
    expected = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    theirs = torch_optimizer_steps(lambda ts, lr: torch.optim.SGD(ts, lr=lr, momentum=mu), params, grads, lrs)[-1]
    ours = make_optimizer("momentum", momentum=mu)
    for lr, g in zip(lrs, grads):
        ours.step(params, g, lr)
        for k in expected:
            velocity[k] = mu * velocity[k] - lr * g[k]
            expected[k] = expected[k] + velocity[k]
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-12)
    assert np.abs(params["W"] - theirs["W"]).max() > 1e-3


@pytest.mark.parametrize("rule", list(UPDATE_RULES))
def test_updates_in_place_and_keeps_float32(kernels, rule):
    params = _params(np.float32)
    arrays = {k: v for k, v in params.items()}
    before = {k: v.copy() for k, v in params.items()}
    opt = make_optimizer(rule)
    for i, grads in enumerate(_grad_sequence(4)):  # float64 gradients must not upcast float32 parameters; float32
        if i % 2:                                     # ones take the numba kernels where they are in use
            grads = {k: g.astype(np.float32) for k, g in grads.items()}
        opt.step(params, grads, 1e-2)
    for k, v in params.items():
        assert v is arrays[k]
        assert v.dtype == np.float32
        assert not np.array_equal(v, before[k])
        for buf in opt.state[k].values():
            assert buf.dtype == np.float32


@pytest.mark.parametrize("rule", list(UPDATE_RULES))
def test_does_not_modify_gradients(kernels, rule):
    params = _params()
    grads = _grad_sequence(1)[0]
    copies = {k: g.copy() for k, g in grads.items()}
    make_optimizer(rule).step(params, grads, 0.1)
    for k in grads:
        np.testing.assert_array_equal(grads[k], copies[k])


def test_sgd_step_is_hand_computed():
    p = {"w": np.array([1.0, -2.0])}
    make_optimizer("sgd").step(p, {"w": np.array([0.5, 4.0])}, 0.1)
    np.testing.assert_allclose(p["w"], [0.95, -2.4])


def test_adam_first_step_moves_each_weight_by_lr():
    # with bias correction the first Adam step is lr * g / (|g| + eps) ~ lr * sign(g)
    p = {"w": np.zeros(3)}
    make_optimizer("adam").step(p, {"w": np.array([3.0, -0.001, 50.0])}, 0.01)
    np.testing.assert_allclose(p["w"], [-0.01, 0.01, -0.01], rtol=1e-4)


def test_state_is_kept_per_parameter_name(kernels):
    opt = make_optimizer("momentum", momentum=0.5)
    p = {"a": np.zeros(2), "b": np.zeros(2)}
    opt.step(p, {"a": np.ones(2), "b": -np.ones(2)}, 1.0)
    np.testing.assert_allclose(opt.state["a"]["velocity"], [-1, -1])
    np.testing.assert_allclose(opt.state["b"]["velocity"], [1, 1])


def test_config_errors_have_one_message_format():
    with pytest.raises(ConfigError, match=r"The 'momentum' parameter of momentum must be a float in \[0, 1\)\. Got 1\.5 instead\."):
        make_optimizer("momentum", momentum=1.5)
    with pytest.raises(ConfigError, match=r"The 'epsilon' parameter of adam must be a float in \(0, inf\)\. Got 0\.0 instead\."):
        make_optimizer("adam", epsilon=0.0)
    with pytest.raises(ConfigError, match=r"The 'decay_rate' parameter of rmsprop must be a float .* Got 'high' instead"):
        make_optimizer("rmsprop", decay_rate="high")
    with pytest.raises(ConfigError, match=r"Unknown parameter 'momentum' for sgd; expected one of: \(none\)"):
        make_optimizer("sgd", momentum=0.9)
    with pytest.raises(ConfigError, match=r"Unknown update rule 'adagrad' for make_optimizer; expected one of: sgd, "
                                          r"momentum, nesterov, rmsprop, adam\.") as info:
        make_optimizer("adagrad")
    assert info.value.for_flag("--update") == ("--update must be one of: sgd, momentum, nesterov, rmsprop, adam. "
                                               "Got 'adagrad' instead.")
    for lr in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=rf"The 'lr' parameter of sgd must be a float in \[0, inf\)\. Got {lr}"):
            make_optimizer("sgd").step(_params(), _grad_sequence(1)[0], lr)


def test_missing_or_misshapen_gradient_is_an_input_error():
    opt = make_optimizer("sgd")
    with pytest.raises(InputError, match="no gradient for parameter 'b'"):
        opt.step(_params(), {"W": np.zeros((5, 3))}, 0.1)
    with pytest.raises(InputError, match=r"gradient of 'b' has shape \(4,\), expected \(3,\)"):
        opt.step(_params(), {"W": np.zeros((5, 3)), "b": np.zeros(4)}, 0.1)
