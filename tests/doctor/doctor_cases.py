"""Healthy and deliberately broken models for the doctor's tests."""

from __future__ import annotations

import json

import numpy as np

from babysit.nn import FullyConnectedNet, ReLU
from babysit.nn.activations import relu_backward


def fc_factory(hidden_dims, cls=FullyConnectedNet, **options):
    """make(**overrides) -> a seeded FullyConnectedNet for the 8x8 digits (the same init on every call)."""
    def make(**overrides):
        kwargs = {"input_dim": (1, 8, 8), "num_classes": 10, "seed": 0, **options, **overrides}
        return cls(list(hidden_dims), **kwargs)
    return make


class HalfGradientReLU(ReLU):
    """A ReLU whose backward is off: it passes back half the gradient."""

    def backward(self, dout):
        return relu_backward(dout, self._checked_cache(dout)) * 0.5


class BrokenBackwardNet(FullyConnectedNet):
    """A FullyConnectedNet whose ReLUs are HalfGradientReLUs (the forward pass is untouched)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.layers.layers = [HalfGradientReLU() if type(layer) is ReLU else layer for layer in self.layers.layers]


class IgnoresRegNet(FullyConnectedNet):
    """A FullyConnectedNet whose loss leaves out the L2 term (reg turned off inside the loss)."""

    def loss(self, X, y=None):
        reg, self.reg = self.reg, 0.0
        try:
            return super().loss(X, y)
        finally:
            self.reg = reg


def assert_jsonable(finding) -> dict:
    """The finding survives strict JSON (no NaN, no NumPy types)."""
    return json.loads(json.dumps(finding.to_dict(), allow_nan=False))


def with_dead_units(make, layer_bias=-50.0):
    """A factory whose first hidden layer's bias is so negative that its ReLUs never fire."""
    def build(**overrides):
        model = make(**overrides)
        model.params["b1"] = np.full_like(model.params["b1"], layer_bias)
        return model
    return build
