"""The numeric-gradient helpers themselves: known derivatives, restored inputs, catching a wrong backward."""

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.nn import (
    Affine, Dropout, FullyConnectedNet, ReLU, Sequential, Tanh, check_layer_gradients, check_model_gradients,
    eval_numerical_gradient, eval_numerical_gradient_array, rel_error,
)


def test_rel_error_is_elementwise_then_maxed():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0, 0.0], [3.0, 0.0]) == pytest.approx(0.5)  # |1-3| / (1+3)
    assert rel_error([1e-12], [0.0]) == pytest.approx(1e-4)          # floor of 1e-8 in the denominator
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0


def test_numeric_gradient_of_a_known_function_and_input_restored():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    x0 = x.copy()
    grad = eval_numerical_gradient(lambda z: float(np.sum(z ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x0 ** 2, rtol=1e-9)
    np.testing.assert_array_equal(x, x0)


def test_numeric_gradient_array_is_the_vector_jacobian_product():
    x = np.array([0.3, -1.2, 2.0])
    df = np.array([1.0, 2.0, -1.0])
    grad = eval_numerical_gradient_array(np.tanh, x, df)
    np.testing.assert_allclose(grad, df * (1 - np.tanh(x) ** 2), rtol=1e-9)


class _WrongTanh(Tanh):
    """Tanh with the classic mistake in backward: the derivative from the input, not the output."""

    def backward(self, dout):
        return dout * (1 - self._checked_cache(dout))


def test_check_layer_gradients_catches_a_wrong_backward():
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert check_layer_gradients(Tanh(), x)["x"] < 1e-9
    assert check_layer_gradients(_WrongTanh(), x)["x"] > 1e-2


def test_check_layer_gradients_freezes_dropout_inside_a_sequential():
    net = Sequential(Affine(4, 5, dtype=np.float64, rng=0), Dropout(0.5, rng=1), Affine(5, 3, dtype=np.float64, rng=2))
    errors = check_layer_gradients(net, np.random.default_rng(0).standard_normal((3, 4)))
    assert max(errors.values()) < 1e-7, errors


def test_check_model_gradients_reports_the_worst_element():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    # an explicit scale: under he/xavier the classifier layer starts 0.3x smaller (nn.models.CLASSIFIER_SCALE)
    model = FullyConnectedNet([4], input_dim=5, num_classes=3, weight_scale=0.5, dtype=np.float64, seed=0)
    model.params["b1"] = rng.uniform(0.1, 0.5, 4)
    errors = check_model_gradients(model, X, y, params=["W1", "b2"])
    assert set(errors) == {"W1", "b2"}
    err, where = errors["W1"]
    assert err < 1e-6 and len(where) == 2 and all(isinstance(i, int) for i in where)


def test_gradient_checks_refuse_float32():
    with pytest.raises(ConfigError, match=r"The 'x' parameter of check_layer_gradients must be a float64 array "
                                          r"\(gradient checks need float64\)\. Got dtype\('float32'\) instead\."):
        check_layer_gradients(ReLU(), np.ones((2, 2), np.float32))
    with pytest.raises(ConfigError, match=r"The 'model' parameter of check_model_gradients must be a model built "
                                          r"with dtype=np.float64\. Got dtype\('float32'\)"):
        check_model_gradients(FullyConnectedNet([3], input_dim=4), np.ones((2, 4)), np.array([0, 1]))
