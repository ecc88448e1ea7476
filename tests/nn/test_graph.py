"""The slide's gate-level graph, checked against the layer library on the same expressions."""

import math

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import (
    AddGate, Affine, ComputationalGraph, DotGate, ExpGate, InvGate, MaxGate, MultiplyGate, ReLU, ScaleGate,
    Sigmoid, SigmoidGate, TanhGate, eval_numerical_gradient,
)


def test_slide_example_add_then_multiply():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    g.gate(MultiplyGate(), g.gate(AddGate(), x, y), z)
    assert g.forward({"x": -2.0, "y": 5.0, "z": -4.0}) == -12.0
    assert g.backward() == {"x": -4.0, "y": -4.0, "z": 3.0}


def _neuron(expanded: bool):
    """f = sigmoid(w0*x0 + w1*x1 + w2), with the sigmoid as one gate or as the slide's chain of gates."""
    g = ComputationalGraph()
    w0, x0, w1, x1, w2 = (g.input(n) for n in ("w0", "x0", "w1", "x1", "w2"))
    s = g.gate(AddGate(), g.gate(AddGate(), g.gate(MultiplyGate(), w0, x0), g.gate(MultiplyGate(), w1, x1)), w2)
    if expanded:  # 1 / (1 + exp(-s))
        one = g.input("one")
        g.gate(InvGate(), g.gate(AddGate(), g.gate(ExpGate(), g.gate(ScaleGate(-1.0), s)), one))
    else:
        g.gate(SigmoidGate(), s)
    return g


@pytest.mark.parametrize("expanded", [False, True], ids=["sigmoid-gate", "slide-chain"])
def test_sigmoid_neuron_matches_the_slide_and_the_sigmoid_layer(expanded):
    values = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0, "one": 1.0}
    g = _neuron(expanded)
    f = g.forward(values)
    grads = g.backward()
    assert f == pytest.approx(0.73, abs=5e-3)
    expected = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}  # the slide's numbers
    for name, value in expected.items():
        assert grads[name] == pytest.approx(value, abs=5e-3), name

    layer = Sigmoid()
    out = layer.forward(np.array([1.0]))  # w0*x0 + w1*x1 + w2 = 1
    ds = layer.backward(np.array([1.0]))[0]
    assert f == pytest.approx(out[0], rel=1e-14)
    # the pre-activation's gradient, chained by hand: d/dw0 = ds * x0, d/dx1 = ds * w1, d/dw2 = ds
    assert grads["w0"] == pytest.approx(ds * -1.0, rel=1e-13)
    assert grads["x1"] == pytest.approx(ds * -3.0, rel=1e-13)
    assert grads["w2"] == pytest.approx(ds, rel=1e-13)


def test_relu_as_max_gate_matches_the_relu_layer():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 2.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))  # off the kink
    dout = rng.standard_normal((4, 5))
    g = ComputationalGraph()
    g.gate(MaxGate(), g.input("x"), g.input("zero"))
    out = g.forward({"x": x, "zero": np.zeros_like(x)})
    dx = g.backward(dout)["x"]
    relu = ReLU()
    np.testing.assert_array_equal(out, relu.forward(x))
    np.testing.assert_array_equal(dx, relu.backward(dout))


def test_dot_and_add_gates_match_the_affine_layer():
    rng = np.random.default_rng(1)
    layer = Affine(5, 3, dtype=np.float64, rng=2)
    layer.params["b"][...] = rng.standard_normal(3)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    g = ComputationalGraph()
    g.gate(AddGate(), g.gate(DotGate(), g.input("x"), g.input("W")), g.input("b"))
    out = g.forward({"x": x, "W": layer.params["W"], "b": layer.params["b"]})
    grads = g.backward(dout)
    np.testing.assert_allclose(out, layer.forward(x), rtol=1e-14)
    np.testing.assert_allclose(grads["x"], layer.backward(dout), rtol=1e-14)
    np.testing.assert_allclose(grads["W"], layer.grads["W"], rtol=1e-14)
    # b was broadcast over the batch: its gradient is summed back to b's own shape
    assert grads["b"].shape == (3,)
    np.testing.assert_allclose(grads["b"], layer.grads["b"], rtol=1e-14)


