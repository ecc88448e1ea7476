"""Search spaces: CLI syntax, validation, sampling statistics, narrowing, edges, JSON."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babysit.errors import ConfigError
from babysit.search import (
    HYPERPARAMETERS,
    Choice,
    IntUniform,
    LogUniform,
    SearchSpace,
    Space,
    Uniform,
    parse_space,
    space_from_json,
)

# -- CLI syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("lr", "1e-6:1e-3:log", LogUniform(1e-6, 1e-3)),
        ("reg", "1e-5:1e5:log", LogUniform(1e-5, 1e5)),
        ("reg", " 1e-5 : 1e5 : LOG ", LogUniform(1e-5, 1e5)),
        ("dropout", "0:0.5", Uniform(0.0, 0.5)),
        ("dropout", "0:0.5:lin", Uniform(0.0, 0.5)),
        ("hidden", "64:512:int", IntUniform(64, 512)),
        ("hidden", "64:512", IntUniform(64, 512)),
        ("hidden", "50,100,200", Choice([50, 100, 200])),
        ("batch_size", "1e2,2e2", Choice([100, 200])),
        ("dropout", "0,0.25,0.5", Choice([0.0, 0.25, 0.5])),
        ("lr", "1e-3", Choice([1e-3])),
        ("update", "sgd,momentum,adam", Choice(["sgd", "momentum", "adam"])),
        ("normalization", "none,batchnorm", Choice([None, "batchnorm"])),
        ("activation", "relu", Choice(["relu"])),
    ],
)
def test_parse_space_reads_the_cli_forms(name, text, expected):
    space = parse_space(name, text)
    assert space == expected and type(space) is type(expected)


def test_parse_space_keeps_ints_as_ints_and_floats_as_floats():
    assert all(type(o) is int for o in parse_space("hidden", "50,100,200").options)
    assert all(type(o) is float for o in parse_space("reg", "0,1").options)
    space = parse_space("hidden", "64:512:int")
    assert type(space.low) is int and type(space.high) is int


@pytest.mark.parametrize(
    "name, text, reason, form",
    [
        ("lr", "1e-3:1e-6:log", "a log range needs 0 < low < high", "LOW:HIGH:log"),
        ("lr", "-1e-3:1e-3:log", "a log range needs 0 < low < high", "LOW:HIGH:log"),
        ("lr", "0:1e-3:log", "a log range needs 0 < low < high", "LOW:HIGH:log"),
        ("lr", "abc", "'abc' is not a number", "LOW:HIGH:log"),
        ("lr", "1:2:cubic", "unknown scale 'cubic'", "LOW:HIGH:log"),
        ("lr", "1:2:3:log", "a range has the form LOW:HIGH[:SCALE]", "LOW:HIGH:log"),
        ("lr", "1e-3:", "'' is not a number", "LOW:HIGH:log"),
        ("lr", "1e-6:inf:log", "'inf' is not a finite number", "LOW:HIGH:log"),
        ("lr", "1e-4:1e-3:int", "the int scale is for integer hyperparameters", "LOW:HIGH:log"),
        ("dropout", "0.5:0", "a range needs low < high", "LOW:HIGH[:lin]"),
        ("dropout", "0.1,,0.2", "empty value in the list", "a list A,B,C"),
        ("dropout", "0.1,0.1", "the list repeats a value", "a list A,B,C"),
        ("hidden", "50.5,100", "'50.5' is not an integer", "LOW:HIGH[:int]"),
        ("hidden", "16:256:log", "hidden is an integer: use LOW:HIGH:int or a list, not a log range", "LOW:HIGH[:int]"),
        ("hidden", "100:100:int", "an integer range needs low < high", "LOW:HIGH[:int]"),
        ("update", "sgd,rmsprob", "unknown update 'rmsprob'; known: sgd, momentum, nesterov, rmsprop, adam",
         "a list A,B,C of options"),
        ("activation", "relu:tanh", "activation takes a list of options, not a range", "a list A,B,C of options"),
    ],
)
def test_malformed_text_names_parameter_text_and_expected_form(name, text, reason, form):
    with pytest.raises(ConfigError) as err:
        parse_space(name, text)
    message = str(err.value)
    assert message.startswith(f"--{name}: {reason}")
    assert f"got {text!r}" in message
    assert "(expected " in message and form in message.split("(expected ")[1]
    assert "\n" not in message


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("dropout", "0:1", "--dropout: must be a number in [0, 1) (probability of dropping a hidden unit), not 1.0; got '0:1'"),
        ("momentum", "0.5,0.9,1.2", "--momentum: must be a number in [0, 1) (momentum of the update rule), not 1.2"),
        ("hidden", "0:10", "--hidden: must be an integer in [1, inf) (hidden units per layer), not 0; got '0:10'"),
        ("reg", "-1:1", "--reg: must be a number in [0, inf) (L2 regularization strength), not -1.0"),
    ],
)
def test_values_outside_a_hyperparameters_limits_are_refused(name, text, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_space(name, text)


def test_unknown_hyperparameter_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        parse_space("learning_rate", "1e-4:1e-3:log")
    message = str(err.value)
    assert message.startswith("unknown hyperparameter 'learning_rate'")
    for known in ("lr", "reg", "hidden", "dropout", "lr_decay", "momentum", "batch_size", "weight_scale",
                  "update", "init", "activation", "normalization"):
        assert known in message and known in HYPERPARAMETERS
    with pytest.raises(ConfigError, match="did you mean 'reg'"):
        SearchSpace({"regg": LogUniform(1e-5, 1.0)})


# -- validation of the objects ----------------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LogUniform(0.0, 1.0), "LogUniform: a log range needs 0 < low < high; got low=0.0, high=1.0"),
        (lambda: LogUniform(1e-3, 1e-6), "LogUniform: a log range needs 0 < low < high; got low=0.001, high=1e-06"),
        (lambda: Uniform(0.5, 0.5), "Uniform: a range needs low < high; got low=0.5, high=0.5"),
        (lambda: Uniform(0.0, math.inf), "Uniform: a range needs finite bounds"),
        (lambda: IntUniform(1.5, 3), "IntUniform: bounds must be integers"),
        (lambda: IntUniform(3, 3), "IntUniform: a range needs low < high"),
        (lambda: Choice([]), "Choice: needs at least one option; got none"),
        (lambda: Choice([1, 2, 1]), "Choice: options must be distinct"),
        (lambda: Choice("relu"), "Choice: options must be a list"),
    ],
)
def test_invalid_spaces_raise_config_errors(make, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        make()


def test_search_space_checks_space_kinds_against_the_registry():
    with pytest.raises(ConfigError, match="^hidden: takes IntUniform or Choice; got Uniform"):
        SearchSpace({"hidden": Uniform(10, 20)})
    with pytest.raises(ConfigError, match="^update: must be one of sgd, momentum, nesterov, rmsprop, adam"):
        SearchSpace({"update": Choice(["sgd", "lbfgs"])})
    with pytest.raises(ConfigError, match="^lr: takes LogUniform or Uniform or Choice"):
        SearchSpace({"lr": IntUniform(1, 2)})
    with pytest.raises(ConfigError, match="a search needs at least one hyperparameter"):
        SearchSpace({})


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


def test_narrow_to_a_point_or_outside_the_options_is_refused():
    with pytest.raises(ConfigError, match="cannot narrow 1e-06:0.001:log to a single point"):
        LogUniform(1e-6, 1e-3).narrow([1e-4], margin=0.0)
    with pytest.raises(ConfigError, match="none of them is an option"):
        Choice(["sgd", "adam"]).narrow(["momentum"])
    with pytest.raises(ValueError, match="at least one value"):
        Uniform(0, 1).narrow([])


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
    with pytest.raises(ValueError, match="factor must be > 1"):
        LogUniform(1e-4, 1e-3).extend("high", 0.5)
    with pytest.raises(ValueError, match="edge must be 'low' or 'high'"):
        LogUniform(1e-4, 1e-3).extend("top", 10)
    with pytest.raises(ValueError, match="has no edges"):
        Choice([1, 2]).extend("high")


def test_search_space_extend_respects_hard_limits_and_edges_skips_them():
    space = SearchSpace.parse({"lr": "1e-4:1e-3:log", "dropout": "0:0.5", "hidden": "1:100:int"})
    assert space.extend("lr", "high")["lr"] == LogUniform(1e-4, 1e-2)
    assert space.extend("dropout", "low") is space  # already at the hard limit 0
    wider = space.extend("dropout", "high", 3.0)["dropout"]
    assert wider.low == 0.0 and 0.99 < wider.high < 1.0  # [0, 1) is open at 1
    assert space.extend("hidden", "low") is space
    best = {"lr": 9.5e-4, "dropout": 0.01, "hidden": 1}
    assert space.edges(best, tol=0.1) == {"lr": "high"}
    assert space.edges({"lr": 3e-4, "dropout": 0.49, "hidden": 50}) == {"dropout": "high"}


# -- grids and JSON ---------------------------------------------------------------------------


def test_grids():
    assert LogUniform(1e-6, 1e-3).grid(4) == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3])
    assert LogUniform(1e-6, 1e-2).grid(1) == pytest.approx([1e-4])
    assert Uniform(0.0, 0.5).grid(3) == [0.0, 0.25, 0.5]
    assert IntUniform(1, 3).grid(10) == [1, 2, 3]
    assert IntUniform(64, 512).grid(3) == [64, 288, 512]
    assert Choice(["sgd", "adam"]).grid(5) == ["sgd", "adam"]
    with pytest.raises(ValueError, match="n >= 1"):
        Uniform(0, 1).grid(0)


SPACES = [LogUniform(1e-6, 1e-3), Uniform(0.0, 0.5), IntUniform(64, 512), Choice([50, 100, 200]),
          Choice([None, "batchnorm"]), LogUniform(1.405206e-04, 4.296863e-04)]


@pytest.mark.parametrize("space", SPACES, ids=repr)
def test_json_round_trip(space):
    import json

    obj = json.loads(json.dumps(space.to_json()))
    assert space_from_json(obj) == space and Space.from_json(obj) == space


@pytest.mark.parametrize(
    "name, space",
    [("lr", SPACES[0]), ("dropout", SPACES[1]), ("hidden", SPACES[2]), ("hidden", SPACES[3]),
     ("normalization", SPACES[4]), ("reg", SPACES[5])],
)
def test_cli_text_round_trip(name, space):
    assert parse_space(name, space.to_cli()) == space


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(-12, 6), decades=st.floats(0.001, 12))
def test_cli_text_round_trip_is_exact_for_any_log_range(lo, decades):
    space = LogUniform(10.0**lo, 10.0 ** (lo + decades))
    assert parse_space("lr", space.to_cli()) == space


def test_bad_json_spaces_are_refused():
    with pytest.raises(ConfigError, match="needs a 'type'"):
        space_from_json({"low": 1})
    with pytest.raises(ConfigError, match="unknown search space type 'cubic'"):
        space_from_json({"type": "cubic", "low": 1, "high": 2})
    with pytest.raises(ConfigError, match="a 'log' search space in JSON needs 'high'"):
        space_from_json({"type": "log", "low": 1})


def test_search_space_is_sorted_and_sampling_ignores_the_given_order():
    texts = {"reg": "1e-5:1e5:log", "lr": "1e-6:1e-3:log", "hidden": "50,100,200"}
    a = SearchSpace.parse(texts)
    b = SearchSpace.parse(dict(reversed(list(texts.items()))))
    assert list(a) == ["hidden", "lr", "reg"] and a == b
    assert a.sample(np.random.default_rng(5)) == b.sample(np.random.default_rng(5))
    assert SearchSpace.from_json(a.to_json()) == a
    assert SearchSpace.parse(a.to_cli()) == a
    assert a.with_space("hidden", Choice([100]))["hidden"] == Choice([100]) and a["hidden"] == Choice([50, 100, 200])
