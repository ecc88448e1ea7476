"""Maxout: the column layout of W, the gradient into the winning piece only, the parameter count."""

import numpy as np
import pytest

from babysit.errors import ConfigError, InputError
from babysit.nn import Affine, Maxout


def test_unit_o_is_the_max_over_columns_o_times_pieces_plus_k():
    rng = np.random.default_rng(0)
    layer = Maxout(4, 3, pieces=2, dtype=np.float64, rng=1)
    layer.params["b"][...] = rng.standard_normal(6)
    x = rng.standard_normal((5, 4))
    z = x @ layer.params["W"] + layer.params["b"]
    expected = np.stack([np.maximum(z[:, 2 * o], z[:, 2 * o + 1]) for o in range(3)], axis=1)
    np.testing.assert_allclose(layer.forward(x), expected)


def test_gradient_reaches_only_the_winning_piece():
    layer = Maxout(2, 1, pieces=3, dtype=np.float64)
    layer.params["W"][...] = [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]
    layer.params["b"][...] = [0.0, 0.0, 0.5]
    x = np.array([[2.0, 7.0], [-2.0, 7.0], [0.1, 7.0]])  # winners: piece 0, piece 1, piece 2
    np.testing.assert_allclose(layer.forward(x)[:, 0], [2.0, 2.0, 0.5])
    dx = layer.backward(np.array([[1.0], [10.0], [100.0]]))
    np.testing.assert_allclose(layer.grads["b"], [1.0, 10.0, 100.0])
    np.testing.assert_allclose(layer.grads["W"], [[2.0, -20.0, 10.0], [7.0, 70.0, 700.0]])
    np.testing.assert_allclose(dx, [[1.0, 0.0], [-10.0, 0.0], [0.0, 0.0]])


def test_two_pieces_double_the_parameters_of_an_affine_layer():
    maxout, affine = Maxout(10, 7), Affine(10, 7)
    count = lambda layer: sum(p.size for p in layer.params.values())  # noqa: E731
    assert count(maxout) == 2 * count(affine)


def test_bad_pieces_and_bad_input():
    with pytest.raises(ConfigError, match=r"The 'pieces' parameter of Maxout must be an int in \[1, inf\)\. Got 0"):
        Maxout(3, 2, pieces=0)
    for args, parameter in (((0, 2), "in_dim"), ((3, -1), "out_dim"), ((3, 2.0), "out_dim")):
        with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter of Maxout must be an int in \[1, inf\)"):
            Maxout(*args)
    with pytest.raises(InputError, match=r"Maxout\(3 -> 2, pieces=2\): expected input of shape \(N, 3\), got \(4, 2\)"):
        Maxout(3, 2).forward(np.ones((4, 2), np.float32))
