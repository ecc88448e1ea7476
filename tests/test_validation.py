"""babysit.validation: every check, its one message format, and the parts the CLI rewords (for_flag)."""

import math
import re

import numpy as np
import pytest

from babysit.errors import ConfigError
from babysit.validation import (
    AT_LEAST_ONE, FINITE, NON_NEGATIVE, POSITIVE, UNIT, Interval, check_bool, check_choice, check_dtype, check_float,
    check_int, check_int_list, check_optional_float, check_optional_int, invalid, reject_unknown, unknown,
)


def _raises(parameter, owner="Thing", expected=None, got=None):
    """pytest.raises(ConfigError) matching the one format: "The 'p' parameter of Owner must be ... Got ... instead."."""
    pattern = rf"^The '{parameter}' parameter of {owner} must be "
    pattern += (re.escape(expected) if expected else ".+") + r"\. Got "
    pattern += (re.escape(got) if got else ".+") + r" instead\.$"
    return pytest.raises(ConfigError, match=pattern)


# -- Interval ---------------------------------------------------------------------
@pytest.mark.parametrize("interval, inside, outside, text", [
    (Interval(0, 1), [0, 0.5, 1], [-0.1, 1.1], "[0, 1]"),
    (Interval(0, 1, "left"), [0, 0.99], [1, -1e-9], "[0, 1)"),
    (Interval(0, 1, "right"), [1, 1e-9], [0], "(0, 1]"),
    (Interval(0, 1, "neither"), [0.5], [0, 1], "(0, 1)"),
    (POSITIVE, [1e-300, 1e300], [0, -1, math.inf], "(0, inf)"),
    (NON_NEGATIVE, [0, 5], [-1e-9, math.inf], "[0, inf)"),
    (FINITE, [-1e300, 0, 1e300], [math.inf, -math.inf], "(-inf, inf)"),
    (UNIT, [0, 1], [1.5], "[0, 1]"),
    (AT_LEAST_ONE, [1, 10**9], [0, -3], "[1, inf)"),
    (Interval(1.0, math.inf), [math.inf], [0.5], "[1, inf)"),  # closed at inf: inf passes (ExplosionGuard's factor)
])
def test_interval_membership_and_text(interval, inside, outside, text):
    assert all(v in interval for v in inside)
    assert not any(v in interval for v in outside)
    assert str(interval) == text


# -- check_float --------------------------------------------------------------------
@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.25), np.float64(0.75), np.int64(1)])
def test_check_float_returns_a_python_float(value):
    out = check_float("Thing", "rate", value, UNIT)
    assert type(out) is float and out == float(value)


@pytest.mark.parametrize("value, got", [
    (float("nan"), "nan"), (np.float32("nan"), "nan"), (1.5, "1.5"), (-0.1, "-0.1"), (True, "True"), (False, "False"),
    ("0.5", "'0.5'"), (None, "None"), ([0.5], "[0.5]"), (1 + 0j, "(1+0j)"),
])
def test_check_float_refuses_nan_bools_strings_and_out_of_range(value, got):
    with _raises("rate", expected="a float in [0, 1]", got=got) as info:
        check_float("Thing", "rate", value, UNIT)
    err = info.value
    assert (err.parameter, err.owner, err.expected, err.got) == ("rate", "Thing", "a float in [0, 1]", got)


@pytest.mark.parametrize("value", [math.inf, -math.inf, float("nan")])
def test_check_float_default_interval_is_finite(value):
    with _raises("x", expected="a float in (-inf, inf)"):
        check_float("Thing", "x", value)
    assert check_float("Thing", "x", -1e300) == -1e300


def test_check_optional_float_lets_none_through():
    assert check_optional_float("Thing", "x", None, POSITIVE) is None
    assert check_optional_float("Thing", "x", 2, POSITIVE) == 2.0
    with _raises("x", expected="a float in (0, inf)", got="0.0"):  # the value as the float it was read as
        check_optional_float("Thing", "x", 0, POSITIVE)


# -- check_int ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [1, np.int64(3), np.uint8(7)])
def test_check_int_returns_a_python_int(value):
    out = check_int("Thing", "n", value, AT_LEAST_ONE)
    assert type(out) is int and out == int(value)


@pytest.mark.parametrize("value, got", [
    (True, "True"), (False, "False"), (np.bool_(True), None), (0, "0"), (-2, "-2"), (1.0, "1.0"), (2.5, "2.5"),
    ("3", "'3'"), (None, "None"), (float("nan"), "nan"),
])
def test_check_int_refuses_bools_floats_and_out_of_range(value, got):
    with _raises("n", expected="an int in [1, inf)", got=got):
        check_int("Thing", "n", value, AT_LEAST_ONE)


def test_check_optional_int_lets_none_through():
    assert check_optional_int("Thing", "n", None, AT_LEAST_ONE) is None
    assert check_optional_int("Thing", "n", 4, AT_LEAST_ONE) == 4
    with _raises("n", expected="an int in [1, inf)", got="True"):
        check_optional_int("Thing", "n", True, AT_LEAST_ONE)


