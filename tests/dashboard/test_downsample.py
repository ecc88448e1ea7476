"""The server's downsampling keeps what a run's health is read from: spikes, NaN/inf, the ends."""

from __future__ import annotations

import numpy as np
import pytest

from babysit.dashboard.downsample import lttb, minmax, minmax_lttb


@pytest.mark.parametrize("method", [minmax, minmax_lttb])
def test_a_single_spike_and_every_non_finite_point_survive(method):
    rng = np.random.default_rng(0)
    x = np.arange(10_000)
    y = 2.0 + 0.01 * rng.standard_normal(10_000)
    y[4321] = 1e3  # an explosion of one iteration
    y[7000] = np.nan
    y[9000] = np.inf
    keep = method(x, y, 200)
    assert {0, 4321, 7000, 9000, 9999} <= set(keep.tolist())
    assert len(keep) <= 2 * 200 and np.all(np.diff(keep) > 0)  # about the width, sorted, no duplicates


def test_minmax_keeps_each_buckets_extremes():
    y = np.array([0, 5, 1, 9, 2, 3, 8, 4, 7, 6, 0], dtype=float)
    keep = minmax(np.arange(11), y, 6)  # 2 buckets of the 9 inner points
    kept = set(keep.tolist())
    assert {0, 10} <= kept and 3 in kept and 2 in kept  # max 9 at 3, min 1 at 2 in the first bucket


def test_short_series_come_back_whole_and_lttb_returns_exactly_n_points():
    assert minmax_lttb(np.arange(5), np.ones(5), 100).tolist() == [0, 1, 2, 3, 4]
    x = np.arange(1000.0)
    y = np.sin(x / 50)
    keep = lttb(x, y, 100)
    assert len(keep) == 100 and keep[0] == 0 and keep[-1] == 999 and np.all(np.diff(keep) > 0)
    # the shape survives: the kept points follow the curve's peaks and troughs
    assert y[keep].max() > 0.99 and y[keep].min() < -0.99

