"""The lecture's networks in the cs231n convention: ``model.params`` and ``model.loss(X, y=None)``.

``loss(X)`` returns class scores (N, C) in eval mode; ``loss(X, y)`` runs a
train-mode forward and backward and returns ``(loss, grads)``, with the L2 term
``0.5 * reg * sum(W**2)`` over every weight (not biases, gamma, beta or alpha).
The grads arrays are reused by the next call: copy them to keep them. So are the
layers' work arrays (outputs, input gradients, im2col patches; see babysit.nn.buffers):
every layer but the last reuses them while the batch shape repeats, so a layer's
``last_output`` is overwritten by the next forward; the scores ``loss(X)`` returns are new.
"""

from __future__ import annotations

import math

import numpy as np

from babysit.errors import ConfigError, InputError
from babysit.nn.activations import ACTIVATIONS, PReLU, ReLU, make_activation
from babysit.nn.affine import Affine
from babysit.nn.base import Layer, as_float_dtype, check_finite
from babysit.nn.batchnorm import BatchNorm, SpatialBatchNorm
from babysit.nn.buffers import BufferPool
from babysit.nn.conv import Conv2d
from babysit.nn.dropout import Dropout
from babysit.nn.init import as_generator, resolve_init
from babysit.nn.losses import check_labels, softmax_loss
from babysit.nn.maxout import Maxout
from babysit.nn.pool import MaxPool2d
from babysit.nn.reshape import Flatten
from babysit.nn.sequential import ParamView, Sequential

NORMALIZATIONS = (None, "batchnorm")
MODEL_ACTIVATIONS = tuple(ACTIVATIONS) + ("maxout",)


