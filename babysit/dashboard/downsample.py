"""Downsampling of metric series on the server, keeping spikes: an explosion is never hidden.

``minmax(x, y, n)`` keeps, per bucket of consecutive points, the lowest and the highest
point (about ``n`` points in all); ``minmax_lttb(x, y, n)`` (MinMaxLTTB: a min/max
preselection of 4n points, then Largest-Triangle-Three-Buckets down to n) gives the
shape-faithful n points the run page draws. Both always keep the first and last point and
every non-finite point (NaN, inf: the step where a run diverged), so the picture never
looks healthier than the data.
"""

from __future__ import annotations

import numpy as np

MINMAX_RATIO = 4  # MinMaxLTTB's preselection: this many points per output point


def minmax(x, y, n: int) -> np.ndarray:
    """Sorted indices of about ``n`` points of ``y``: first, last, and each bucket's min and max."""
    y = np.asarray(y, dtype=np.float64)
    size = len(y)
    if size <= max(n, 2):
        return np.arange(size)
    finite = np.isfinite(y)
    buckets = max(1, (n - 2) // 2)
    inner = size - 2
    width = -(-inner // buckets)  # ceil
    padded = np.full(buckets * width, np.nan)
    padded[:inner] = np.where(finite[1:-1], y[1:-1], np.nan)
    grid = padded.reshape(buckets, width)
    has = ~np.all(np.isnan(grid), axis=1)
    low = np.where(has, np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1), 0)
    high = np.where(has, np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1), 0)
    starts = 1 + np.arange(buckets) * width
    keep = np.concatenate(([0, size - 1], (starts + low)[has], (starts + high)[has], np.flatnonzero(~finite)))
    return np.unique(keep[keep < size])


def lttb(x, y, n: int) -> np.ndarray:
    """Indices of ``n`` points chosen by Largest-Triangle-Three-Buckets (Steinarsson 2013); finite ``y`` only."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    size = len(y)
    if size <= max(n, 3):
        return np.arange(size)
    edges = np.linspace(1, size - 1, n - 1).astype(np.int64)  # n - 2 buckets between the first and last point
    out = np.empty(n, dtype=np.int64)
    out[0], out[-1] = 0, size - 1
    a = 0
    for i in range(n - 2):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        nlo, nhi = hi, (edges[i + 2] if i + 2 < len(edges) else size)
        nhi = max(nhi, nlo + 1)
        cx, cy = x[nlo:nhi].mean(), y[nlo:nhi].mean()
        area = np.abs((x[a] - cx) * (y[lo:hi] - y[a]) - (x[a] - x[lo:hi]) * (cy - y[a]))
        a = lo + int(np.argmax(area))
        out[i + 1] = a
    return out


def minmax_lttb(x, y, n: int) -> np.ndarray:
    """Sorted indices of about ``n`` points: MinMaxLTTB, plus every non-finite point."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) <= max(n, 3):
        return np.arange(len(y))
    pre = minmax(x, y, n * MINMAX_RATIO)
    finite = pre[np.isfinite(y[pre])]
    chosen = finite[lttb(x[finite], y[finite], n)] if len(finite) > 2 else finite
    return np.unique(np.concatenate((chosen, pre[~np.isfinite(y[pre])])))
