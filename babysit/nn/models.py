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

import inspect
import math
import numbers

import numpy as np

from babysit.errors import InputError
from babysit.nn.activations import ACTIVATIONS, ReLU, make_activation
from babysit.nn.affine import Affine
from babysit.nn.base import Layer, as_float_dtype, check_finite
from babysit.nn.batchnorm import BatchNorm, SpatialBatchNorm
from babysit.nn.buffers import BufferPool, release_buffers
from babysit.nn.conv import Conv2d
from babysit.nn.dropout import Dropout
from babysit.nn.init import as_generator, init_scale, resolve_init
from babysit.nn.losses import check_labels, softmax_loss
from babysit.nn.maxout import Maxout
from babysit.nn.parallel import add_in_order, part_slices, replicate, run_parts, sync
from babysit.nn.pool import MaxPool2d
from babysit.nn.reshape import Flatten
from babysit.nn.sequential import ParamView, Sequential
from babysit.validation import (
    AT_LEAST_ONE, NON_NEGATIVE, Interval, check_choice, check_float, check_int, check_int_list, invalid,
    reject_unknown,
)

NORMALIZATIONS = (None, "batchnorm")
MODEL_ACTIVATIONS = tuple(ACTIVATIONS) + ("maxout",)
AT_LEAST_TWO = Interval(2, math.inf)  # classes: softmax over one class is a constant loss of 0
# Under the he/xavier schemes the classifier (last) layer's weights are scaled by this, so that the
# class scores start small and the first loss is ~ln C (Karpathy's "init well"; the lecture's
# "loss at init ~2.3"). Hidden layers keep their scheme; 'small' (the lecture's weight_scale) and
# 'zeros' are left exactly as the slides have them.
CLASSIFIER_SCALE = 0.3
# A ConvNet's 2x2 max pools each raise the activations' second moment (the max of 4 rectified values),
# which He init does not account for: its classifier starts smaller (scores std ~0.35 on unit-Gaussian
# 3x32x32 input for conv:32,64, first loss 2.39; at 0.3 it was 3.00, at 1 (plain He) 4.19 on CIFAR-10).
CONV_CLASSIFIER_SCALE = 0.1


