"""The registry of layer test cases: every babysit layer, its torch twin, and inputs kept off kinks.

Contract tests (test_layer_contract.py) run over every case here: numeric gradient,
PyTorch parity, dtype, errors. A new layer gets all of them by adding one case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from babysit.nn import (
    ELU, Affine, BatchNorm, Conv2d, Dropout, Flatten, LeakyReLU, Maxout, MaxPool2d, PReLU, ReLU,
    Sequential, Sigmoid, SpatialBatchNorm, Tanh,
)
from babysit.nn.base import Layer

from .torch_helpers import ParamLink

LINEAR = {"W": ParamLink("weight", transpose=True), "b": ParamLink("bias")}
CONV = {"W": ParamLink("weight"), "b": ParamLink("bias")}
NORM = {"gamma": ParamLink("weight"), "beta": ParamLink("bias")}
RUNNING = {"running_mean": "running_mean", "running_var": "running_var"}


# -- inputs -----------------------------------------------------------------
def away_from_zero(rng: np.random.Generator, shape, margin: float = 0.1) -> np.ndarray:
    """Values with |x| in [margin, 2]: a centred difference of 1e-5 never crosses a kink at 0."""
    return rng.uniform(margin, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng: np.random.Generator, shape, gap: float = 0.05) -> np.ndarray:
    """Values pairwise at least ``gap`` apart, centred on 0: max pooling has no ties to break."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size / 2).reshape(shape) * gap


def normal(scale: float = 1.0, shift: float = 0.0):
    return lambda rng, shape: rng.standard_normal(shape) * scale + shift


# -- layers with non-trivial parameters ---------------------------------------
def randomized(layer: Layer, seed: int = 1, **ranges) -> Layer:
    """Set each named parameter to uniform values in (low, high): biases, gammas and alphas all differ."""
    rng = np.random.default_rng(seed)
    for name, (low, high) in ranges.items():
        p = layer.params[name]
        p[...] = rng.uniform(low, high, p.shape).astype(p.dtype)
    return layer


def running_stats(layer, seed: int = 2):
    """Give a batchnorm layer running statistics far from (0, 1), so eval mode tests them."""
    rng = np.random.default_rng(seed)
    layer.running_mean[...] = rng.normal(0.0, 0.5, layer.dim)
    layer.running_var[...] = rng.uniform(0.5, 2.0, layer.dim)
    return layer


@dataclass(frozen=True)
class LayerCase:
    """One layer configuration.

    make(dtype) -> a fresh babysit layer; input(rng, shape) -> float64 input off kinks;
    torch(torch.nn) -> the equivalent torch module; torch_forward(layer, module, x)
    when torch needs more than ``module(x)``; zero_grad: params checked by absolute error.
    """

    id: str
    make: Callable[[np.dtype], Layer]
    shape: tuple
    input: Callable
    torch: Callable | None
    links: dict = field(default_factory=dict)
    train: bool = True
    buffers: dict = field(default_factory=dict)
    torch_forward: Callable | None = None
    zero_grad: tuple = ()  # params whose true gradient is 0 (a bias right before batchnorm)

    def x(self, seed: int = 100, dtype=np.float64) -> np.ndarray:
        # not seed 0: check_layer_gradients draws dout from seed 0, and an x equal to an affine map of
        # dout makes batchnorm's true input gradient vanish (dout in the span of 1 and xhat)
        return self.input(np.random.default_rng(seed), self.shape).astype(dtype)

    def layer(self, dtype=np.float64) -> Layer:
        return self.make(np.dtype(dtype)).train(self.train)


def _maxout_torch(layer, module, x):
    n = x.shape[0]
    return module(x).view(n, layer.out_dim, layer.pieces).max(-1).values


def _dropout_torch(layer, module, x):
    # torch's convention for a kept unit is x / (1 - p); babysit's mask decides which units are kept
    kept = x.new_tensor((layer.last_output != 0).astype(np.float64))
    return x * kept / (1.0 - layer.p)


def _conv(c, f, k, s, p, shape, algorithm="auto"):
    kh, kw = (k, k) if np.isscalar(k) else k
    suffix = "" if algorithm == "auto" else f"_{algorithm}"
    return LayerCase(
        f"conv2d_c{c}_f{f}_k{kh}x{kw}_s{s}_p{p}_in{'x'.join(map(str, shape[2:]))}{suffix}",
        lambda dt: randomized(Conv2d(c, f, k, s, p, dtype=dt, rng=3, algorithm=algorithm), b=(-1, 1)),
        shape, normal(), lambda nn: nn.Conv2d(c, f, k, stride=s, padding=p), CONV)


