"""The cause vocabulary: every doctor finding and run diagnosis names one of these as its ``cause``.

A cause is *why* a run does not learn (or that it does: ``healthy``), in the lecture's words.
Findings carry ``cause`` (a key of ``CAUSES``), ``confidence`` (0..1: how sure the evidence
makes it) and ``evidence`` (which monitor or check said so, with its numbers). In the run
store they live inside the finding's ``details_json`` under the keys "cause", "confidence"
and "evidence" (older stores have none: readers must tolerate their absence).

=====================  ====================================================================
cause                  what it means (and the lecture's / Karpathy's remedy)
=====================  ====================================================================
lr_too_low             the loss barely moves, updates are << 1e-3 of the weights: raise lr
lr_too_high            the loss explodes (NaN, > 3x its start) or rises: lower lr (10x)
lr_slightly_high       fast drop, then a noisy plateau well above the floor; updates > 1e-2
capacity               train accuracy stays low with no gap and a converged loss: bigger model
overfitting            train accuracy far above validation: regularize, more data
reg_too_strong         the L2 term shrinks the weights and caps train accuracy: lower reg
init_too_small         activations vanish with depth at init: larger init (he / xavier)
init_too_large         the first loss far above ln C, saturated or exploding activations at init
dead_units             most ReLUs output 0 for every input: lower lr, other bias init, leaky ReLU
saturated_units        tanh/sigmoid units pinned at +-1 during training: lower lr, batchnorm
unnormalized_input     inputs far from zero mean / unit std: preprocess (standardize)
broken_gradient        the analytic gradient disagrees with the numeric one: fix backward
no_signal              the model trains but validation stays at chance: labels and inputs unrelated
too_few_epochs         everything is healthy and still improving when the run ends: train longer
healthy                nothing to fix
=====================  ====================================================================
"""

from __future__ import annotations

CAUSES = {
    "lr_too_low": "the learning rate is too low: the loss barely moves",
    "lr_too_high": "the learning rate is too high: the loss explodes",
    "lr_slightly_high": "the learning rate is a bit high: the loss drops fast, then stalls on a noisy plateau",
    "capacity": "the model is too small: it cannot fit the training data",
    "overfitting": "the model overfits: train accuracy far above validation",
    "reg_too_strong": "the regularization is too strong: it holds the weights (and train accuracy) down",
    "init_too_small": "the weights are initialized too small: activations vanish with depth",
    "init_too_large": "the weights are initialized too large: the model starts confidently wrong or saturated",
    "dead_units": "most ReLU units are dead (output 0 for every input)",
    "saturated_units": "most tanh/sigmoid units are saturated (pinned at their limits)",
    "unnormalized_input": "the inputs are not normalized (far from zero mean, unit std)",
    "broken_gradient": "the backward pass is wrong: analytic and numeric gradients disagree",
    "no_signal": "there is nothing to learn: labels and inputs are unrelated (shuffled, misaligned, constant)",
    "too_few_epochs": "the run stopped while still improving: too few epochs",
    "healthy": "the run is healthy",
}

PROBLEMS = tuple(c for c in CAUSES if c != "healthy")


def check_cause(cause: str | None) -> str | None:
    """``cause`` when it is in the vocabulary (or None); ValueError otherwise (a programming error)."""
    if cause is not None and cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}; expected one of {', '.join(CAUSES)}")
    return cause
