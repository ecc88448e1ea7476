"""The layer contract: params/grads dicts, explicit train/eval mode, input checks.

A layer is a thin holder: it owns ``params`` and ``grads`` (dicts keyed by name),
calls the functional ops of its module in ``forward``/``backward``, and keeps
the op's cache between the two. Input checks are O(1) (shape and dtype); the
models check their raw input for NaN once per step.
"""

from __future__ import annotations

import numpy as np

from babysit.errors import InputError
from babysit.validation import check_dtype

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype, owner: str) -> np.dtype:
    """Return the ``dtype`` parameter of ``owner`` as np.float32 or np.float64, or raise ConfigError."""
    return check_dtype(owner, "dtype", dtype, FLOAT_DTYPES)


def check_finite(x: np.ndarray, owner: str, what: str = "input") -> None:
    """Raise InputError when ``x`` holds NaN or inf, naming where the first one is.

    A single reduction is the fast path: a finite sum implies every element is finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(x, axis=None)):
            return
    bad = ~np.isfinite(x)
    if not bad.any():  # the sum overflowed, the values are fine
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    kind = "NaN" if np.isnan(x[first]) else "inf"
    raise InputError(
        f"{owner}: {what} contains {int(bad.sum())} non-finite value(s) ({kind} at index {first}); "
        "expected finite numbers (clean the data, or check the preprocessing)"
    )


class Layer:
    """Base class of every layer.

    Attributes:
        params: name -> parameter array (empty for parameter-free layers).
        grads: name -> gradient array, same shapes as ``params``, filled by ``backward``.
        training: True in train mode (batch statistics, dropout on), False in eval mode.
        input_grad: when False, ``backward`` may skip computing dx and return None
            (models set it on their first layer: nobody needs the data's gradient).
        param_grad: when False (a frozen layer above the lowest trainable one, ``Model.freeze``),
            ``backward`` may skip its parameters' gradients (``grads`` keep their old values).
        last_output: reference (no copy) to the output of the last ``forward``.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self.input_grad = True
        self.param_grad = True
        self.frozen = False
        self.last_output: np.ndarray | None = None
        self._cache = None

    eval_when_frozen = False  # True where train mode changes what a frozen layer computes (BatchNorm)
    # True where each output sample depends only on its input sample and the parameter gradients are
    # sums over the samples: a model made only of such layers may run a batch in parts (babysit.nn.parallel)
    per_sample = False
    # True where this layer can run its forward and backward together with the next two layers (Conv2d, when
    # a model puts a ReLU and a 2x2 max pool after it): Sequential then calls forward_fused / backward_fused
    fuses_next = False
    _last_output = None
    _output_parts = None  # the part copies whose outputs make up last_output (joined when read)

    @property
    def last_output(self):
        """The output of the last forward; after a step in batch parts, the parts' outputs joined (when read)."""
        parts = self._output_parts
        if parts is not None:
            self._output_parts = None
            self._last_output = np.concatenate([part.last_output for part in parts])
        return self._last_output

    @last_output.setter
    def last_output(self, value):
        self._last_output, self._output_parts = value, None

    def _ran_in_parts(self, parts) -> None:
        """The last forward ran on copies of this layer, one per batch part: ``last_output`` joins theirs,
        and this layer has no cache of that batch to run a backward from."""
        self.last_output = None  # (a subclass's setter drops what it kept for last_output)
        self._output_parts = list(parts)
        self._cache = None

    # -- mode -------------------------------------------------------------
    def train(self, mode: bool = True) -> "Layer":
        """Switch to train mode (``mode=True``) or eval mode; returns self. A frozen layer with
        ``eval_when_frozen`` stays in eval mode."""
        self.training = bool(mode) and not (self.frozen and self.eval_when_frozen)
        return self

    def eval(self) -> "Layer":
        """Switch to eval mode; returns self."""
        return self.train(False)

    # -- forward / backward ----------------------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, dout: np.ndarray) -> np.ndarray | None:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement backward")

    # -- helpers for subclasses -----------------------------------------
    def _remember(self, out: np.ndarray, cache) -> np.ndarray:
        """End of a forward: keep the op's ``cache`` for backward and ``out`` as ``last_output``; return out."""
        self._cache = cache
        self.last_output = out
        return out

    def _checked_cache(self, dout: np.ndarray, out_shape: tuple | None = None):
        """The last forward's cache, after checking that a forward came first and that ``dout`` has
        the shape of its output (``out_shape``, default ``last_output``'s). The cache stays until
        the next forward replaces it, so a second backward of the same forward works.
        """
        if self._cache is None:
            raise InputError(f"{self}: backward() called before forward(); run forward first")
        if out_shape is None and self.last_output is not None:
            out_shape = self.last_output.shape
        if out_shape is not None and dout.shape != out_shape:
            raise InputError(f"{self}: backward expected dout of shape {out_shape} (the forward output), "
                             f"got {dout.shape}")
        return self._cache

    def _set_grads(self, dx, **grads: np.ndarray):
        """End of a backward: copy each gradient into ``self.grads[name]`` in place (models keep
        views of those arrays); return dx. A None gradient (not computed: ``param_grad``) is skipped."""
        for name, g in grads.items():
            if g is not None:
                self.grads[name][...] = g
        return dx

    def _check_input(self, x, *, ndim: int | None = None, tail: tuple | None = None,
                     dtype: np.dtype | None = None, what: str = "input") -> None:
        """Check type, dtype, rank and trailing dims of ``x``; raise InputError naming this layer.

        ``tail`` gives the expected trailing dimensions (None entries match anything).
        ``dtype`` is the layer's own dtype, or None to accept float32/float64.
        """
        if not isinstance(x, np.ndarray):
            raise InputError(f"{self}: {what} must be a NumPy array; got {type(x).__name__}")
        if dtype is not None:
            if x.dtype != dtype:
                raise InputError(
                    f"{self}: expected {what} of dtype {dtype}, got {x.dtype} "
                    f"(cast with x.astype(np.{dtype}) or build the layer with dtype=np.{x.dtype})"
                    if x.dtype in FLOAT_DTYPES else
                    f"{self}: expected {what} of dtype {dtype}, got {x.dtype}"
                )
        elif x.dtype not in FLOAT_DTYPES:
            raise InputError(f"{self}: expected a float32 or float64 {what}, got {x.dtype}")
        if ndim is not None and x.ndim != ndim:
            raise InputError(f"{self}: expected a {ndim}-D {what} {self._shape_text(ndim, tail)}, got shape {x.shape}")
        if tail is not None:
            got = x.shape[x.ndim - len(tail):]
            if len(got) != len(tail) or any(t is not None and t != g for t, g in zip(tail, got)):
                raise InputError(f"{self}: expected {what} of shape {self._shape_text(ndim, tail)}, got {x.shape}")

    @staticmethod
    def _shape_text(ndim, tail) -> str:
        if tail is None:
            return f"({', '.join(['?'] * (ndim or 0))})"
        lead = ["N"] + ["?"] * ((ndim or len(tail) + 1) - len(tail) - 1)
        dims = lead + ["?" if t is None else str(t) for t in tail]
        return "(" + ", ".join(dims) + ")"

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
