"""The corpus of broken runs: small, seeded scenarios on the embedded digits, each with a known cause.

A scenario is TrainConfig settings plus at most one deliberate fault, applied by name:
``tweak`` changes the model (a wrong backward, dead biases), ``data`` changes the data set
(shuffled labels, a tiny training split). Several scenarios per cause vary the model, the
update rule and the data so that the thresholds cannot be tuned to one case. ``split`` says
whether a scenario fits the thresholds ('fit') or only measures them ('held_out'); ``fast``
marks the subset the default test run trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    name: str
    cause: str
    config: dict = field(default_factory=dict)
    preprocess: str = "standardize"
    tweak: str | None = None  # 'relu_backward_half' | 'affine_grad_sign' | 'tanh_backward_identity' | 'dead_bias'
    data: str | None = None  # 'shuffled_labels' | 'tiny:N'
    split: str = "fit"
    fast: bool = False


def _s(name, cause, split, fast=False, preprocess="standardize", tweak=None, data=None, **config):
    return Scenario(name, cause, config, preprocess, tweak, data, split, fast)


SCENARIOS = [
    # learning rate too low
    _s("lr_low_sgd", "lr_too_low", "fit", update="sgd", lr=1e-4, epochs=10),
    _s("lr_low_readme_cosine", "lr_too_low", "held_out", True, model="fc:100,100", lr=1e-3, reg=1e-3, epochs=10,
       schedule="cosine"),
    _s("lr_low_adam", "lr_too_low", "fit", model="fc:50", update="adam", lr=1e-6, epochs=8),
    _s("lr_low_conv", "lr_too_low", "held_out", model="conv:8", lr=1e-4, epochs=5),
    # learning rate too high: exploding
    _s("lr_high_sgd", "lr_too_high", "fit", update="sgd", lr=10.0, epochs=5),
    _s("lr_high_momentum_deep", "lr_too_high", "held_out", model="fc:100,100", lr=3.0, epochs=5),
    _s("lr_high_adam", "lr_too_high", "fit", model="fc:50", update="adam", lr=1.0, epochs=5),
    _s("lr_high_conv", "lr_too_high", "held_out", True, model="conv:8", lr=2.0, epochs=3),
    # learning rate a bit high: fast drop, noisy plateau
    _s("lr_bit_high_adam", "lr_slightly_high", "fit", True, update="adam", lr=0.1, epochs=10),
    _s("lr_bit_high_momentum", "lr_slightly_high", "held_out", lr=0.5, epochs=10),
    _s("lr_bit_high_adam_deep", "lr_slightly_high", "fit", model="fc:100,100", update="adam", lr=0.05, epochs=10),
    # too little capacity
    _s("capacity_fc2", "capacity", "fit", model="fc:2", epochs=40),
    _s("capacity_fc3_adam", "capacity", "held_out", True, model="fc:3", update="adam", lr=1e-2, epochs=30),
    _s("capacity_fc1_sgd", "capacity", "fit", model="fc:1", update="sgd", lr=0.1, epochs=30),
    # overfitting: a tiny training set, no regularization, long training
    _s("overfit_fc200", "overfitting", "fit", data="tiny:60", model="fc:200", epochs=150),
    _s("overfit_deep_adam", "overfitting", "held_out", True, data="tiny:40", model="fc:100,100", update="adam",
       lr=1e-3, epochs=150),
    _s("overfit_sgd", "overfitting", "fit", data="tiny:50", model="fc:100", update="sgd", lr=0.1, epochs=150),
    # regularization too strong
    _s("reg_strong", "reg_too_strong", "fit", reg=1.0, epochs=15),
    _s("reg_strong_adam_deep", "reg_too_strong", "held_out", model="fc:100,100", update="adam", lr=1e-3,
       reg=0.5, epochs=15),
    _s("reg_strong_sgd", "reg_too_strong", "fit", True, model="fc:50", update="sgd", lr=0.05, reg=3.0, epochs=15),
    # init too small: vanishing activations with depth
    _s("init_small_relu_deep", "init_too_small", "fit", model="fc:100,100,100,100,100", weight_scale=1e-2,
       update="sgd", lr=1e-2, epochs=5),
    _s("init_small_tanh_deep", "init_too_small", "held_out", model="fc:100,100,100,100,100",
       activation="tanh", weight_scale=1e-2, epochs=5),
    _s("init_small_momentum", "init_too_small", "fit", True, model="fc:50,50,50,50", weight_scale=1e-3, epochs=5),
    # init too large: saturating tanh, exploding ReLU
    _s("init_large_tanh", "init_too_large", "fit", model="fc:100,100", activation="tanh", weight_scale=1.0,
       epochs=5),
    _s("init_large_relu_deep", "init_too_large", "held_out", True, model="fc:100,100,100", weight_scale=0.5,
       update="sgd", lr=1e-3, epochs=5),
    _s("init_large_adam", "init_too_large", "fit", model="fc:50", weight_scale=2.0, update="adam", lr=1e-3,
       epochs=5),
    # dead ReLUs (biases initialized large and negative)
    _s("dead_bias", "dead_units", "fit", tweak="dead_bias", epochs=5),
    _s("dead_bias_deep_adam", "dead_units", "held_out", True, tweak="dead_bias", model="fc:100,100",
       update="adam", lr=1e-3, epochs=5),
    _s("dead_bias_sgd", "dead_units", "fit", tweak="dead_bias", model="fc:50", update="sgd", lr=0.05, epochs=5),
    # unnormalized input: raw 0..16 pixels
    _s("raw_pixels", "unnormalized_input", "fit", True, preprocess="none", epochs=5),
    _s("raw_pixels_adam", "unnormalized_input", "held_out", preprocess="none", model="fc:50", update="adam",
       lr=1e-3, epochs=5),
    _s("raw_pixels_deep_sgd", "unnormalized_input", "fit", preprocess="none", model="fc:100,100", update="sgd",
       lr=1e-3, epochs=5),
    # a broken backward pass
    _s("broken_relu_backward", "broken_gradient", "fit", tweak="relu_backward_half", epochs=5),
    _s("broken_affine_sign", "broken_gradient", "held_out", True, tweak="affine_grad_sign", model="fc:50",
       update="adam", lr=1e-3, epochs=5),
    _s("broken_tanh_backward", "broken_gradient", "fit", tweak="tanh_backward_identity", activation="tanh",
       model="fc:50,50", epochs=5),
    # labels shuffled: nothing to learn
    _s("shuffled_labels", "no_signal", "fit", data="shuffled_labels", epochs=10),
    _s("shuffled_labels_adam_wide", "no_signal", "held_out", True, data="shuffled_labels", model="fc:200",
       update="adam", lr=1e-3, epochs=10),
    _s("shuffled_labels_conv", "no_signal", "fit", data="shuffled_labels", model="conv:8", epochs=5),
    # too few epochs
    _s("one_epoch", "too_few_epochs", "fit", epochs=1),
    _s("two_epochs_sgd", "too_few_epochs", "held_out", True, model="fc:50", update="sgd", lr=0.02, epochs=2),
    _s("one_epoch_adam_deep", "too_few_epochs", "fit", model="fc:100,100", update="adam", lr=1e-4, epochs=2),
    # healthy runs: no false alarm
    _s("healthy_default_long", "healthy", "fit", epochs=25),
    _s("healthy_adam", "healthy", "held_out", True, update="adam", lr=1e-3, epochs=20),
    _s("healthy_sgd", "healthy", "fit", model="fc:50", update="sgd", lr=0.1, epochs=20),
    _s("healthy_conv", "healthy", "held_out", model="conv:8", epochs=12),
    _s("healthy_batchnorm", "healthy", "held_out", normalization="batchnorm", epochs=20),
    _s("healthy_deep_nesterov", "healthy", "fit", model="fc:100,100", update="nesterov", epochs=20),
]
