"""Checks on the loss at initialization: ``initial_loss`` (about ln C) and ``regularization`` (reg raises it)."""

from __future__ import annotations

import math

import numpy as np

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import (FrozenRandomness, as_dataset, as_model_factory, child_rng,
                                   num_classes_of, quiet_numpy, weight_names)

LOSS_ROWS = 500  # enough rows for a stable mean loss, few enough to stay instant
# One rule for every model: the first loss may exceed ln C by up to INIT_EXCESS_PASS * ln C (0.58 for
# 10 classes: random class scores of std ~1 cost that much) and warns up to INIT_EXCESS_FAIL * ln C.
# babysit's own builds scale the classifier layer so that they start at ~ln C (nn/models.py).
INIT_EXCESS_PASS = 0.25
INIT_EXCESS_FAIL = 1.0


@with_cause
def initial_loss(model_factory, data, *, seed=0, rows: int = LOSS_ROWS) -> Finding:
    """With reg 0, the softmax loss of a fresh model should be about ln(C) (2.30 for 10 classes).

    Inputs: model_factory (or a model); data (see ``as_dataset``); seed; rows to average over.
    Returns: a Finding whose value is the loss, expected ln(C); details hold ln_c, scores_std, rows.
    """
    data = as_dataset(data)
    model = as_model_factory(model_factory)()
    X, y = data.sample(rows, child_rng(seed, "initial_loss"))
    C = num_classes_of(model, data)
    ln_c = math.log(C)
    model.reg = 0.0
    with quiet_numpy():
        loss = float(model.loss(X, y)[0])
        scores = _last_scores(model)
    s_std = float(np.std(scores, dtype=np.float64)) if scores is not None else None
    details = {"ln_c": ln_c, "num_classes": C, "rows": len(y), "scores_std": s_std,
               "input_std": float(np.std(np.asarray(X, dtype=np.float64)))}
    expected = f"about ln({C}) = {ln_c:.3f}"
    scale_note = f"; the class scores at init have std {s_std:.3g}" if s_std is not None else ""
    excess = loss - ln_c
    if not math.isfinite(loss):
        return Finding("initial_loss", "fail", loss, expected,
                       f"the loss at init is {loss}: the forward pass overflows before any training{scale_note}",
                       "shrink the weight init (`init=he`/xavier, or a smaller weight scale) and check the data "
                       "for huge values (preprocess: subtract the mean, divide by the std)", details)
    if loss < 0.8 * ln_c:
        return Finding("initial_loss", "warn", loss, expected,
                       f"the loss at init ({loss:.3f}) is well below chance ({ln_c:.3f}): an untrained model "
                       "should not know the labels",
                       "check that the labels do not leak into the inputs and that the loss is the mean "
                       "softmax cross-entropy over the batch", details)
    pass_margin, fail_margin = INIT_EXCESS_PASS * ln_c, INIT_EXCESS_FAIL * ln_c
    if excess <= pass_margin:
        why = (f"the loss at init is {loss:.3f}, close to ln({C}) = {ln_c:.3f}: the model starts out "
               "guessing uniformly, as it should")
        if excess > 0.1 * ln_c:
            why = (f"the loss at init is {loss:.3f}, {excess:.2f} above ln({C}) = {ln_c:.3f}: that is what "
                   f"random class scores of this size cost{scale_note}; fine to train from")
        return Finding("initial_loss", "pass", loss, expected, why, "", details)
    status = "warn" if excess <= fail_margin else "fail"
    return Finding("initial_loss", status, loss, expected,
                   f"the loss at init is {loss:.3f}, far above ln({C}) = {ln_c:.3f}: the model starts "
                   f"confidently wrong{scale_note} (weights initialized too large, data not preprocessed, or a "
                   "loss summed instead of averaged over the batch)",
                   "use `init=he` (ReLU) or xavier (tanh), or a smaller weight scale, and standardize the "
                   "data (`preprocess=standardize`); the lecture's net starts at 2.30 for 10 classes", details)


