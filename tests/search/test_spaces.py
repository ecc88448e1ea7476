"""The space types: validation, sampling statistics, narrowing, edges, extension, grids, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform, option_text, space_from_json

# -- validation of the objects ----------------------------------------------------------


@pytest.mark.parametrize(
    "make, owner, parameter, message",
    [
        (lambda: LogUniform(0.0, 1.0), "LogUniform", "low", "a float in (0, inf). Got 0.0"),
        (lambda: LogUniform(-1.0, 1.0), "LogUniform", "low", "a float in (0, inf). Got -1.0"),
        (lambda: LogUniform(1e-3, 1e-6), "LogUniform", "high", "a float in (0.001, inf). Got 1e-06"),
        (lambda: LogUniform(1e-3, math.nan), "LogUniform", "high", "a float in (0.001, inf). Got nan"),
        (lambda: LogUniform("1e-3", 1.0), "LogUniform", "low", "a float in (0, inf). Got '1e-3'"),
        (lambda: Uniform(0.5, 0.5), "Uniform", "high", "a float in (0.5, inf). Got 0.5"),
        (lambda: Uniform(0.0, math.inf), "Uniform", "high", "a float in (0, inf). Got inf"),
        (lambda: Uniform(-math.inf, 0.0), "Uniform", "low", "a float in (-inf, inf). Got -inf"),
        (lambda: IntUniform(1.5, 3), "IntUniform", "low", "an int in (-inf, inf). Got 1.5"),
        (lambda: IntUniform(3, 3), "IntUniform", "high", "an int in (3, inf). Got 3"),
        (lambda: IntUniform(True, 3), "IntUniform", "low", "an int in (-inf, inf). Got True"),
        (lambda: Choice([]), "Choice", "options", "a non-empty list of distinct options. Got []"),
        (lambda: Choice([1, 2, 1]), "Choice", "options", "a non-empty list of distinct options. Got [1, 2, 1]"),
        (lambda: Choice("relu"), "Choice", "options", "a non-empty list of distinct options. Got 'relu'"),
        (lambda: Choice(3), "Choice", "options", "a non-empty list of distinct options. Got 3"),
    ],
)
def test_invalid_spaces_raise_config_errors_naming_the_parameter(config_error, make, owner, parameter, message):
    with config_error(owner, parameter) as err:
        make()
    assert str(err.value) == f"The '{parameter}' parameter of {owner} must be {message} instead."


def test_bounds_are_stored_as_python_floats_and_ints():
    space = LogUniform(np.float32(1e-3), np.float64(1e-1))
    assert type(space.low) is float and type(space.high) is float
    space = IntUniform(np.int64(3), 7.0)
    assert (type(space.low), type(space.high)) == (int, int) and space == IntUniform(3, 7)
    assert Choice([np.int64(1), np.float64(0.5)]).options == (1, 0.5)
    assert type(Choice([np.int64(1)]).options[0]) is int
    assert option_text(None) == "none" and option_text(0.5) == "0.5"


# -- sampling -------------------------------------------------------------------------------


def _chi_square(counts, expected):
    counts = np.asarray(counts, dtype=np.float64)
    return float(((counts - expected) ** 2 / expected).sum())


def _ks_uniform01(u):
    """Kolmogorov-Smirnov distance between the sample u and Uniform(0, 1)."""
    u = np.sort(u)
    n = len(u)
    ranks = np.arange(1, n + 1)
    return float(max((ranks / n - u).max(), (u - (ranks - 1) / n).max()))


def test_log_uniform_covers_each_decade_equally():
    rng = np.random.default_rng(0)
    space = LogUniform(1e-6, 1e-3)
    n = 30_000
    samples = np.array([space.sample(rng) for _ in range(n)])
    assert samples.min() >= 1e-6 and samples.max() <= 1e-3
    decades = np.histogram(np.log10(samples), bins=[-6, -5, -4, -3])[0]
    # df = 2: P(chi2 > 13.8) = 0.001; each decade also within 3% of n/3
    assert _chi_square(decades, n / 3) < 13.8
    assert np.all(np.abs(decades - n / 3) < 0.03 * n / 3)
    fine = np.histogram(np.log10(samples), bins=30, range=(-6, -3))[0]
    assert _chi_square(fine, n / 30) < 58.3  # df = 29, p = 0.001
    d = _ks_uniform01((np.log10(samples) + 6) / 3)
    assert d * math.sqrt(n) < 1.95  # KS critical value at p = 0.001


def test_chi_square_check_has_power_against_linear_sampling():
    """The same statistic flags sampling that is uniform in the value, not its log: the test can fail."""
    rng = np.random.default_rng(0)
    samples = rng.uniform(1e-6, 1e-3, size=30_000)
    decades = np.histogram(np.log10(samples), bins=[-6, -5, -4, -3])[0]
    assert decades[2] > 0.85 * 30_000  # the top decade takes ~90%
    assert _chi_square(decades, 10_000) > 1_000


def test_uniform_mean_and_variance():
    rng = np.random.default_rng(1)
    low, high, n = 0.1, 0.5, 40_000
    x = np.array([Uniform(low, high).sample(rng) for _ in range(n)])
    assert x.min() >= low and x.max() < high
    var = (high - low) ** 2 / 12
    assert abs(x.mean() - (low + high) / 2) < 4 * math.sqrt(var / n)
    assert x.var() == pytest.approx(var, rel=0.03)
    assert _ks_uniform01((x - low) / (high - low)) * math.sqrt(n) < 1.95


def test_int_uniform_hits_every_integer_including_both_ends_equally():
    rng = np.random.default_rng(2)
    x = np.array([IntUniform(3, 7).sample(rng) for _ in range(10_000)])
    assert all(type(v) is int for v in x.tolist())
    counts = np.bincount(x, minlength=8)[3:8]
    assert len(counts) == 5 and counts.sum() == 10_000
    assert _chi_square(counts, 2_000) < 18.5  # df = 4, p = 0.001


def test_choice_picks_each_option_equally_and_keeps_python_types():
    rng = np.random.default_rng(3)
    space = Choice([None, "batchnorm"])
    picks = [space.sample(rng) for _ in range(4_000)]
    assert set(picks) == {None, "batchnorm"}
    assert abs(picks.count(None) - 2_000) < 4 * math.sqrt(1_000)


@settings(max_examples=60, deadline=None)
@given(
    lo=st.floats(-12, 6),
    decades=st.floats(0.01, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_log_uniform_samples_stay_inside_the_range(lo, decades, seed):
    space = LogUniform(10.0**lo, 10.0 ** (lo + decades))
    rng = np.random.default_rng(seed)
    for _ in range(20):
        v = space.sample(rng)
        assert type(v) is float and space.low <= v <= space.high


# -- coarse to fine: narrow, edges, extend ----------------------------------------------------


def test_narrow_log_range_to_the_lectures_best_trials():
    """Stage 1 over lr 1e-6:1e-3; the best trials (lecture slide) sit around 1e-4..5e-4."""
    stage1 = LogUniform(1e-6, 1e-3)
    best = [1.405206e-04, 1.750259e-04, 4.296863e-04]
    stage2 = stage1.narrow(best, margin=0.1)
    assert type(stage2) is LogUniform
    # span of the best in decades plus 0.1 x 3 decades on each side
    assert math.log10(stage2.low) == pytest.approx(math.log10(1.405206e-04) - 0.3)
    assert math.log10(stage2.high) == pytest.approx(math.log10(4.296863e-04) + 0.3)
    assert stage1.low < stage2.low < min(best) and max(best) < stage2.high < stage1.high
    width = math.log10(stage2.high / stage2.low)
    assert width < 0.4 * 3
    centre = (math.log10(stage2.low) + math.log10(stage2.high)) / 2
    assert centre == pytest.approx((math.log10(min(best)) + math.log10(max(best))) / 2)


def test_narrow_clips_to_the_current_range_exactly():
    space = LogUniform(1e-6, 1e-3)
    assert space.narrow([9.9e-4], 0.2).high == 1e-3  # exact bound, not 10**log10(1e-3)
    assert Uniform(0.0, 0.5).narrow([0.0, 0.1], 0.1) == Uniform(0.0, 0.15000000000000002)
    assert IntUniform(16, 512).narrow([100, 120], 0.01) == IntUniform(95, 125)
    assert IntUniform(16, 512).narrow([512], 0.0) == IntUniform(511, 512)
    assert Choice([50, 100, 200]).narrow([200, 50, 200]) == Choice([50, 200])


def test_narrow_to_a_point_or_outside_the_options_is_refused(config_error):
    with config_error("LogUniform.narrow", "margin", "must be > 0 to narrow LogUniform.* around the single value 0.0001"):
        LogUniform(1e-6, 1e-3).narrow([1e-4], margin=0.0)
    with config_error("LogUniform.narrow", "margin", r"a float in \[0, inf\)"):
        LogUniform(1e-6, 1e-3).narrow([1e-4], margin=-0.1)
    with config_error("Choice.narrow", "values", r"at least one of the options \['sgd', 'adam'\]"):
        Choice(["sgd", "adam"]).narrow(["momentum"])
    with config_error("Uniform.narrow", "values", "a non-empty list of values"):
        Uniform(0, 1).narrow([])
    with config_error("Choice.narrow", "values"):
        Choice([1, 2]).narrow([])


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.floats(-6, -3), min_size=1, max_size=8),
    margin=st.floats(0.01, 1.0),
)
def test_narrowed_log_range_contains_the_values_and_the_range_contains_it(values, margin):
    space = LogUniform(1e-6, 1e-3)
    values = [min(max(10.0**v, space.low), space.high) for v in values]
    narrow = space.narrow(values, margin)
    assert space.low <= narrow.low <= min(values) and max(values) <= narrow.high <= space.high


def test_near_edge_flags_the_lectures_worrying_best():
    """Stage 2 searched lr in 1e-4:1e-3; the best val_acc (0.531) came at lr 9.471549e-04."""
    space = LogUniform(1e-4, 1e-3)
    assert space.near_edge(9.471549e-04, tol=0.1) == "high"
    assert space.near_edge(5.808183e-04, tol=0.1) is None
    assert space.near_edge(1.1e-4, tol=0.1) == "low"
    assert Uniform(0.0, 1.0).near_edge(0.5, tol=0.6) in ("low", "high")
    assert Uniform(0.0, 1.0).near_edge(0.45, tol=0.6) == "low"
    assert IntUniform(16, 512).near_edge(500, tol=0.05) == "high"
    assert Choice([50, 100, 200]).near_edge(200) is None


def test_extend_moves_one_edge_outwards():
    assert LogUniform(1e-4, 1e-3).extend("high", 10) == LogUniform(1e-4, 1e-2)
    assert LogUniform(1e-4, 1e-3).extend("low", 10) == LogUniform(1e-5, 1e-3)
    assert Uniform(0.2, 0.4).extend("high", 2) == Uniform(0.2, 0.6000000000000001)
    assert IntUniform(50, 100).extend("low", 1.5) == IntUniform(25, 100)
    assert IntUniform(1, 2).extend("high", 1.01) == IntUniform(1, 3)
    assert LogUniform(1e-4, 1e-3).extend("high") == LogUniform(1e-4, 1e-2)  # a decade by default
    assert Uniform(0.2, 0.4).extend("low") == Uniform(0.2 - 0.2 * 1.0, 0.4)  # twice as wide by default
    assert IntUniform(50, 100).extend("high") == IntUniform(50, 150)


def test_extend_refuses_bad_edges_and_factors(config_error):
    with config_error("LogUniform.extend", "factor", r"a float in \(1, inf\)"):
        LogUniform(1e-4, 1e-3).extend("high", 0.5)
    with config_error("IntUniform.extend", "factor"):
        IntUniform(1, 3).extend("high", 1)
    with config_error("LogUniform.extend", "edge", "one of 'low', 'high'"):
        LogUniform(1e-4, 1e-3).extend("top", 10)
    with config_error("Choice.extend", "edge", "has none"):
        Choice([1, 2]).extend("high")


# -- grids and JSON ---------------------------------------------------------------------------


def test_grids(config_error):
    assert LogUniform(1e-6, 1e-3).grid(4) == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3])
    assert LogUniform(1e-6, 1e-2).grid(1) == pytest.approx([1e-4])
    assert Uniform(0.0, 0.5).grid(3) == [0.0, 0.25, 0.5]
    assert IntUniform(1, 3).grid(10) == [1, 2, 3]
    assert IntUniform(64, 512).grid(3) == [64, 288, 512]
    assert Choice(["sgd", "adam"]).grid(5) == ["sgd", "adam"]
    with config_error("Uniform.grid", "n", r"an int in \[1, inf\)"):
        Uniform(0, 1).grid(0)
    with config_error("IntUniform.grid", "n"):
        IntUniform(1, 3).grid(2.5)


SPACES = [LogUniform(1e-6, 1e-3), Uniform(0.0, 0.5), IntUniform(64, 512), Choice([50, 100, 200]),
          Choice([None, "batchnorm"]), LogUniform(1.405206e-04, 4.296863e-04)]


@pytest.mark.parametrize("space", SPACES, ids=repr)
def test_json_round_trip(space):
    obj = json.loads(json.dumps(space.to_json()))
    assert space_from_json(obj) == space


def test_json_is_what_stored_searches_hold():
    """Stored searches compare spec JSON to resume: the exact text must not change."""
    assert [json.dumps(s.to_json()) for s in SPACES[:5]] == [
        '{"type": "log", "low": 1e-06, "high": 0.001}',
        '{"type": "uniform", "low": 0.0, "high": 0.5}',
        '{"type": "int", "low": 64, "high": 512}',
        '{"type": "choice", "options": [50, 100, 200]}',
        '{"type": "choice", "options": [null, "batchnorm"]}',
    ]


@pytest.mark.parametrize(
    "obj",
    [{"low": 1}, {"type": "cubic", "low": 1, "high": 2}, {"type": "log", "low": 1}, {"type": "choice"},
     {"type": ["log"], "low": 1, "high": 2}, [("type", "log")], None],
)
def test_bad_json_spaces_are_refused(config_error, obj):
    with config_error("space_from_json", "obj", r"\{'type': 'log'\|'uniform'\|'int', 'low': L, 'high': H\}"):
        space_from_json(obj)


def test_json_with_bad_bounds_names_the_bound(config_error):
    with config_error("LogUniform", "high"):
        space_from_json({"type": "log", "low": 1.0, "high": 0.5})