class Model:
    """Base of the models: a ``Sequential`` plus cs231n-style named params and ``loss``.

    Subclasses build ``self.layers`` and call ``self._index_params(named)`` with
    (public name, layer, local name) triples.
    """

    layers: Sequential
    input_shape: tuple[int, ...]
    num_classes: int

    def _finish(self, layers: list[Layer], named: list[tuple[str, Layer, str]]) -> None:
        self.layers = Sequential(*layers)
        self.layers[0].input_grad = False  # nobody needs the gradient of the data: skip that GEMM
        for layer in layers[:-1]:  # the last layer's output is the scores the caller keeps
            if hasattr(layer, "alloc"):
                layer.alloc = BufferPool()
        for relu, pool in zip(layers, layers[1:]):  # pool first, then rectify the 4x smaller result
            if type(relu) is ReLU and isinstance(pool, MaxPool2d):
                relu.fused_into_pool = pool.applies_relu = True
        index = {public: (layer, local) for public, layer, local in named}
        self.params = ParamView(index, "params")
        self.grads = ParamView(index, "grads")
        self.weight_names = [p for p, _, local in named if local == "W"]
        self._scratch = BufferPool()  # reg * W, once per weight and step

    # -- the cs231n API -----------------------------------------------------
    def loss(self, X, y=None):
        """Scores (N, C) when ``y`` is None (eval mode), else ``(loss, grads)`` (train mode).

        X may be (N, D) or (N, C, H, W) for image data; any real dtype is cast to
        the model's dtype at this boundary. NaN/inf in X is an InputError.
        """
        X = self.prepare_input(X)
        if y is None:
            self.layers.eval()
            return self.layers.forward(X)
        # check labels before the forward pass: a rejected call must not move batchnorm's
        # running statistics or consume dropout randomness
        y = check_labels(y, X.shape[0], self.num_classes, f"{type(self).__name__}.loss")
        self.layers.train()
        scores = self.layers.forward(X)
        loss, dscores = softmax_loss(scores, y)
        self.layers.backward(dscores)
        grads = dict(self.grads)
        if self.reg:
            reg = float(self.reg)  # a Python float keeps float32 arrays float32
            for name in self.weight_names:
                w = self.params[name]
                flat = w.reshape(-1)
                loss += 0.5 * reg * float(np.dot(flat, flat))
                grads[name] += np.multiply(w, reg, out=self._scratch(name, w.shape, w.dtype))
        return loss, grads

    def predict(self, X, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels (N,), computed in eval mode in batches."""
        return np.concatenate([self.loss(X[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(X), batch_size)]) if len(X) else np.zeros(0, np.int64)

    def prepare_input(self, X) -> np.ndarray:
        """Validate X (N, *input_shape) or (N, prod(input_shape)), cast to the model dtype, check finiteness."""
        name = type(self).__name__
        X = np.asarray(X)
        if X.dtype.kind not in "fiu":
            raise InputError(f"{name}: expected real-valued input X, got dtype {X.dtype}")
        d = math.prod(self.input_shape)
        flat_ok = X.ndim == 2 and X.shape[1] == d
        if not (X.shape[1:] == self.input_shape or flat_ok) or X.ndim < 2:
            raise InputError(f"{name}: expected input X of shape (N, {', '.join(map(str, self.input_shape))})"
                             f"{f' or (N, {d})' if len(self.input_shape) > 1 else ''}, got {X.shape}")
        X = X.astype(self.dtype, copy=False)
        if not _all_finite(X):
            check_finite(X, name, "input X")  # the exact check, which names the first bad value
        return self._reshape_input(X)

    def _reshape_input(self, X):
        return X

    def train(self, mode: bool = True):
        self.layers.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def num_params(self) -> int:
        return sum(v.size for v in self.params.values())

    def config(self) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.config()})"


def _all_finite(X) -> bool:
    """Whether X holds only finite values, from one BLAS dot product (2-3x faster than a sum).

    A finite sum of squares means no NaN or inf; an overflowing one (|x| > ~1e19 in float32)
    gives False, and the caller's exact check then finds the values are fine.
    """
    v = X.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.dot(v, v)))


def _check_choice(value, allowed, what):
    if value not in allowed:
        raise ConfigError(f"unknown {what} {value!r}; expected one of {', '.join(map(str, allowed))}")


def _check_dims(dims, what):
    dims = [int(d) for d in dims]
    if any(d < 1 for d in dims):
        raise ConfigError(f"{what} must be positive integers; got {dims}")
    return dims


class FullyConnectedNet(Model):
    """{affine - [batchnorm] - activation - [dropout]} x (L - 1) - affine - softmax.

    Args:
        hidden_dims: sizes of the hidden layers, e.g. [100, 100].
        input_dim: D, or an image shape (C, H, W) (input is flattened).
        num_classes: C.
        activation: 'relu' | 'leaky_relu' | 'prelu' | 'elu' | 'tanh' | 'sigmoid' | 'maxout'.
        init: 'small' | 'xavier' | 'he' | 'zeros'. With neither ``init`` nor
            ``weight_scale``: He for the ReLU family, Xavier for tanh/sigmoid.
            ``weight_scale`` alone means init='small' with that std (the lecture's 0.01).
        normalization: None or 'batchnorm'.
        dropout: drop probability (0 = no dropout).
        reg: L2 strength.
        dtype: np.float32 (default) or np.float64 (gradient checks).
        seed: int seed for the init and dropout.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, activation="relu", init=None,
                 weight_scale=None, normalization=None, dropout=0.0, reg=0.0, dtype=np.float32, seed=None):
        _check_choice(activation, MODEL_ACTIVATIONS, "activation")
        _check_choice(normalization, NORMALIZATIONS, "normalization")
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {dropout}")
        if float(reg) < 0:
            raise ConfigError(f"reg must be >= 0; got {reg}")
        self.hidden_dims = _check_dims(hidden_dims, "hidden_dims")
        self.input_shape = tuple(int(d) for d in np.atleast_1d(input_dim))
        self.num_classes = int(num_classes)
        self.activation, self.normalization = activation, normalization
        self.dropout, self.reg = float(dropout), float(reg)
        self.dtype = as_float_dtype(dtype, "FullyConnectedNet")
        self.seed = seed
        self.init, self.weight_scale = resolve_init(init, weight_scale, activation)
        rng = as_generator(seed)
        winit = dict(init=self.init, weight_scale=self.weight_scale, dtype=self.dtype, rng=rng)

        layers, named = [], []
        dims = [math.prod(self.input_shape)] + self.hidden_dims
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            if activation == "maxout":
                layer = Maxout(d_in, d_out, 2, **winit)
            else:
                layer = Affine(d_in, d_out, **winit)
            layers.append(layer)
            named += [(f"W{i}", layer, "W"), (f"b{i}", layer, "b")]
            if normalization == "batchnorm":
                bn = BatchNorm(d_out, dtype=self.dtype)
                layers.append(bn)
                named += [(f"gamma{i}", bn, "gamma"), (f"beta{i}", bn, "beta")]
            if activation != "maxout":
                act = make_activation(activation, dtype=self.dtype)
                layers.append(act)
                if isinstance(act, PReLU):
                    named.append((f"alpha{i}", act, "alpha"))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout, rng=rng))
        last = len(self.hidden_dims) + 1
        out = Affine(dims[-1], self.num_classes, **winit)
        layers.append(out)
        named += [(f"W{last}", out, "W"), (f"b{last}", out, "b")]
        self._finish(layers, named)

    def _reshape_input(self, X):
        return X.reshape(X.shape[0], -1)

    def config(self) -> dict:
        return {"type": "FullyConnectedNet", "hidden_dims": self.hidden_dims, "input_dim": list(self.input_shape),
                "num_classes": self.num_classes, "activation": self.activation, "init": self.init,
                "weight_scale": self.weight_scale, "normalization": self.normalization, "dropout": self.dropout,
                "reg": self.reg, "dtype": self.dtype.name, "seed": self.seed}