# -- choices, bools, int lists, dtypes ---------------------------------------------
def test_check_choice_lists_every_choice():
    assert check_choice("Thing", "kind", None, (None, "a")) is None
    assert check_choice("Thing", "kind", "a", {"a": 1, "b": 2}) == "a"
    with _raises("kind", expected="one of None, 'a', 'b'", got="'c'"):
        check_choice("Thing", "kind", "c", [None, "a", "b"])


@pytest.mark.parametrize("value, ok", [(True, True), (False, True), (np.bool_(False), True), (1, False), (0, False),
                                       ("yes", False), (None, False)])
def test_check_bool(value, ok):
    if ok:
        assert check_bool("Thing", "flag", value) is bool(value)
    else:
        with _raises("flag", expected="a bool"):
            check_bool("Thing", "flag", value)


def test_check_int_list():
    assert check_int_list("Thing", "dims", [3, np.int64(4)]) == (3, 4)
    assert check_int_list("Thing", "dims", ()) == ()
    assert check_int_list("Thing", "dims", range(1, 3)) == (1, 2)
    assert check_int_list("Thing", "dims", [0, 2], Interval(0, math.inf)) == (0, 2)


@pytest.mark.parametrize("values, kwargs, expected", [
    ([3, 0], {}, "a sequence of ints in [1, inf)"),
    ([3, True], {}, "a sequence of ints in [1, inf)"),
    ([3, 4.0], {}, "a sequence of ints in [1, inf)"),
    ("34", {}, "a sequence of ints in [1, inf)"),
    (5, {}, "a sequence of ints in [1, inf)"),
    (None, {}, "a sequence of ints in [1, inf)"),
    ([], {"allow_empty": False}, "a non-empty sequence of ints in [1, inf)"),
])
def test_check_int_list_refuses(values, kwargs, expected):
    with _raises("dims", expected=expected, got=repr(values)):
        check_int_list("Thing", "dims", values, **kwargs)


@pytest.mark.parametrize("value", [np.float32, np.float64, "float32", "float64", np.dtype("float64"), float])
def test_check_dtype_accepts_float32_and_float64_in_any_spelling(value):
    assert check_dtype("Thing", "dtype", value) in (np.dtype(np.float32), np.dtype(np.float64))


@pytest.mark.parametrize("value, got", [
    (np.int32, "dtype('int32')"), (np.float16, "dtype('float16')"), ("complex128", "dtype('complex128')"),
    ("nonsense", "'nonsense'"), (None, "None"), (object, "dtype('O')"),
])
def test_check_dtype_refuses_the_rest(value, got):
    with _raises("dtype", expected="np.float32 or np.float64", got=got):
        check_dtype("Thing", "dtype", value)


def test_check_dtype_with_other_allowed_dtypes():
    assert check_dtype("Thing", "dtype", "int64", [np.int64]) == np.dtype(np.int64)
    with _raises("dtype", expected="np.int64", got="dtype('float64')"):
        check_dtype("Thing", "dtype", np.float64, [np.int64])


# -- invalid, unknown, reject_unknown, for_flag -----------------------------------------
def test_invalid_builds_the_one_format_with_its_parts():
    err = invalid("Solver", "num_epochs", "an int in [1, inf)", 0)
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    assert str(err) == "The 'num_epochs' parameter of Solver must be an int in [1, inf). Got 0 instead."
    assert (err.parameter, err.owner, err.expected, err.got) == ("num_epochs", "Solver", "an int in [1, inf)", "0")


def test_for_flag_rewords_for_the_command_line():
    err = invalid("Solver", "num_epochs", "an int in [1, inf)", 0)
    assert err.for_flag("--epochs") == "--epochs must be an int in [1, inf). Got 0 instead."
    with pytest.raises(ConfigError) as info:
        check_float("Momentum", "momentum", 1.5, Interval(0, 1, "left"))
    assert info.value.for_flag("--momentum") == "--momentum must be a float in [0, 1). Got 1.5 instead."
    free = ConfigError("something else went wrong")
    assert free.for_flag("--anything") == "--anything: something else went wrong"  # no parts: the message, and which flag
    assert free.parameter is None and free.expected is None


def test_unknown_names_the_registry_and_its_entries():
    err = unknown("make_optimizer", "name", "update rule", "adagrad", ["sgd", "adam"])
    assert str(err) == "Unknown update rule 'adagrad' for make_optimizer; expected one of: sgd, adam."
    assert err.for_flag("--update") == "--update must be one of: sgd, adam. Got 'adagrad' instead."
    assert str(unknown("f", "name", "thing", "x", [])).endswith("expected one of: (none).")


def test_reject_unknown():
    reject_unknown("adam", {"beta1": 0.9}, ["beta1", "beta2"])  # nothing unknown: no error
    with pytest.raises(ConfigError, match=r"^Unknown parameter 'mu' for sgd; expected one of: \(none\)\.$") as info:
        reject_unknown("sgd", {"mu": 0.9}, [])
    assert info.value.parameter == "mu"
    with pytest.raises(ConfigError, match=r"^Unknown parameters 'a', 'z' for adam; expected one of: beta1\.$"):
        reject_unknown("adam", ["z", "beta1", "a"], ["beta1"])
