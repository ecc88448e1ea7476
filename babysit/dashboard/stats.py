"""The numbers the views read out: binomial confidence intervals, the train/val gap, parameter importance,
the smoothed loss, whether a loss axis should be logarithmic, and the spread over seeds of one configuration."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile
LOG_AXIS_DECADES = 2.0  # a loss spanning at least this many decades is drawn on a log axis
IMPORTANCE_BINS = 5


def wilson_interval(accuracy: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion ``accuracy`` measured on ``n`` examples."""
    if n <= 0:
        raise ValueError(f"wilson_interval needs n >= 1 examples; got {n}")
    p = min(max(float(accuracy), 0.0), 1.0)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def smoothed(values: np.ndarray, window: int | None = None) -> np.ndarray:
    """Centred moving average (window: about 2% of the run, at least 1) ignoring non-finite points."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    window = window or max(1, n // 50)
    if window <= 1 or n < 3:
        return values.copy()
    finite = np.isfinite(values)
    kernel = np.ones(window)
    sums = np.convolve(np.where(finite, values, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def wants_log_axis(values) -> bool:
    """True when the finite, positive values span ``LOG_AXIS_DECADES`` decades or more."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return bool(len(v) >= 2 and math.log10(v.max() / v.min()) >= LOG_AXIS_DECADES)


def correlation_ratio(x, y, *, log: bool, categorical: bool = False, bins: int = IMPORTANCE_BINS) -> float | None:
    """η², the share of the variance of ``y`` explained by the group means of ``x``.

    ``x`` is grouped by value (``categorical``) or into ``bins`` quantile bins (of log10 x when ``log``).
    None with fewer than 3 points or no variance in ``y``. Chance level is about (groups - 1) / (n - 1).
    """
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 3 or float(np.var(y)) == 0.0:
        return None
    if categorical:
        keys = [repr(v) for v in x]
        _, groups = np.unique(keys, return_inverse=True)
    else:
        xv = np.asarray(x, dtype=np.float64)
        if log:
            xv = np.log10(np.maximum(xv, np.finfo(float).tiny))
        k = max(2, min(bins, len(y) // 3))
        edges = np.quantile(xv, np.linspace(0, 1, k + 1)[1:-1])
        groups = np.searchsorted(edges, xv, side="right")
    total = float(((y - y.mean()) ** 2).sum())
    between = 0.0
    for g in np.unique(groups):
        member = y[groups == g]
        between += len(member) * (member.mean() - y.mean()) ** 2
    return between / total


def chance_eta2(groups: int, n: int) -> float:
    """The η² a hyperparameter unrelated to the accuracy gets on average: (groups - 1) / (n - 1)."""
    return (groups - 1) / (n - 1) if n > 1 else 1.0


# Student's t 0.975 quantiles for 1..30 degrees of freedom (beyond: the Cornish-Fisher term below, within 0.003)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"t975 needs df >= 1; got {df}")
    return T975[df - 1] if df <= len(T975) else Z95 + (Z95 ** 3 + Z95) / (4 * df)


def seed_spread(values) -> dict:
    """n, mean, sample standard deviation (ddof 1), min and max of the accuracies of one configuration's runs
    (its seeds), and the 95% interval of the mean (Student's t: a handful of seeds is a small sample)."""
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    n = len(v)
    if n < 2:
        raise ValueError(f"seed_spread needs the accuracies of at least 2 runs; got {n}")
    std = float(v.std(ddof=1))
    half = t975(n - 1) * std / math.sqrt(n)
    mean = float(v.mean())
    return {"n": n, "mean": mean, "std": std, "min": float(v.min()), "max": float(v.max()),
            "mean_low": mean - half, "mean_high": mean + half}