class Model:
    """Base of the models: a ``Sequential`` plus cs231n-style named params and ``loss``.

    Subclasses collect their layers in a ``_Layers`` and hand it to ``_finish``.
    """

    layers: Sequential
    input_shape: tuple[int, ...]
    num_classes: int
    # a training batch runs in this many parts when every layer allows it (Layer.per_sample), each part
    # through its own copy of the layers, on threads when BLAS has them (babysit.nn.parallel); 1: never split
    batch_parts = 2

    def _finish(self, built: _Layers) -> None:
        layers, named = built.layers, built.named
        self.layers = Sequential(*layers)
        self.layers[0].input_grad = False  # nobody needs the gradient of the data: skip that GEMM
        for layer in layers[:-1]:  # the last layer's output is the scores the caller keeps
            if hasattr(layer, "alloc"):
                layer.alloc = BufferPool()
        for relu, pool in zip(layers, layers[1:]):  # pool first, then rectify the 4x smaller result
            if type(relu) is ReLU and isinstance(pool, MaxPool2d):
                relu.fused_into_pool = pool.applies_relu = True
        for conv, relu, pool in zip(layers, layers[1:], layers[2:]):  # and a conv before them: one pass over
            if (isinstance(conv, Conv2d) and getattr(relu, "fused_into_pool", False) and isinstance(pool, MaxPool2d)
                    and pool.size == pool.stride == 2):  # bands of rows (babysit.nn.convpool; Sequential runs the
                conv.fuses_next = True                   # layers in turn where that does not apply)
        index = {public: (layer, local) for public, layer, local in named}
        self.params = ParamView(index, "params")
        self.grads = ParamView(index, "grads")
        self.weight_names = [p for p, _, local in named if local == "W"]
        self._scratch = BufferPool()  # reg * W, once per weight and step
        # block k -> its layers (W{k}, b{k}, gamma{k}, ... name them), bottom to top; the last is the classifier
        self._blocks: dict[int, list[Layer]] = {}
        for public, layer, local in named:
            members = self._blocks.setdefault(int(public[len(local):]), [])
            if layer not in members:
                members.append(layer)
        self._trainable = list(self.params)
        # an Affine first layer's output (N x out_dim, often 30x smaller than X) is checked instead of X
        self._check_first_output = type(layers[0]) is Affine and _GEMM_PROPAGATES_NONFINITE
        self._splits = all(layer.per_sample for layer in layers)
        self._part_copies: list[Sequential] = []  # made by the first step in parts
        self._holding: Sequential | None = None  # whose work arrays are kept (_hold_buffers_of)

    # -- the cs231n API -----------------------------------------------------
    def loss(self, X, y=None):
        """Scores (N, C) when ``y`` is None (eval mode), else ``(loss, grads)`` (train mode).

        X may be (N, D) or (N, C, H, W) for image data; any real dtype is cast to
        the model's dtype at this boundary. NaN/inf in X is an InputError.
        """
        X = self.prepare_input(X, finite_check=not self._check_first_output)
        if y is None:
            self.layers.eval()
            self._hold_buffers_of(self.layers)
            return self._forward(X)
        # check labels before the forward pass: a rejected call must not move batchnorm's
        # running statistics or consume dropout randomness
        y = check_labels(y, X.shape[0], self.num_classes, f"{type(self).__name__}.loss")
        self.layers.train()
        parts = part_slices(X.shape[0], self.batch_parts if self._splits else 1)
        if len(parts) > 1:
            loss = self._step_in_parts(X, y, parts)
        else:
            self._hold_buffers_of(self.layers)
            scores = self._forward(X)
            loss, dscores = softmax_loss(scores, y, labels_checked=True)  # checked above
            if self._trainable:
                self.layers.backward(dscores)  # down to the lowest trainable layer (Sequential.backward_stop)
        grads = {name: self.grads[name] for name in self._trainable}
        if self.reg:
            reg = float(self.reg)  # a Python float keeps float32 arrays float32
            for name in self.weight_names:
                w = self.params[name]
                flat = w.reshape(-1)
                loss += 0.5 * reg * float(np.dot(flat, flat))
                if name in grads:
                    grads[name] += np.multiply(w, reg, out=self._scratch(name, w.shape, w.dtype))
        return loss, grads

    def predict(self, X, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels (N,), computed in eval mode in batches."""
        return np.concatenate([self.loss(X[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(X), batch_size)]) if len(X) else np.zeros(0, np.int64)

    def _forward(self, X, sequential: Sequential | None = None) -> np.ndarray:
        """``sequential.forward(X)`` (default: the model's layers); with ``_check_first_output``, X's NaN/inf
        check runs on the first layer's output.

        A GEMM turns a NaN/inf in row i of X into NaN/inf in every column of row i of ``X @ W`` (inf * 0 is
        NaN), so a finite output proves a finite X. A non-finite one runs the exact check on X, which raises
        when X is the cause; when it is not (the weights diverged), the forward goes on and the loss shows it.
        That first layer has no state a rejected call could move (it is an Affine).
        """
        sequential = self.layers if sequential is None else sequential
        if not self._check_first_output:
            return sequential.forward(X)
        layers = sequential.layers
        with np.errstate(invalid="ignore", over="ignore"):  # NumPy would warn of the BLAS's inf * 0 (a NaN X)
            x = layers[0].forward(X)
        if not _all_finite(x):
            check_finite(X, type(self).__name__, "input X")
        for layer in layers[1:]:
            x = layer.forward(x)
        sequential.last_output = x
        return x

    def _step_in_parts(self, X, y, parts: list[slice]) -> float:
        """Forward, loss and backward of the batch in ``parts``, each through its own copy of the layers
        (babysit.nn.parallel); the model's gradients are the parts' added in part order. Returns the loss."""
        copies = self._copies(len(parts))
        self._hold_buffers_of(copies[0])
        n = X.shape[0]

        def part(i):
            rows, sequential = parts[i], copies[i]
            loss, dscores = softmax_loss(self._forward(X[rows], sequential), y[rows], labels_checked=True)
            share = (rows.stop - rows.start) / n  # of the batch mean
            dscores *= share
            if self._trainable:
                sequential.backward(dscores)
            return loss * share

        try:
            losses = run_parts(part, len(parts))
        except InputError:  # a part's input check: name the bad value's index in the whole batch
            check_finite(X, type(self).__name__, "input X")
            raise
        main = self.layers.layers
        for j, layer in enumerate(main):
            used = [c.layers[j] for c in copies]
            if layer.param_grad and j >= self.layers.backward_stop:
                for name, g in layer.grads.items():
                    add_in_order([u.grads[name] for u in used], g)
            layer._ran_in_parts(used)
        self.layers._ran_in_parts(copies)
        return sum(losses)

    def _hold_buffers_of(self, sequential: Sequential) -> None:
        """Keep work arrays only in the layers about to run (the model's own, or the part copies): the other set
        lets go of its arrays, so a training with evaluations in between holds one set at a time, as a model
        whose batches all go through the same layers does (an eval batch reshapes their arrays)."""
        if not self._part_copies or sequential is self._holding:
            return
        others = [self.layers] if sequential is not self.layers else self._part_copies
        for other in others:
            release_buffers(other.layers)
            for layer in other.layers:  # their caches and outputs would keep the arrays alive
                layer._cache = None
                layer.last_output = None
        self._holding = sequential

    def _copies(self, count: int) -> list[Sequential]:
        """``count`` copies of the layers for the batch parts, given the layers' current flags."""
        while len(self._part_copies) < count:
            self._part_copies.append(Sequential(*(replicate(layer) for layer in self.layers.layers)))
        copies = self._part_copies[:count]
        for sequential in copies:
            sequential.backward_stop = self.layers.backward_stop
            for twin, layer in zip(sequential.layers, self.layers.layers):
                sync(twin, layer)
        return copies

    def prepare_input(self, X, finite_check: bool = True) -> np.ndarray:
        """Validate X (N, *input_shape) or (N, prod(input_shape)), cast to the model dtype, check finiteness
        (unless ``finite_check`` is False: ``loss`` may check the first layer's output instead)."""
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
        if finite_check and not _all_finite(X):
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

    # -- transfer learning: frozen blocks -----------------------------------
    @property
    def blocks(self) -> list[int]:
        """The block numbers, bottom to top (k of W{k}, b{k}, gamma{k}, ...); the last one is the classifier."""
        return list(self._blocks)

    def block_of(self, name: str) -> int:
        """The block number of the parameter ``name`` (W3 -> 3)."""
        layer, local = self.params.owner(name)
        return int(name[len(local):])

    def freeze(self, blocks=None, *, train_bn: bool = False) -> Model:
        """Freeze ``blocks`` (block numbers; None: every block): their parameters get no gradient and no update,
        and their BatchNorm layers run in eval mode (running statistics used, never changed), unless ``train_bn``
        (fastai's default: BatchNorm layers stay trainable). Backward stops at the lowest trainable layer."""
        for layer in self._block_layers(blocks, "freeze"):
            if not (train_bn and layer.eval_when_frozen):
                layer.frozen = True
        return self._refreeze()

    def unfreeze(self, blocks=None) -> Model:
        """Make ``blocks`` (None: every block) trainable again."""
        for layer in self._block_layers(blocks, "unfreeze"):
            layer.frozen = False
        return self._refreeze()

    @property
    def frozen_params(self) -> list[str]:
        """Names of the parameters ``freeze`` excluded from training."""
        return [name for name in self.params if name not in self._trainable]

    def trainable_params(self) -> dict[str, np.ndarray]:
        """name -> array of the parameters training updates (the model's own arrays)."""
        return {name: self.params[name] for name in self._trainable}

    def _block_layers(self, blocks, owner: str) -> list[Layer]:
        chosen = self.blocks if blocks is None else [blocks] if isinstance(blocks, numbers.Integral) else list(blocks)
        unknown = [k for k in chosen if k not in self._blocks]
        if unknown:
            raise invalid(f"{type(self).__name__}.{owner}", "blocks", f"block numbers among {self.blocks}", unknown)
        return [layer for k in chosen for layer in self._blocks[k]]

    def _refreeze(self) -> Model:
        """Recompute the trainable names and where backward stops (the next ``loss(X, y)`` sets the modes)."""
        self._trainable = [name for name in self.params if not self.params.owner(name)[0].frozen]
        layers = self.layers.layers
        trainable = [i for i, layer in enumerate(layers) if layer.params and not layer.frozen]
        stop = trainable[0] if trainable else 0
        self.layers.backward_stop = stop
        for i, layer in enumerate(layers):
            layer.input_grad = i > stop  # the stop layer computes its parameters' gradients, not its input's
            layer.param_grad = not layer.frozen  # frozen layers above it pass the gradient down, nothing more
        return self

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


def _gemm_propagates_nonfinite() -> bool:
    """Whether this NumPy's BLAS turns a NaN/inf in a row of x into NaN/inf in that row of ``x @ W``.

    OpenBLAS (NumPy's wheels) and MKL multiply every term; a BLAS that skipped zero weights (the
    reference BLAS's gemv does) would not, and the models then check their input X itself.
    """
    x = np.zeros((16, 32), np.float32)
    x[3, 5], x[9, 30] = np.nan, np.inf
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(x @ np.zeros((32, 8), np.float32))
    return bool(bad[[3, 9]].all() and not np.delete(bad, [3, 9], axis=0).any())


_GEMM_PROPAGATES_NONFINITE = _gemm_propagates_nonfinite()


def _classifier(d_in: int, num_classes: int, winit: dict, factor: float = CLASSIFIER_SCALE) -> Affine:
    """The final Affine layer; under he/xavier its weights are scaled by ``factor`` (first loss ~ln C)."""
    scheme = winit["init"]
    if scheme not in ("he", "xavier"):
        return Affine(d_in, num_classes, **winit)
    # drawn in float64 at the scaled std (as init_weight draws): float32 and float64 builds agree
    std = factor * init_scale(scheme, d_in)
    layer = Affine(d_in, num_classes, **{**winit, "init": "small", "weight_scale": std})
    layer.init = scheme
    return layer


class _Layers:
    """The layers of a model being built and the public names of their parameters.

    A layer added with block number ``k`` exposes each parameter ``name`` as ``f"{name}{k}"``
    (W1, b1, gamma1, beta1, alpha1, ...), in the order the layers come.
    """

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.named: list[tuple[str, Layer, str]] = []  # (public name, layer, local name)

    def add(self, layer: Layer, k: int | None = None) -> None:
        self.layers.append(layer)
        if k is not None:
            self.named += [(f"{name}{k}", layer, name) for name in layer.params]

    def add_normalized(self, layer: Layer, k: int, norm: Layer | None) -> None:
        """``layer``, then its batchnorm ``norm`` (None: no normalization), both numbered ``k``."""
        self.add(layer, k)
        if norm is not None:
            self.add(norm, k)


def _check_common(owner: str, num_classes, normalization, reg) -> tuple[int, str | None, float]:
    """The parameters every model shares: num_classes >= 2, normalization, reg finite >= 0."""
    return (check_int(owner, "num_classes", num_classes, AT_LEAST_TWO),
            check_choice(owner, "normalization", normalization, NORMALIZATIONS),
            check_float(owner, "reg", reg, NON_NEGATIVE))


def _check_shape(owner: str, name: str, value) -> tuple[int, ...]:
    """An input shape: one int D, or a sequence of ints such as (C, H, W); each >= 1."""
    dims = (value,) if isinstance(value, numbers.Integral) else value
    try:
        return check_int_list(owner, name, dims, AT_LEAST_ONE, allow_empty=False)
    except ValueError:
        raise invalid(owner, name, f"an int in {AT_LEAST_ONE} or a sequence of them", value) from None


class FullyConnectedNet(Model):
    """{affine - [batchnorm] - activation - [dropout]} x (L - 1) - affine - softmax.

    Args:
        hidden_dims: sizes of the hidden layers, e.g. [100, 100] (empty: a linear classifier).
        input_dim: D, or an image shape (C, H, W) (input is flattened).
        num_classes: C >= 2.
        activation: 'relu' | 'leaky_relu' | 'prelu' | 'elu' | 'tanh' | 'sigmoid' | 'maxout'.
        init: 'small' | 'xavier' | 'he' | 'zeros'. With neither ``init`` nor
            ``weight_scale``: He for the ReLU family, Xavier for tanh/sigmoid.
            ``weight_scale`` alone means init='small' with that std (the lecture's 0.01).
        normalization: None or 'batchnorm'.
        dropout: drop probability in [0, 1) (0 = no dropout).
        reg: L2 strength, finite >= 0.
        dtype: np.float32 (default) or np.float64 (gradient checks).
        seed: int seed for the init and dropout.
    """

    # not split (Model.batch_parts): an MLP step is ~1 ms of GEMMs and ~40 short NumPy calls, and two threads
    # handing the GIL to each other around every call cost more than the second core gives (bench_step, 2 threads,
    # AMD EPYC: 3072-50-10 at 218k samples/s whole, 137k in 2 parts; docs/benchmarks.md, issue 14 session 3)
    batch_parts = 1

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, activation="relu", init=None,
                 weight_scale=None, normalization=None, dropout=0.0, reg=0.0, dtype=np.float32, seed=None):
        owner = type(self).__name__
        self.activation = check_choice(owner, "activation", activation, MODEL_ACTIVATIONS)
        self.num_classes, self.normalization, self.reg = _check_common(owner, num_classes, normalization, reg)
        self.dropout = check_float(owner, "dropout", dropout, Interval(0.0, 1.0, "left"))
        self.hidden_dims = list(check_int_list(owner, "hidden_dims", hidden_dims, AT_LEAST_ONE))
        self.input_shape = _check_shape(owner, "input_dim", input_dim)
        self.dtype = as_float_dtype(dtype, owner)
        self.seed = seed
        self.init, self.weight_scale = resolve_init(init, weight_scale, activation, owner)
        rng = as_generator(seed)
        winit = dict(init=self.init, weight_scale=self.weight_scale, dtype=self.dtype, rng=rng)

        built = _Layers()
        dims = [math.prod(self.input_shape)] + self.hidden_dims
        for k, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            layer = Maxout(d_in, d_out, 2, **winit) if activation == "maxout" else Affine(d_in, d_out, **winit)
            built.add_normalized(layer, k, BatchNorm(d_out, dtype=self.dtype) if normalization else None)
            if activation != "maxout":
                built.add(make_activation(activation, dtype=self.dtype), k)  # PReLU's alpha is alpha{k}
            if self.dropout > 0:
                built.add(Dropout(self.dropout, rng=rng))
        built.add(_classifier(dims[-1], self.num_classes, winit), len(dims))
        self._finish(built)

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
        check_int(type(self).__name__, "hidden_dim", hidden_dim, AT_LEAST_ONE)
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
        num_classes, normalization, reg, dtype, seed: as in FullyConnectedNet.
        init / weight_scale: as in FullyConnectedNet (default He).
        conv_algorithm: 'auto' | 'im2col' | 'winograd', for every conv layer (see ``Conv2d``).
    """

    def __init__(self, input_dim=(3, 32, 32), conv_channels=(32, 64), kernel_size=3, hidden_dims=(), num_classes=10,
                 normalization=None, reg=0.0, dtype=np.float32, seed=None, init=None, weight_scale=None,
                 conv_algorithm="auto"):
        owner = type(self).__name__
        self.num_classes, self.normalization, self.reg = _check_common(owner, num_classes, normalization, reg)
        self.input_shape = _check_shape(owner, "input_dim", input_dim)
        if len(self.input_shape) != 3:
            raise invalid(owner, "input_dim", f"(C, H, W): three ints in {AT_LEAST_ONE}", input_dim)
        self.kernel_size = check_int(owner, "kernel_size", kernel_size, AT_LEAST_ONE)
        if self.kernel_size % 2 == 0:
            raise invalid(owner, "kernel_size", "an odd int (a pad of kernel_size // 2 keeps the size)", kernel_size)
        self.conv_channels = list(check_int_list(owner, "conv_channels", conv_channels, AT_LEAST_ONE))
        self.hidden_dims = list(check_int_list(owner, "hidden_dims", hidden_dims, AT_LEAST_ONE))
        self.dtype = as_float_dtype(dtype, owner)
        self.seed = seed
        self.init, self.weight_scale = resolve_init(init, weight_scale, "relu", owner)
        self.conv_algorithm = conv_algorithm  # checked by Conv2d
        rng = as_generator(seed)
        winit = dict(init=self.init, weight_scale=self.weight_scale, dtype=self.dtype, rng=rng)

        c, h, w = self.input_shape
        blocks = min(h, w).bit_length() - 1  # 2x2 poolings a min(h, w) input survives
        if len(self.conv_channels) > blocks:
            raise invalid(owner, "conv_channels", f"at most {blocks} blocks for a {h}x{w} input (each 2x2 max "
                          "pool halves it: more would shrink it to nothing)", conv_channels)
        built, k = _Layers(), 0
        for f in self.conv_channels:
            k += 1
            conv = Conv2d(c, f, self.kernel_size, 1, self.kernel_size // 2, algorithm=conv_algorithm, **winit)
            built.add_normalized(conv, k, SpatialBatchNorm(f, dtype=self.dtype) if normalization else None)
            built.add(make_activation("relu"))
            built.add(MaxPool2d(2, 2))
            c, h, w = f, h // 2, w // 2
        built.add(Flatten())
        d = c * h * w
        for hdim in self.hidden_dims:
            k += 1
            norm = BatchNorm(hdim, dtype=self.dtype) if normalization else None
            built.add_normalized(Affine(d, hdim, **winit), k, norm)
            built.add(make_activation("relu"))
            d = hdim
        built.add(_classifier(d, self.num_classes, winit, CONV_CLASSIFIER_SCALE), k + 1)
        self._finish(built)

    def _reshape_input(self, X):
        return X.reshape((X.shape[0],) + self.input_shape)

    def config(self) -> dict:
        return {"type": "ConvNet", "input_dim": list(self.input_shape), "conv_channels": self.conv_channels,
                "kernel_size": self.kernel_size, "hidden_dims": self.hidden_dims, "num_classes": self.num_classes,
                "normalization": self.normalization, "reg": self.reg, "dtype": self.dtype.name, "seed": self.seed,
                "init": self.init, "weight_scale": self.weight_scale, "conv_algorithm": self.conv_algorithm}


MODELS = {"FullyConnectedNet": FullyConnectedNet, "TwoLayerNet": TwoLayerNet, "ConvNet": ConvNet}


def build_model(config: dict) -> Model:
    """Rebuild a model from ``model.config()`` (weights freshly initialized; load them separately)."""
    config = dict(config)
    kind = config.pop("type", None)
    check_choice("build_model", "type", kind, MODELS)
    cls = MODELS[kind]
    reject_unknown(kind, config, list(inspect.signature(cls).parameters))
    try:
        return cls(**config)
    except TypeError as exc:  # a required argument is missing
        raise invalid("build_model", "config", f"a complete {kind} config ({exc})", config) from None
