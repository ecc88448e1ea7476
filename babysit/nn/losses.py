"""Classification losses: softmax (cross-entropy) and multiclass SVM (hinge).

Both take scores (N, C) float32/float64 and integer labels y (N,) in [0, C), and
return ``(loss, dscores)``: the loss averaged over the batch as a Python float, and
its gradient (N, C) in the dtype of the scores. The softmax is computed from
``scores - max(scores)`` so it never overflows: the lecture shows the naive
``log(exp(s) / sum exp(s))`` producing NaN at high learning rates. NaN or inf
scores (a diverged network) give a non-finite loss silently, with no NumPy
warning; the training guard reports them.
"""

from __future__ import annotations

import numpy as np

from babysit.errors import InputError
from babysit.nn.base import FLOAT_DTYPES


def check_labels(y, num_samples: int, num_classes: int, owner: str) -> np.ndarray:
    """Validate integer labels ``y`` (N,) in ``[0, num_classes)``; return them as an int array."""
    if not isinstance(y, np.ndarray):
        y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise InputError(f"{owner}: labels y must be integers, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != num_samples:
        raise InputError(f"{owner}: expected labels y of shape ({num_samples},), got {y.shape}")
    if num_samples:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise InputError(
                f"{owner}: labels must be in [0, {num_classes - 1}] for {num_classes} classes; got {bad}")
    return y


def _checked_labels(scores, y, owner: str) -> np.ndarray:
    """Check scores (a float (N, C) array, N > 0) and labels y for the loss ``owner``; return y as an int array."""
    if not isinstance(scores, np.ndarray) or scores.dtype not in FLOAT_DTYPES or scores.ndim != 2:
        shape = getattr(scores, "shape", None)
        dtype = getattr(scores, "dtype", type(scores).__name__)
        raise InputError(f"{owner}: expected scores as a float32/float64 array of shape (N, C), "
                         f"got shape {shape} and dtype {dtype}")
    if scores.shape[0] == 0:
        raise InputError(f"{owner}: got an empty batch (scores of shape {scores.shape})")
    return check_labels(y, scores.shape[0], scores.shape[1], owner)


def softmax_loss(scores: np.ndarray, y, labels_checked: bool = False) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy loss ``mean_i -log(exp(s_{y_i}) / sum_j exp(s_j))``: (loss, dscores).

    ``labels_checked``: the caller (``Model.loss``) has validated scores and y already (a float
    (N, C) array, N > 0, an int array of labels in range): skip that second look.
    """
    if not labels_checked:
        y = _checked_labels(scores, y, "softmax_loss")
    n = len(y)
    rows = np.arange(n)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        top = scores.max(axis=1, keepdims=True)
        # the N picked terms in float64: in float32, max - s_y overflows to inf for finite scores
        # (e.g. +-3e38) whose loss is a perfectly finite Python float
        picked = np.subtract(top[:, 0], scores[rows, y], dtype=np.float64)
        probs = np.subtract(scores, top)
        np.exp(probs, out=probs)  # in place: one (N, C) array for the whole loss
        sums = np.add.reduce(probs, axis=1, keepdims=True)
        picked += np.log(sums[:, 0], dtype=np.float64)
        loss = float(np.add.reduce(picked)) / n
        probs *= np.divide(1.0 / n, sums)  # the softmax and the batch mean in one pass
    probs[rows, y] -= 1.0 / n
    return loss, probs


def svm_loss(scores: np.ndarray, y, delta: float = 1.0) -> tuple[float, np.ndarray]:
    """Multiclass SVM (hinge) loss ``mean_i sum_{j != y_i} max(0, s_j - s_{y_i} + delta)``: (loss, dscores)."""
    y = _checked_labels(scores, y, "svm_loss")
    n = len(y)
    rows = np.arange(n)
    with np.errstate(over="ignore", invalid="ignore"):
        margins = scores - scores[rows, y][:, None]
        margins += delta
        np.maximum(margins, 0, out=margins)
        margins[rows, y] = 0
        loss = float(margins.sum() / n)
        dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores *= 1.0 / n
    return loss, dscores
