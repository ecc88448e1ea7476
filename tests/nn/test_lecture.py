"""The lecture's own API: init_two_layer_model and two_layer_net, as on the slides."""

import math

import numpy as np
import pytest

import babysit
from babysit.errors import InputError
from babysit.nn import FullyConnectedNet, eval_numerical_gradient, init_two_layer_model, rel_error, two_layer_net


def _cifar_like(n=50, d=3072, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, 10, n)


def test_importable_from_the_top_level():
    assert babysit.init_two_layer_model is init_two_layer_model
    assert babysit.two_layer_net is two_layer_net
    assert babysit.FullyConnectedNet is FullyConnectedNet


def test_init_two_layer_model_uses_0_0001_randn_and_zero_biases():
    model = init_two_layer_model(3072, 50, 10, rng=0)
    assert model["W1"].shape == (3072, 50) and model["W2"].shape == (50, 10)
    assert model["W1"].std() == pytest.approx(1e-4, rel=0.02)
    assert model["W2"].std() == pytest.approx(1e-4, rel=0.15)  # only 500 draws
    assert not model["b1"].any() and not model["b2"].any()


def test_initial_loss_is_ln_10_with_no_regularization():
    X, y = _cifar_like()
    model = init_two_layer_model(3072, 50, 10, rng=0)
    loss, grads = two_layer_net(X, model, y, 0.0)
    assert loss == pytest.approx(math.log(10), abs=1e-3)  # the slide's 2.3026
    assert set(grads) == {"W1", "b1", "W2", "b2"}


def test_regularization_raises_the_loss_by_exactly_half_reg_sum_of_squares():
    X, y = _cifar_like()
    model = init_two_layer_model(3072, 50, 10, rng=0)
    loss0, _ = two_layer_net(X, model, y, 0.0)
    loss1, _ = two_layer_net(X, model, y, 1e3)
    l2 = 0.5 * 1e3 * (np.sum(model["W1"] ** 2) + np.sum(model["W2"] ** 2))
    assert loss1 > loss0
    assert loss1 - loss0 == pytest.approx(l2, rel=1e-9)


def test_scores_without_labels():
    X, _ = _cifar_like(n=3)
    scores = two_layer_net(X, init_two_layer_model(3072, 50, 10, rng=0))
    assert scores.shape == (3, 10)


def test_numeric_gradients():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 5)), np.array([0, 1, 2, 1])
    model = init_two_layer_model(5, 6, 3, rng=1)
    for key in model:  # larger weights than the slide's, so the gradients are not all ~1e-8
        model[key] = rng.standard_normal(model[key].shape)
    _, grads = two_layer_net(X, model, y, reg=0.3)
    for key in model:
        numeric = eval_numerical_gradient(lambda _: two_layer_net(X, model, y, reg=0.3)[0], model[key])
        assert rel_error(grads[key], numeric) < 1e-7, key


def test_agrees_with_fully_connected_net_on_the_same_weights():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    net = FullyConnectedNet([4], input_dim=5, num_classes=3, reg=0.2, dtype=np.float64, seed=0)
    net.params["b1"] = rng.standard_normal(4)
    model = {k: net.params[k].copy() for k in ("W1", "b1", "W2", "b2")}
    loss, grads = two_layer_net(X, model, y, reg=0.2)
    loss_net, grads_net = net.loss(X, y)
    assert loss == pytest.approx(loss_net, rel=1e-12)
    for key in model:
        np.testing.assert_allclose(grads[key], grads_net[key], rtol=1e-10)


def test_bad_input():
    model = init_two_layer_model(5, 4, 3, rng=0)
    with pytest.raises(InputError, match=r"two_layer_net: model is missing \['b2'\]"):
        two_layer_net(np.zeros((2, 5)), {k: v for k, v in model.items() if k != "b2"})
    with pytest.raises(InputError, match=r"two_layer_net: expected X with 5 features \(W1 is \(5, 4\)\), got \(2, 6\)"):
        two_layer_net(np.zeros((2, 6)), model)
    with pytest.raises(InputError, match="two_layer_net: expected real-valued input X, got dtype complex128"):
        two_layer_net(np.zeros((2, 5), complex), model)
    X = np.zeros((2, 5))
    X[1, 4] = np.nan
    with pytest.raises(InputError, match=r"two_layer_net: input X contains 1 non-finite.*NaN at index \(1, 4\)"):
        two_layer_net(X, model)
    with pytest.raises(InputError, match=r"labels must be in \[0, 2\] for 3 classes; got 7"):
        two_layer_net(np.zeros((2, 5)), model, np.array([0, 7]))
