"""The lecture's own two-layer net API, exactly as on the slides (Python 3, our imports).

    model = init_two_layer_model(32*32*3, 50, 10)
    loss, grad = two_layer_net(X_train, model, y_train, 0.0)   # ~2.3026 for 10 classes
"""

from __future__ import annotations

import numpy as np

from babysit.errors import InputError
from babysit.nn.activations import relu_backward, relu_forward
from babysit.nn.affine import affine_backward, affine_forward
from babysit.nn.base import as_float_dtype, check_finite
from babysit.nn.init import as_generator
from babysit.nn.losses import softmax_loss
from babysit.validation import AT_LEAST_ONE, check_int


def init_two_layer_model(input_size: int, hidden_size: int, output_size: int, *, rng=None, dtype=np.float64) -> dict:
    """The slide's initialization: weights ``0.0001 * randn``, zero biases.

    Returns: dict with W1 (input_size, hidden_size), b1, W2 (hidden_size, output_size), b2.
    ``rng`` (int seed or Generator) replaces the slide's global ``np.random``.
    """
    owner = "init_two_layer_model"
    for name, size in (("input_size", input_size), ("hidden_size", hidden_size), ("output_size", output_size)):
        check_int(owner, name, size, AT_LEAST_ONE)
    rng = as_generator(rng)
    dtype = as_float_dtype(dtype, owner)
    return {
        "W1": (0.0001 * rng.standard_normal((input_size, hidden_size))).astype(dtype),
        "b1": np.zeros(hidden_size, dtype=dtype),
        "W2": (0.0001 * rng.standard_normal((hidden_size, output_size))).astype(dtype),
        "b2": np.zeros(output_size, dtype=dtype),
    }


def two_layer_net(X, model: dict, y=None, reg: float = 0.0):
    """Affine - ReLU - affine - softmax, with L2 ``0.5 * reg * (|W1|^2 + |W2|^2)``.

    Inputs: X (N, D) (or (N, C, H, W), flattened); model from ``init_two_layer_model``;
        y (N,) labels or None; reg.
    Returns: scores (N, C) when y is None, else (loss, grads) with grads keyed like model.
    """
    missing = {"W1", "b1", "W2", "b2"} - set(model)
    if missing:
        raise InputError(f"two_layer_net: model is missing {sorted(missing)}; build it with init_two_layer_model")
    W1, b1, W2, b2 = model["W1"], model["b1"], model["W2"], model["b2"]
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        raise InputError(f"two_layer_net: expected real-valued input X, got dtype {X.dtype}")
    X = X.reshape(X.shape[0], -1).astype(W1.dtype, copy=False)
    if X.shape[1] != W1.shape[0]:
        raise InputError(f"two_layer_net: expected X with {W1.shape[0]} features (W1 is {W1.shape}), got {X.shape}")
    check_finite(X, "two_layer_net", "input X")
    h, c1 = affine_forward(X, W1, b1)
    a, c2 = relu_forward(h)
    scores, c3 = affine_forward(a, W2, b2)
    if y is None:
        return scores
    loss, dscores = softmax_loss(scores, y)
    loss += 0.5 * reg * (float(np.sum(W1 * W1)) + float(np.sum(W2 * W2)))
    da, dW2, db2 = affine_backward(dscores, c3)
    _, dW1, db1 = affine_backward(relu_backward(da, c2), c1, need_dx=False)
    dW1 += reg * W1
    dW2 += reg * W2
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
