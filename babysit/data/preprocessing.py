"""The lecture's data preprocessing, fitted on the training split only.

Kinds: ``none``; ``mean_image`` (subtract the mean image, AlexNet); ``channel_mean``
(subtract one mean per channel, VGGNet); ``standardize`` (per-feature mean and
std); ``pca`` (project the centred data on the top-k eigenvectors of its
covariance); ``pca_whiten`` (then divide by sqrt(eigenvalue + eps)); ``zca_whiten``
(whiten, then rotate back to pixel space). Statistics are computed in float64;
``transform`` always returns float32. Mean/std kinds keep the input layout, PCA
kinds return flat (N, k) or (N, D) rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from babysit.errors import CheckpointError, ConfigError, InputError
from babysit.validation import AT_LEAST_ONE, POSITIVE, check_choice, check_float, check_optional_int, invalid

KINDS = ("none", "mean_image", "channel_mean", "standardize", "pca", "pca_whiten", "zca_whiten")
PCA_KINDS = ("pca", "pca_whiten", "zca_whiten")
# Fitted arrays each kind stores (see state()).
_ARRAYS = {
    "none": (),
    "mean_image": ("mean",),
    "channel_mean": ("mean",),
    "standardize": ("mean", "std"),
    "pca": ("mean", "eigenvalues", "projection"),
    "pca_whiten": ("mean", "eigenvalues", "projection"),
    "zca_whiten": ("mean", "eigenvalues", "projection"),
}
STATE_VERSION = 1
# Rows per chunk when accumulating statistics: bounds the float64 temporaries
# (2048 x 3072 x 8 bytes = 50 MB) instead of upcasting the whole training set.
_CHUNK_ROWS = 2048


def _chunks(n: int, rows: int = _CHUNK_ROWS) -> Iterator[slice]:
    for start in range(0, n, rows):
        yield slice(start, min(start + rows, n))


class Preprocessor:
    """Fit preprocessing statistics on training data and apply them to any split.

    Inputs: kind (one of KINDS); k, the number of principal components kept by
    ``pca`` (required) and ``pca_whiten`` (default: all); eps, added to the
    eigenvalues before whitening (default 1e-5, as in the cs231n notes).
    """

    def __init__(self, kind: str = "none", *, k: int | None = None, eps: float = 1e-5):
        self.kind = check_choice("Preprocessor", "kind", kind, KINDS)
        self.k = check_optional_int("Preprocessor", "k", k, AT_LEAST_ONE)
        if k is not None and kind not in ("pca", "pca_whiten"):
            raise invalid("Preprocessor", "k", f"None for kind {kind!r} (k applies to pca and pca_whiten only)", k)
        if kind == "pca" and k is None:
            raise invalid("Preprocessor", "k", f"an int in {AT_LEAST_ONE} for kind 'pca': the number of "
                          "dimensions to keep (e.g. 'pca:100')", k)
        self.eps = check_float("Preprocessor", "eps", eps, POSITIVE)
        self.input_shape_: tuple[int, ...] | None = None
        self.arrays_: dict[str, np.ndarray] = {}

    @classmethod
    def from_spec(cls, spec: str, *, eps: float = 1e-5) -> Preprocessor:
        """Build from a CLI-style spec: ``KIND`` or ``KIND:K`` (e.g. ``pca:100``)."""
        kind, sep, k = str(spec).partition(":")
        if sep:
            try:
                k_value = int(k)
            except ValueError:
                raise invalid("Preprocessor.from_spec", "spec", "'KIND' or 'KIND:K' with an int K, as in "
                              "'pca:100'", spec) from None
            return cls(kind, k=k_value, eps=eps)
        return cls(kind, eps=eps)

    def __repr__(self) -> str:
        extra = f", k={self.k}" if self.k is not None else ""
        extra += f", eps={self.eps:g}" if self.kind in ("pca_whiten", "zca_whiten") else ""
        return f"Preprocessor({self.kind!r}{extra})"

    @property
    def fitted(self) -> bool:
        return self.input_shape_ is not None

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one transformed example."""
        self._require_fitted()
        if self.kind in PCA_KINDS:
            return (self.arrays_["projection"].shape[1],)
        return self.input_shape_

    # ------------------------------------------------------------ fitting

    def fit(self, X: np.ndarray) -> Preprocessor:
        """Compute the statistics of the training data X (N, ...); returns self."""
        X = _check_input(X, "fit")
        if self.kind == "channel_mean" and X.ndim != 4:
            raise InputError(f"channel_mean needs images (N, C, H, W); got shape {X.shape}")
        if self.kind in PCA_KINDS and len(X) < 2:
            raise InputError(f"{self.kind} needs at least 2 training rows; got {len(X)}")
        kind = self.kind
        arrays: dict[str, np.ndarray] = {}
        if kind == "channel_mean":
            arrays["mean"] = X.mean(axis=(0, 2, 3), dtype=np.float64)
        elif kind in ("mean_image", "standardize"):
            arrays["mean"] = _mean_rows(X)
            if kind == "standardize":
                std = np.sqrt(_variance_rows(X, arrays["mean"]))
                # A constant feature (e.g. the blank border pixels of digits) has std 0:
                # leave it centred rather than divide by zero.
                std[std == 0] = 1.0
                arrays["std"] = std
        elif kind in PCA_KINDS:
            arrays.update(self._fit_pca(X.reshape(len(X), -1)))
        self.arrays_ = arrays
        self.input_shape_ = tuple(X.shape[1:])
        return self

    def _fit_pca(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Eigen-decomposition of the covariance of X (N, D), as on the lecture's slide."""
        n, d = X.shape
        k = d if self.k is None else self.k
        if k > d:
            raise invalid("Preprocessor", "k", f"at most the input dimension D={d} for {self.kind!r}", k)
        mean = _mean_rows(X)
        cov = np.zeros((d, d), dtype=np.float64)
        for rows in _chunks(n):
            xc = X[rows].astype(np.float64) - mean
            cov += xc.T @ xc
        cov /= n
        eigenvalues, U = np.linalg.eigh(cov)
        # eigh sorts ascending; the lecture keeps the top components first. Round-off can
        # make tiny eigenvalues negative; clip so sqrt(S + eps) stays real.
        eigenvalues, U = np.clip(eigenvalues[::-1], 0.0, None), U[:, ::-1]
        # Fix each eigenvector's sign (largest entry positive) so fits are reproducible.
        signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(d)])
        U = U * np.where(signs == 0, 1.0, signs)
        if self.kind == "pca":
            projection = U[:, :k]
        elif self.kind == "pca_whiten":
            projection = U[:, :k] / np.sqrt(eigenvalues[:k] + self.eps)
        else:  # zca_whiten: whiten, then rotate back into the input space
            projection = (U / np.sqrt(eigenvalues + self.eps)) @ U.T
            k = d
        return {
            "mean": mean,
            "eigenvalues": np.ascontiguousarray(eigenvalues[:k]),
            # float32: applied by a float32 GEMM, and halves a D x D matrix in checkpoints.
            "projection": np.ascontiguousarray(projection, dtype=np.float32),
        }

    # ------------------------------------------------------------ applying

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the fitted preprocessing to X (N, *input_shape); returns a new float32 array.

        Shapes: mean/std kinds and ``none`` keep X's shape; ``pca``/``pca_whiten``
        give (N, k), ``zca_whiten`` (N, D).
        """
        self._require_fitted()
        X = _check_input(X, "transform")
        if tuple(X.shape[1:]) != self.input_shape_:
            raise InputError(
                f"Preprocessor({self.kind!r}) was fitted on examples of shape {self.input_shape_}; "
                f"got X of shape {X.shape}"
            )
        a = self.arrays_
        if self.kind in PCA_KINDS:
            flat = X.reshape(len(X), -1)
            out = np.empty((len(X), a["projection"].shape[1]), dtype=np.float32)
            for rows in _chunks(len(X)):
                # Centre in float64 (no cancellation when values sit far from 0), then a float32 GEMM.
                centred = (flat[rows].astype(np.float64) - a["mean"]).astype(np.float32)
                np.matmul(centred, a["projection"], out=out[rows])
            return out
        if self.kind == "none":
            return X.astype(np.float32)  # always a copy: callers may modify the result
        mean = a["mean"].astype(np.float32)
        if self.kind == "channel_mean":
            mean = mean[None, :, None, None]
        # One pass: the ufunc converts X to float32 as it subtracts (no float32 copy of X first).
        out = np.subtract(X, mean, dtype=np.float32)
        if self.kind == "standardize":
            out *= (1.0 / a["std"]).astype(np.float32)
        return out

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ConfigError(f"Preprocessor({self.kind!r}) is not fitted: call fit(X_train) first")

    # ------------------------------------------------------------ saving

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able config and the fitted arrays (contiguous; safetensors can store them)."""
        config = {
            "version": STATE_VERSION,
            "kind": self.kind,
            "k": self.k,
            "eps": self.eps,
            "input_shape": None if self.input_shape_ is None else list(self.input_shape_),
        }
        return config, {name: np.ascontiguousarray(arr) for name, arr in self.arrays_.items()}

    @classmethod
    def from_state(cls, config: dict, arrays: dict[str, np.ndarray]) -> Preprocessor:
        """Rebuild a (fitted) Preprocessor from ``state()``'s output; CheckpointError if inconsistent."""
        if not isinstance(config, dict) or "kind" not in config:
            raise CheckpointError(f"preprocessing config must be a dict with 'kind'; got {config!r}")
        if config.get("version", STATE_VERSION) != STATE_VERSION:
            raise CheckpointError(
                f"preprocessing state version {config.get('version')!r} is not supported "
                f"(this babysit reads version {STATE_VERSION})"
            )
        try:
            pre = cls(config["kind"], k=config.get("k"), eps=config.get("eps", 1e-5))
        except ConfigError as exc:
            raise CheckpointError(f"preprocessing config: {exc}") from None
        shape = config.get("input_shape")
        if shape is None:
            return pre
        expected = set(_ARRAYS[pre.kind])
        if set(arrays) != expected:
            raise CheckpointError(
                f"preprocessing {pre.kind!r} needs arrays {sorted(expected)}; got {sorted(arrays)}"
            )
        pre.input_shape_ = tuple(int(s) for s in shape)
        pre.arrays_ = {name: np.asarray(arrays[name]) for name in expected}
        pre._check_array_shapes()
        return pre

    def _check_array_shapes(self) -> None:
        a, shape = self.arrays_, self.input_shape_
        d = int(np.prod(shape))
        if self.kind == "channel_mean":
            want = {"mean": (shape[0],)}
        elif self.kind in ("mean_image", "standardize"):
            want = {name: shape for name in a}
        elif self.kind in PCA_KINDS:
            k = d if self.k is None else self.k
            want = {"mean": (d,), "eigenvalues": (k,), "projection": (d, k)}
        else:
            want = {}
        for name, arr in a.items():
            if arr.dtype.kind != "f":
                raise CheckpointError(f"preprocessing array {name!r} must be floating point; got {arr.dtype}")
        for name, expected in want.items():
            if tuple(a[name].shape) != tuple(expected):
                raise CheckpointError(
                    f"preprocessing {self.kind!r} array {name!r} has shape {a[name].shape}; "
                    f"expected {tuple(expected)} for inputs of shape {shape}"
                )


def _check_input(X: np.ndarray, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise InputError(f"Preprocessor.{what}: X must hold numbers; got dtype {X.dtype}")
    if X.ndim < 2 or len(X) == 0:
        raise InputError(f"Preprocessor.{what}: X must be (N, ...) with N > 0; got shape {X.shape}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise InputError(f"Preprocessor.{what}: X contains NaN or infinite values")
    return X


def _mean_rows(X: np.ndarray) -> np.ndarray:
    """Mean over axis 0 in float64, chunked to avoid a float64 copy of X."""
    total = np.zeros(X.shape[1:], dtype=np.float64)
    for rows in _chunks(len(X)):
        total += X[rows].sum(axis=0, dtype=np.float64)
    return total / len(X)


def _variance_rows(X: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Population variance over axis 0 in float64 (two-pass: no cancellation)."""
    total = np.zeros(X.shape[1:], dtype=np.float64)
    for rows in _chunks(len(X)):
        total += np.square(X[rows].astype(np.float64) - mean).sum(axis=0)
    return total / len(X)