@with_cause
def regularization(model_factory, data, *, seed=0, reg: float = 1e3, rows: int = LOSS_ROWS) -> Finding:
    """Cranking up reg (the lecture's 1e3) must raise the loss, by 0.5 * reg * sum(W**2), and change the gradient.

    Inputs: model_factory (or a model); data; seed; reg, the cranked-up strength; rows.
    Returns: a Finding whose value is the loss at ``reg``, expected "> the loss at reg 0".
    """
    data = as_dataset(data)
    model = as_model_factory(model_factory)()
    X, y = data.sample(rows, child_rng(seed, "regularization"))
    frozen = FrozenRandomness(model)
    with quiet_numpy():
        model.reg = 0.0
        frozen.restore()
        loss0, grads0 = model.loss(X, y)
        loss0 = float(loss0)
        grads0 = {k: np.array(v, dtype=np.float64) for k, v in grads0.items()}
        model.reg = float(reg)
        frozen.restore()
        loss1, grads1 = model.loss(X, y)
        loss1 = float(loss1)
        weights = weight_names(model)
        sum_sq = sum(float(np.sum(np.square(model.params[k], dtype=np.float64))) for k in weights)
        grad_change = max((float(np.max(np.abs(grads1[k] - grads0[k]))) for k in weights), default=0.0)
    predicted = 0.5 * reg * sum_sq
    rise = loss1 - loss0
    details = {"reg": reg, "loss_reg0": loss0, "loss_reg": loss1, "rise": rise, "predicted_rise": predicted,
               "max_grad_change": grad_change, "rows": len(y)}
    expected = f"> {loss0:.4f} (the loss at reg 0)"
    if not (math.isfinite(loss0) and math.isfinite(loss1)):
        return Finding("regularization", "fail", loss1, expected,
                       f"the loss is not finite (reg 0: {loss0}, reg {reg:g}: {loss1})",
                       "fix the initial loss first (see initial_loss)", details)
    if sum_sq == 0.0:
        return Finding("regularization", "warn", loss1, expected,
                       f"every weight is zero, so the L2 term 0.5*reg*sum(W**2) is 0 at any reg: nothing to test",
                       "initialize the weights randomly (`init=he` or xavier); zero init also keeps every "
                       "unit identical", details)
    tiny = 1e-6 * max(1.0, abs(loss0))
    if rise <= tiny:
        return Finding("regularization", "fail", loss1, expected,
                       f"turning reg up to {reg:g} left the loss at {loss1:.4f} (reg 0: {loss0:.4f}): the loss "
                       f"ignores the regularization (it should rise by 0.5*reg*sum(W**2) = {predicted:.4g})",
                       "add 0.5 * reg * sum(W**2) over the weights to the loss and reg * W to their gradients",
                       details)
    if grad_change == 0.0:
        return Finding("regularization", "fail", loss1, expected,
                       f"reg {reg:g} raises the loss ({loss0:.4f} -> {loss1:.4f}) but leaves the gradients "
                       "unchanged: the updates will ignore the regularization",
                       "add reg * W to the gradient of every regularized weight", details)
    if abs(rise - predicted) > 1e-2 * predicted:
        return Finding("regularization", "warn", loss1, expected,
                       f"reg {reg:g} raises the loss by {rise:.4g}, not the 0.5*reg*sum(W**2) = {predicted:.4g} "
                       "of the usual L2 convention",
                       "check the L2 term's factor (cs231n uses 0.5 * reg * sum(W**2))", details)
    return Finding("regularization", "pass", loss1, expected,
                   f"reg {reg:g} raises the loss from {loss0:.4f} to {loss1:.4f} (by 0.5*reg*sum(W**2), as "
                   "expected)", "", details)


def _last_scores(model):
    layers = getattr(model, "layers", None)
    if layers is None or not len(layers):
        return None
    return getattr(layers[-1], "last_output", None)
