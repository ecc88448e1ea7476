"""Small models for the training tests, in the cs231n convention (params, loss(X, y=None)).

They stand in for babysit.nn where a test needs a model whose every line is visible.
"""

import numpy as np


def softmax_loss(scores, y):
    """Mean cross-entropy and its gradient; scores (N, C), y (N,)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return float(loss), dscores / n


class TinyNet:
    """Affine - ReLU - affine - softmax with L2 0.5*reg*sum(W**2)."""

    def __init__(self, input_dim, hidden_dim, num_classes, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        self.reg, self.dtype = reg, dtype
        self.params = {
            "W1": (weight_scale * rng.standard_normal((input_dim, hidden_dim))).astype(dtype),
            "b1": np.zeros(hidden_dim, dtype),
            "W2": (weight_scale * rng.standard_normal((hidden_dim, num_classes))).astype(dtype),
            "b2": np.zeros(num_classes, dtype),
        }

    def loss(self, X, y=None):
        p = self.params
        X = X.reshape(len(X), -1).astype(self.dtype, copy=False)
        h = np.maximum(X @ p["W1"] + p["b1"], 0)
        scores = h @ p["W2"] + p["b2"]
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * float((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
        dh = (dscores @ p["W2"].T) * (h > 0)
        grads = {
            "W1": X.T @ dh + self.reg * p["W1"], "b1": dh.sum(0),
            "W2": h.T @ dscores + self.reg * p["W2"], "b2": dscores.sum(0),
        }
        return loss, {k: v.astype(self.dtype, copy=False) for k, v in grads.items()}


def init_two_layer_model(input_size, hidden_size, output_size, rng):
    """The lecture's initialization (0.0001 * randn), from an injected generator."""
    return {
        "W1": 0.0001 * rng.standard_normal((input_size, hidden_size)),
        "b1": np.zeros(hidden_size),
        "W2": 0.0001 * rng.standard_normal((hidden_size, output_size)),
        "b2": np.zeros(output_size),
    }


def two_layer_net(X, model, y=None, reg=0.0):
    """The lecture's loss function: scores when y is None, else (loss, grads)."""
    W1, b1, W2, b2 = model["W1"], model["b1"], model["W2"], model["b2"]
    h = np.maximum(X @ W1 + b1, 0)
    scores = h @ W2 + b2
    if y is None:
        return scores
    loss, dscores = softmax_loss(scores, y)
    loss += 0.5 * reg * float((W1 * W1).sum() + (W2 * W2).sum())
    dh = (dscores @ W2.T) * (h > 0)
    return loss, {"W1": X.T @ dh + reg * W1, "b1": dh.sum(0), "W2": h.T @ dscores + reg * W2, "b2": dscores.sum(0)}
