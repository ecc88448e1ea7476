"""Per-layer statistics shared by the activation check and the training monitors.

Units are the last axis of an (N, D) activation or the channel axis of an
(N, C, H, W) one. "Dead" units never fire on a batch (ReLU family); "saturated"
activations sit on the flat tails of tanh/sigmoid, where the local gradient is
~0 (the lecture's "gradients will be all zero"); "symmetric" units compute the
same function as another unit of their layer (what zero init produces).
"""

from __future__ import annotations

import math

import numpy as np

from babysit.nn import ELU, LeakyReLU, Maxout, PReLU, ReLU, Sigmoid, Tanh

RECTIFIERS = (ReLU, LeakyReLU, PReLU, ELU)
SQUASHERS = (Tanh, Sigmoid)
NONLINEARITIES = RECTIFIERS + SQUASHERS + (Maxout,)
SATURATION = 0.99  # |tanh| above this (sigmoid within 0.01 of 0 or 1) passes back < 2% of the gradient
HIST_BINS = 30
MAX_ROWS = 1024  # statistics on at most this many rows of a unit matrix: cheap enough for monitors
FAST_STD_MAX_MEAN_SHARE = 1e-2  # std from the norm while mean^2 is at most 1% of the mean square


def nonlinear_layers(model) -> list[tuple[str, object]]:
    """(label, layer) for each nonlinearity of ``model.layers`` in order, labelled like 'relu1', 'tanh2'."""
    out, counts = [], {}
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, NONLINEARITIES):
            kind = _kind(layer)
            counts[kind] = counts.get(kind, 0) + 1
            out.append((f"{kind}{counts[kind]}", layer))
    return out


def _kind(layer) -> str:
    """The engine class a (possibly subclassed) nonlinearity belongs to, lower case."""
    for cls in NONLINEARITIES:
        if isinstance(layer, cls):
            return cls.__name__.lower()
    return type(layer).__name__.lower()


def unit_matrix(out: np.ndarray) -> np.ndarray:
    """View an activation as (rows, units): (N, D) as is, (N, C, H, W) with channels as units."""
    if out.ndim == 2:
        return out
    if out.ndim == 4:
        return np.moveaxis(out, 1, -1).reshape(-1, out.shape[1])
    return out.reshape(out.shape[0], -1)


def dead_fraction(layer, out: np.ndarray) -> float | None:
    """Fraction of units that are never positive on this batch (None for non-rectifiers)."""
    if not isinstance(layer, RECTIFIERS) or out.size == 0:
        return None
    units = unit_matrix(out)
    return float(np.mean(~np.any(units > 0, axis=0)))


def saturated_fraction(layer, out: np.ndarray) -> float | None:
    """Fraction of activations on the flat tails of tanh/sigmoid (None for other layers)."""
    if isinstance(layer, Tanh):
        return float(np.mean(np.abs(out) > SATURATION))
    if isinstance(layer, Sigmoid):
        return float(np.mean(np.abs(out - 0.5) > SATURATION - 0.5))
    return None


def symmetric_fraction(out: np.ndarray, rtol: float = 1e-4) -> float:
    """Fraction of the varying units whose output over the batch equals another unit's.

    Non-constant random init makes every unit of a layer compute its own
    function; constant init (all weights equal) makes them compute the same one,
    and identical units get identical gradients, so they stay identical. Units
    that are constant over the batch (dead ReLUs, zero init) are left out: they
    are what ``dead_fraction`` and the weight check report.
    """
    units = unit_matrix(out)[:MAX_ROWS]
    varying = units[:, np.ptp(units, axis=0) > 0] if units.size else units
    if varying.shape[1] < 2:
        return 0.0
    scale = float(np.max(np.abs(varying)))
    # Sort units by a fixed projection: identical units land next to each other, so comparing
    # neighbours finds them in O(rows x units). Identical columns differ by BLAS summation-order
    # noise (~1e-7 relative in float32), hence the tolerance.
    weights = np.cos(np.arange(varying.shape[0]) * 1.618)
    order = np.argsort(weights @ varying)
    steps = np.max(np.abs(np.diff(varying[:, order], axis=1)), axis=0)
    return float(np.count_nonzero(steps <= rtol * scale)) / varying.shape[1]


def histogram_range(layer, out: np.ndarray) -> tuple[float, float]:
    """The lecture's (-1, 1) for tanh, (0, 1) for sigmoid, else the data's own range."""
    if isinstance(layer, Tanh):
        return -1.0, 1.0
    if isinstance(layer, Sigmoid):
        return 0.0, 1.0
    lo, hi = (float(v) for v in (np.min(out), np.max(out))) if out.size else (0.0, 1.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return (lo - 0.5, lo + 0.5) if np.isfinite(lo) else (-1.0, 1.0)
    return lo, hi


def histogram(layer, out: np.ndarray, bins: int = HIST_BINS) -> dict:
    """{'counts': [...], 'edges': [...]} of the finite activations."""
    values = out.ravel()
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins, range=histogram_range(layer, values))
    return {"counts": counts.tolist(), "edges": [float(e) for e in edges]}


def activation_summary(layer, out: np.ndarray, *, with_histogram: bool = False) -> dict:
    """mean, std, dead, saturated (and optionally a histogram) of one layer's output."""
    rows = out[:MAX_ROWS] if out.ndim >= 1 else out
    summary = {
        "mean": float(np.mean(rows, dtype=np.float64)), "std": float(np.std(rows, dtype=np.float64)),
        "dead": dead_fraction(layer, rows), "saturated": saturated_fraction(layer, rows),
    }
    if with_histogram:
        summary["histogram"] = histogram(layer, rows)
    return summary


def array_summary(a: np.ndarray) -> dict:
    """mean, std and L2 norm of an array (a weight or a gradient); the mean accumulates in float64.

    The monitors call this on every parameter every few steps, so the std comes from the norm
    BLAS already computes (var = |a|^2 / n - mean^2: two passes instead of np.std's four and
    no float64 copy) whenever the mean is small against the spread, as it is for weights and
    gradients; otherwise the cancellation would cost digits and np.std computes it exactly.
    """
    flat = a.ravel()
    norm = float(np.linalg.norm(flat))
    if flat.size == 0:
        return {"mean": math.nan, "std": math.nan, "norm": norm}
    mean = float(np.mean(flat, dtype=np.float64))
    mean_square = norm * norm / flat.size
    if math.isfinite(norm) and mean * mean <= FAST_STD_MAX_MEAN_SHARE * mean_square:
        std = math.sqrt(max(mean_square - mean * mean, 0.0))
    else:
        std = float(np.std(flat, dtype=np.float64))
    return {"mean": mean, "std": std, "norm": norm}
