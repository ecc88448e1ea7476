"""softmax_loss and svm_loss: numeric gradients, PyTorch parity, stability at huge scores, bad labels."""

import math
import warnings

import numpy as np
import pytest

from babysit.errors import InputError
from babysit.nn import eval_numerical_gradient, rel_error, softmax_loss, svm_loss

from .torch_helpers import assert_loss_matches_torch

LOSSES = pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss], ids=["softmax", "svm"])


def _svm_scores_off_kinks(rng, n, c):
    """Scores whose margins s_j - s_y + 1 are all at least 0.1 away from 0 (the hinge's kink)."""
    while True:
        scores = rng.standard_normal((n, c)) * 2
        y = rng.integers(0, c, n)
        margins = scores - scores[np.arange(n), y][:, None] + 1.0
        margins[np.arange(n), y] = 1.0
        if np.abs(margins).min() > 0.1:
            return scores, y


@pytest.mark.parametrize("seed", range(3))
def test_softmax_numeric_gradient(seed):
    rng = np.random.default_rng(seed)
    # unit-scale scores: with large ones some probabilities are ~1e-6 and the elementwise relative
    # error of such tiny gradients measures the difference quotient's rounding, not the code
    scores, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    _, dscores = softmax_loss(scores, y)
    numeric = eval_numerical_gradient(lambda s: softmax_loss(s, y)[0], scores.copy())
    assert rel_error(dscores, numeric) < 1e-7


@pytest.mark.parametrize("seed", range(3))
def test_svm_numeric_gradient(seed):
    scores, y = _svm_scores_off_kinks(np.random.default_rng(seed), 6, 5)
    _, dscores = svm_loss(scores, y)
    numeric = eval_numerical_gradient(lambda s: svm_loss(s, y)[0], scores.copy())
    assert rel_error(dscores, numeric) < 1e-7


def test_softmax_matches_torch_cross_entropy(torch):
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((7, 4)) * 3, rng.integers(0, 4, 7)
    assert_loss_matches_torch(softmax_loss, torch.nn.functional.cross_entropy, scores, y, rtol=1e-12, atol=1e-14)


def test_svm_matches_torch_multi_margin_loss_times_classes(torch):
    scores, y = _svm_scores_off_kinks(np.random.default_rng(1), 7, 4)
    # torch divides the hinge sum by the number of classes as well as by N
    hinge = lambda s, t: torch.nn.functional.multi_margin_loss(s, t, margin=1.0) * s.shape[1]  # noqa: E731
    assert_loss_matches_torch(svm_loss, hinge, scores, y, rtol=1e-12, atol=1e-14)


def test_softmax_of_equal_scores_is_ln_classes():
    loss, dscores = softmax_loss(np.zeros((3, 10)), np.array([0, 5, 9]))
    assert loss == pytest.approx(math.log(10), rel=1e-12)
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-15)


def test_svm_by_hand():
    # the lecture's example: scores for cat, car, frog, label cat -> max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9
    loss, dscores = svm_loss(np.array([[3.2, 5.1, -1.7]]), np.array([0]))
    assert loss == pytest.approx(2.9)
    np.testing.assert_allclose(dscores, [[-1.0, 1.0, 0.0]])


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e30), (np.float64, 1e300), (np.float32, 1e30),
                                        (np.float32, float(np.finfo(np.float32).max))])
def test_softmax_with_huge_finite_scores_has_no_warning_and_no_nan(dtype, big):
    scores = np.array([[big, -big, 0.0], [0.0, big, -big], [-big, -big, big]], dtype=dtype)
    y = np.array([0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dscores = softmax_loss(scores, y)
    assert not math.isnan(loss) and loss > 0
    assert dscores.dtype == dtype and np.isfinite(dscores).all()
    # each row's softmax is one-hot at its max: dscores = (onehot(max) - onehot(y)) / N
    expected = np.zeros((3, 3))
    expected[[0, 1, 2], [0, 1, 2]] += 1 / 3
    expected[[0, 1, 2], y] -= 1 / 3
    np.testing.assert_allclose(dscores, expected, atol=1e-7)
    # true loss: (0 + big + 2*big) / 3 = big, wherever that is a representable float
    assert loss == pytest.approx(float(dtype(big)), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_svm_with_huge_scores_has_no_nan(dtype):
    big = float(np.finfo(dtype).max) / 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dscores = svm_loss(np.array([[big, -big, 0.0]], dtype=dtype), np.array([1]))
    assert not math.isnan(loss) and np.isfinite(dscores).all()
    assert dscores.dtype == dtype


@LOSSES
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dscores_keep_the_score_dtype(loss_fn, dtype):
    loss, dscores = loss_fn(np.random.default_rng(0).standard_normal((4, 3)).astype(dtype), np.array([0, 1, 2, 0]))
    assert isinstance(loss, float) and dscores.dtype == dtype


@LOSSES
@pytest.mark.parametrize("y, message", [
    (np.array([0, 3]), r"labels must be in \[0, 2\] for 3 classes; got 3"),
    (np.array([-1, 0]), r"labels must be in \[0, 2\] for 3 classes; got -1"),
    (np.array([0, 1, 2]), r"expected labels y of shape \(2,\), got \(3,\)"),
    (np.array([[0], [1]]), r"expected labels y of shape \(2,\), got \(2, 1\)"),
    (np.array([0.0, 1.0]), "labels y must be integers, got dtype float64"),
    (np.array(["a", "b"]), "labels y must be integers, got dtype <U1"),
])
def test_bad_labels_name_the_loss_the_expectation_and_the_value(loss_fn, y, message):
    with pytest.raises(InputError, match=f"{loss_fn.__name__}: {message}"):
        loss_fn(np.zeros((2, 3)), y)


@LOSSES
@pytest.mark.parametrize("scores, got", [
    (np.zeros(3), r"got shape \(3,\) and dtype float64"),
    (np.zeros((2, 3), dtype=np.int64), r"got shape \(2, 3\) and dtype int64"),
    ([[0.0, 1.0]], r"got shape None and dtype list"),
])
def test_bad_scores(loss_fn, scores, got):
    with pytest.raises(InputError, match=f"{loss_fn.__name__}: expected scores as a float32/float64 array of "
                                         rf"shape \(N, C\), {got}"):
        loss_fn(scores, np.array([0]))


@LOSSES
def test_empty_batch(loss_fn):
    with pytest.raises(InputError, match=r"got an empty batch \(scores of shape \(0, 3\)\)"):
        loss_fn(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