class TwoLayerNet(FullyConnectedNet):
    """affine - relu - affine - softmax: the lecture's 2-layer net (3072-50-10 by default)."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=50, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float32, seed=None):
        super().__init__([hidden_dim], input_dim=input_dim, num_classes=num_classes, weight_scale=weight_scale,
                         reg=reg, dtype=dtype, seed=seed)

    def config(self) -> dict:
        return {"type": "TwoLayerNet", "input_dim": list(self.input_shape), "hidden_dim": self.hidden_dims[0],
                "num_classes": self.num_classes, "weight_scale": self.weight_scale, "reg": self.reg,
                "dtype": self.dtype.name, "seed": self.seed}


class ConvNet(Model):
    """{conv3x3 (pad 1) - [spatial batchnorm] - relu - 2x2 max pool} x K - {affine - [bn] - relu} x M - affine.

    Args:
        input_dim: (C, H, W).
        conv_channels: filters per conv block, e.g. [32, 64].
        kernel_size: odd kernel size (padding keeps the spatial size).
        hidden_dims: sizes of the affine layers after the conv blocks.
        init / weight_scale: as in FullyConnectedNet (default He).
    """

    def __init__(self, input_dim=(3, 32, 32), conv_channels=(32, 64), kernel_size=3, hidden_dims=(), num_classes=10,
                 normalization=None, reg=0.0, dtype=np.float32, seed=None, init=None, weight_scale=None):
        _check_choice(normalization, NORMALIZATIONS, "normalization")
        if len(tuple(input_dim)) != 3:
            raise ConfigError(f"ConvNet: input_dim must be (C, H, W); got {input_dim}")
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ConfigError(f"ConvNet: kernel_size must be odd (padding keeps the size); got {kernel_size}")
        if float(reg) < 0:
            raise ConfigError(f"reg must be >= 0; got {reg}")
        self.input_shape = tuple(int(d) for d in input_dim)
        self.conv_channels = _check_dims(conv_channels, "conv_channels")
        self.hidden_dims = _check_dims(hidden_dims, "hidden_dims")
        self.kernel_size, self.num_classes = int(kernel_size), int(num_classes)
        self.normalization, self.reg = normalization, float(reg)
        self.dtype = as_float_dtype(dtype, "ConvNet")
        self.seed = seed
        self.init, self.weight_scale = resolve_init(init, weight_scale, "relu")
        rng = as_generator(seed)
        winit = dict(init=self.init, weight_scale=self.weight_scale, dtype=self.dtype, rng=rng)

        c, h, w = self.input_shape
        if h >> len(self.conv_channels) < 1 or w >> len(self.conv_channels) < 1:
            raise ConfigError(f"ConvNet: {len(self.conv_channels)} pooling blocks shrink a {h}x{w} input to nothing")
        layers, named, k = [], [], 0
        for f in self.conv_channels:
            k += 1
            conv = Conv2d(c, f, self.kernel_size, 1, self.kernel_size // 2, **winit)
            layers.append(conv)
            named += [(f"W{k}", conv, "W"), (f"b{k}", conv, "b")]
            if normalization == "batchnorm":
                bn = SpatialBatchNorm(f, dtype=self.dtype)
                layers.append(bn)
                named += [(f"gamma{k}", bn, "gamma"), (f"beta{k}", bn, "beta")]
            layers += [make_activation("relu"), MaxPool2d(2, 2)]
            c, h, w = f, h // 2, w // 2
        layers.append(Flatten())
        d = c * h * w
        for hdim in self.hidden_dims:
            k += 1
            aff = Affine(d, hdim, **winit)
            layers.append(aff)
            named += [(f"W{k}", aff, "W"), (f"b{k}", aff, "b")]
            if normalization == "batchnorm":
                bn = BatchNorm(hdim, dtype=self.dtype)
                layers.append(bn)
                named += [(f"gamma{k}", bn, "gamma"), (f"beta{k}", bn, "beta")]
            layers.append(make_activation("relu"))
            d = hdim
        k += 1
        out = Affine(d, self.num_classes, **winit)
        layers.append(out)
        named += [(f"W{k}", out, "W"), (f"b{k}", out, "b")]
        self._finish(layers, named)

    def _reshape_input(self, X):
        return X.reshape((X.shape[0],) + self.input_shape)

    def config(self) -> dict:
        return {"type": "ConvNet", "input_dim": list(self.input_shape), "conv_channels": self.conv_channels,
                "kernel_size": self.kernel_size, "hidden_dims": self.hidden_dims, "num_classes": self.num_classes,
                "normalization": self.normalization, "reg": self.reg, "dtype": self.dtype.name, "seed": self.seed,
                "init": self.init, "weight_scale": self.weight_scale}


MODELS = {"FullyConnectedNet": FullyConnectedNet, "TwoLayerNet": TwoLayerNet, "ConvNet": ConvNet}


def build_model(config: dict) -> Model:
    """Rebuild a model from ``model.config()`` (weights freshly initialized; load them separately)."""
    config = dict(config)
    kind = config.pop("type", None)
    if kind not in MODELS:
        raise ConfigError(f"unknown model type {kind!r}; expected one of {', '.join(MODELS)}")
    if "dtype" in config:
        config["dtype"] = np.dtype(config["dtype"])
    try:
        return MODELS[kind](**config)
    except TypeError as exc:
        raise ConfigError(f"cannot build {kind} from {config}: {exc}") from None
