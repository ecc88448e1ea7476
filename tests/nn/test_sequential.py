"""Sequential: order of layers, live param views, assignment checks, mode propagation."""

import numpy as np
import pytest

from babysit.errors import InputError
from babysit.nn import Affine, BatchNorm, Dropout, ReLU, Sequential


def _net():
    return Sequential(Affine(3, 4, dtype=np.float64, rng=0), BatchNorm(4, dtype=np.float64), ReLU(),
                      Dropout(0.5, rng=0), Affine(4, 2, dtype=np.float64, rng=1))


def test_forward_runs_layers_in_order():
    net = _net().eval()
    x = np.random.default_rng(0).standard_normal((5, 3))
    h = x
    for layer in net:
        h = layer.forward(h)
    np.testing.assert_allclose(net.forward(x), h)
    assert net.last_output is net[-1].last_output


def test_params_are_live_views_keyed_by_index():
    net = _net()
    assert list(net.params) == ["0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b"]
    assert net.params["0.W"] is net[0].params["W"]
    net.params["0.W"] *= 0.0  # in place reaches the layer
    assert not net[0].params["W"].any()


def test_assignment_keeps_the_layer_dtype_and_checks_the_shape():
    net = Sequential(Affine(3, 2, rng=0))
    net.params["0.b"] = np.array([1.0, 2.0])  # float64 value, float32 layer
    assert net[0].params["b"].dtype == np.float32
    np.testing.assert_array_equal(net[0].params["b"], [1.0, 2.0])
    with pytest.raises(InputError, match=r"params\['0.W'\] of Affine\(3 -> 2\): expected shape \(3, 2\), got \(2, 3\)"):
        net.params["0.W"] = np.zeros((2, 3))
    with pytest.raises(KeyError, match="no parameter '9.W'; known: 0.W, 0.b"):
        net.params["9.W"]


def test_train_and_eval_reach_every_layer():
    net = _net()
    net.eval()
    assert not any(layer.training for layer in net)
    net.train()
    assert all(layer.training for layer in net)


def test_backward_stops_where_no_input_gradient_is_needed():
    net = Sequential(Affine(3, 2, dtype=np.float64, rng=0), ReLU())
    net[0].input_grad = False
    net.forward(np.ones((2, 3)))
    assert net.backward(np.ones((2, 2))) is None
    assert net.grads["0.W"].any()