def _pool(size, stride, shape):
    return LayerCase(f"maxpool2d_{size}x{size}_s{stride}_in{'x'.join(map(str, shape[2:]))}",
                     lambda dt: MaxPool2d(size, stride), shape, distinct, lambda nn: nn.MaxPool2d(size, stride))


CASES = [
    LayerCase("affine", lambda dt: randomized(Affine(5, 3, dtype=dt, rng=0), b=(-1, 1)), (4, 5), normal(),
              lambda nn: nn.Linear(5, 3), LINEAR),
    LayerCase("relu", lambda dt: ReLU(), (3, 4, 2), away_from_zero, lambda nn: nn.ReLU()),
    LayerCase("leaky_relu", lambda dt: LeakyReLU(), (3, 5), away_from_zero, lambda nn: nn.LeakyReLU(0.01)),
    LayerCase("leaky_relu_0.2", lambda dt: LeakyReLU(0.2), (3, 5), away_from_zero, lambda nn: nn.LeakyReLU(0.2)),
    LayerCase("prelu_shared", lambda dt: randomized(PReLU(1, dtype=dt), alpha=(0.1, 0.4)), (3, 2, 2, 2),
              away_from_zero, lambda nn: nn.PReLU(1), {"alpha": ParamLink("weight")}),
    LayerCase("prelu_per_feature", lambda dt: randomized(PReLU(4, dtype=dt), alpha=(0.1, 0.4)), (5, 4),
              away_from_zero, lambda nn: nn.PReLU(4), {"alpha": ParamLink("weight")}),
    LayerCase("prelu_per_channel", lambda dt: randomized(PReLU(3, dtype=dt), alpha=(0.1, 0.4)), (2, 3, 2, 3),
              away_from_zero, lambda nn: nn.PReLU(3), {"alpha": ParamLink("weight")}),
    LayerCase("elu", lambda dt: ELU(), (3, 5), away_from_zero, lambda nn: nn.ELU(1.0)),
    LayerCase("elu_0.5", lambda dt: ELU(0.5), (3, 5), away_from_zero, lambda nn: nn.ELU(0.5)),
    LayerCase("sigmoid", lambda dt: Sigmoid(), (3, 5), normal(3.0), lambda nn: nn.Sigmoid()),
    LayerCase("tanh", lambda dt: Tanh(), (3, 5), normal(2.0), lambda nn: nn.Tanh()),
    LayerCase("maxout", lambda dt: randomized(Maxout(5, 3, dtype=dt, rng=4), b=(-1, 1)), (4, 5), normal(),
              lambda nn: nn.Linear(5, 6), LINEAR, torch_forward=_maxout_torch),
    LayerCase("maxout_3_pieces", lambda dt: randomized(Maxout(4, 2, pieces=3, dtype=dt, rng=5), b=(-1, 1)),
              (5, 4), normal(), lambda nn: nn.Linear(4, 6), LINEAR, torch_forward=_maxout_torch),
    LayerCase("batchnorm_train", lambda dt: randomized(BatchNorm(4, dtype=dt), gamma=(0.5, 2), beta=(-1, 1)),
              (6, 4), normal(2.0, 1.0), lambda nn: nn.BatchNorm1d(4), NORM, buffers=RUNNING),
    LayerCase("batchnorm_eval",
              lambda dt: running_stats(randomized(BatchNorm(4, dtype=dt), gamma=(0.5, 2), beta=(-1, 1))),
              (6, 4), normal(2.0, 1.0), lambda nn: nn.BatchNorm1d(4), NORM, train=False, buffers=RUNNING),
    LayerCase("spatial_batchnorm_train",
              lambda dt: randomized(SpatialBatchNorm(3, dtype=dt), gamma=(0.5, 2), beta=(-1, 1)),
              (2, 3, 3, 4), normal(2.0, 1.0), lambda nn: nn.BatchNorm2d(3), NORM, buffers=RUNNING),
    LayerCase("spatial_batchnorm_eval",
              lambda dt: running_stats(randomized(SpatialBatchNorm(3, dtype=dt), gamma=(0.5, 2), beta=(-1, 1))),
              (2, 3, 3, 4), normal(2.0, 1.0), lambda nn: nn.BatchNorm2d(3), NORM, train=False, buffers=RUNNING),
    LayerCase("dropout_train", lambda dt: Dropout(0.3, rng=0), (4, 6), away_from_zero, lambda nn: nn.Identity(),
              torch_forward=_dropout_torch),
    LayerCase("dropout_eval", lambda dt: Dropout(0.3, rng=0), (4, 6), normal(), lambda nn: nn.Dropout(0.3),
              train=False),
    _conv(3, 4, 3, 1, 1, (2, 3, 5, 5)),
    _conv(2, 3, 3, 2, 0, (2, 2, 7, 6)),
    _conv(2, 3, 3, 2, 1, (1, 2, 6, 5)),
    _conv(2, 2, 3, 2, 2, (2, 2, 5, 7)),
    _conv(3, 2, 1, 1, 0, (2, 3, 3, 4)),
    _conv(2, 3, (2, 3), 1, 1, (1, 2, 4, 5)),
    _conv(1, 2, 5, 3, 2, (1, 1, 8, 9)),
    # Winograd F(2x2, 3x3): even and odd output sizes (a partial last tile), pads 0-2, and 'auto'
    # choosing it (64 input channels, WINOGRAD_MIN_CHANNELS) against im2col forced on the same shape
    _conv(3, 4, 3, 1, 1, (2, 3, 5, 5), "winograd"),
    _conv(2, 3, 3, 1, 0, (2, 2, 6, 5), "winograd"),
    _conv(2, 2, 3, 1, 2, (1, 2, 4, 3), "winograd"),
    _conv(64, 2, 3, 1, 1, (1, 64, 3, 3)),
    _conv(64, 2, 3, 1, 1, (1, 64, 3, 3), "im2col"),
    _pool(2, 2, (2, 3, 4, 6)),
    _pool(2, 2, (1, 2, 5, 5)),
    _pool(3, 2, (2, 2, 7, 5)),
    _pool(3, 1, (1, 2, 5, 4)),
    LayerCase("flatten", lambda dt: Flatten(), (2, 3, 2, 2), normal(), lambda nn: nn.Flatten()),
    LayerCase("sequential_mlp",
              lambda dt: Sequential(randomized(Affine(5, 4, dtype=dt, rng=6), b=(-1, 1)), ReLU(),
                                    randomized(Affine(4, 3, dtype=dt, rng=7), b=(-1, 1))),
              (4, 5), normal(),
              lambda nn: nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)),
              {"0.W": ParamLink("0.weight", True), "0.b": ParamLink("0.bias"),
               "2.W": ParamLink("2.weight", True), "2.b": ParamLink("2.bias")}),
    LayerCase("sequential_conv_winograd",
              lambda dt: Sequential(randomized(Conv2d(2, 3, 3, 1, 1, dtype=dt, rng=8, algorithm="winograd"),
                                               b=(-1, 1)),
                                    ReLU(), MaxPool2d(2, 2), Flatten(),
                                    randomized(Affine(12, 3, dtype=dt, rng=9), b=(-1, 1))),
              (2, 2, 4, 4), normal(),
              lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),
                                       nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(12, 3)),
              {"0.W": ParamLink("0.weight"), "0.b": ParamLink("0.bias"),
               "4.W": ParamLink("4.weight", True), "4.b": ParamLink("4.bias")}),
    LayerCase("sequential_conv",
              lambda dt: Sequential(randomized(Conv2d(2, 3, 3, 1, 1, dtype=dt, rng=8), b=(-1, 1)),
                                    randomized(SpatialBatchNorm(3, dtype=dt), gamma=(0.5, 2), beta=(-1, 1)),
                                    ReLU(), MaxPool2d(2, 2), Flatten(),
                                    randomized(Affine(12, 3, dtype=dt, rng=9), b=(-1, 1))),
              (2, 2, 4, 4), normal(),
              lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                                       nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(12, 3)),
              {"0.W": ParamLink("0.weight"), "0.b": ParamLink("0.bias"), "1.gamma": ParamLink("1.weight"),
               "1.beta": ParamLink("1.bias"), "5.W": ParamLink("5.weight", True), "5.b": ParamLink("5.bias")},
              zero_grad=("0.b",)),
]

CASE_IDS = [c.id for c in CASES]