def test_broadcast_inputs_get_gradients_of_their_own_shape():
    # f = max(x * v + c, s): v is a (1, 3) row, c a (3,) vector and s a 0-d threshold, all broadcast over x (4, 3)
    rng = np.random.default_rng(4)
    values = {"x": rng.standard_normal((4, 3)), "v": rng.standard_normal((1, 3)), "c": rng.standard_normal(3),
              "s": np.array(0.1)}
    g = ComputationalGraph()
    xv = g.gate(MultiplyGate(), g.input("x"), g.input("v"))
    g.gate(MaxGate(), g.gate(AddGate(), xv, g.input("c")), g.input("s"))
    dout = rng.standard_normal((4, 3))
    g.forward(values)
    pre = values["x"] * values["v"] + values["c"]
    assert np.abs(pre - 0.1).min() > 1e-3  # off the max's kink, so numeric gradients are exact
    grads = g.backward(dout)
    for name, value in values.items():
        assert np.shape(grads[name]) == value.shape, name
        numeric = eval_numerical_gradient(lambda _: float(np.sum(g.forward(values) * dout)), value)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-7, atol=1e-10, err_msg=name)


def test_fan_out_accumulates_gradients():
    # f = x*x + x*y + x: x feeds three gates, so df/dx = 2x + y + 1
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    g.gate(AddGate(), g.gate(AddGate(), g.gate(MultiplyGate(), x, x), g.gate(MultiplyGate(), x, y)), x)
    assert g.forward({"x": 3.0, "y": -2.0}) == 9.0 - 6.0 + 3.0
    grads = g.backward()
    assert grads == {"x": 2 * 3.0 - 2.0 + 1.0, "y": 3.0}


def test_fan_out_of_an_intermediate_node():
    # q = tanh(x); f = q * q -> df/dx = 2 q (1 - q^2)
    g = ComputationalGraph()
    q = g.gate(TanhGate(), g.input("x"))
    g.gate(MultiplyGate(), q, q)
    g.forward({"x": 0.7})
    t = math.tanh(0.7)
    assert g.backward()["x"] == pytest.approx(2 * t * (1 - t * t), rel=1e-14)


def test_graph_gradients_match_numeric_ones():
    rng = np.random.default_rng(3)
    values = {"w": rng.standard_normal((3, 2)), "x": rng.standard_normal((4, 3)), "c": rng.standard_normal((4, 2))}
    g = ComputationalGraph()
    h = g.gate(DotGate(), g.input("x"), g.input("w"))
    g.gate(TanhGate(), g.gate(MultiplyGate(), g.gate(SigmoidGate(), h), g.input("c")))
    dout = rng.standard_normal((4, 2))
    g.forward(values)
    grads = g.backward(dout)
    for name in values:
        def f(_):
            return float(np.sum(g.forward(values) * dout))
        numeric = eval_numerical_gradient(f, values[name])
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-7, atol=1e-10, err_msg=name)


def test_unused_input_gets_zero_gradient():
    g = ComputationalGraph()
    x, _ = g.input("x"), g.input("unused")
    g.gate(ScaleGate(2.0), x)
    g.forward({"x": 1.5, "unused": np.ones(3)})
    grads = g.backward()
    assert grads["x"] == 2.0
    np.testing.assert_array_equal(grads["unused"], np.zeros(3))


def test_graph_misuse():
    g = ComputationalGraph()
    g.input("x")
    with pytest.raises(ConfigError, match=r"The 'name' parameter of ComputationalGraph.input must be a name not "
                                          r"declared yet .* Got 'x' instead"):
        g.input("x")
    with pytest.raises(ConfigError, match="add at least one gate before forward"):
        g.forward({"x": 1.0})
    other = ComputationalGraph().input("y")
    with pytest.raises(ConfigError, match="The 'parents' parameter of ComputationalGraph.gate must be nodes of "
                                          "this graph"):
        g.gate(AddGate(), g.inputs["x"], other)
    g.gate(ScaleGate(3.0), g.inputs["x"])
    with pytest.raises(InputError, match=r"missing inputs \['x'\]"):
        g.forward({})
