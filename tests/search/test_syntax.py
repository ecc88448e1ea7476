"""The command-line text of a space: the forms parse_space reads, its errors, and the exact round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform
from babysit.search.syntax import format_space, parse_space


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
        ("hidden", "64:512:lin", IntUniform(64, 512)),
        ("hidden", "50,100,200", Choice([50, 100, 200])),
        ("batch_size", "1e2,2e2", Choice([100, 200])),
        ("dropout", "0,0.25,0.5", Choice([0.0, 0.25, 0.5])),
        ("lr", "1e-3", Choice([1e-3])),
        ("update", "sgd,momentum,adam", Choice(["sgd", "momentum", "adam"])),
        ("normalization", "none,batchnorm", Choice([None, "batchnorm"])),
        ("activation", "ReLU", Choice(["relu"])),
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


FLOAT_FORM = "LOW:HIGH:log, LOW:HIGH[:lin] or a list A,B,C of numbers in "
INT_FORM = "LOW:HIGH[:int] or a list A,B,C of integers in [1, inf)"


@pytest.mark.parametrize(
    "name, text, reason, form",
    [
        ("lr", "1e-3:1e-6:log", "a log range needs 0 < low < high", FLOAT_FORM + "(0, inf)"),
        ("lr", "-1e-3:1e-3:log", "a log range needs 0 < low < high", FLOAT_FORM),
        ("reg", "0:1e-3:log", "a log range needs 0 < low < high", FLOAT_FORM + "[0, inf)"),
        ("lr", "abc", "'abc' is not a number", FLOAT_FORM),
        ("lr", "1:2:cubic", "unknown scale 'cubic'", FLOAT_FORM),
        ("lr", "1:2:3:log", "a range has the form LOW:HIGH[:SCALE]", FLOAT_FORM),
        ("lr", "1e-3:", "'' is not a number", FLOAT_FORM),
        ("lr", "1e-6:inf:log", "'inf' is not a finite number", FLOAT_FORM),
        ("lr", "1e-4:1e-3:int", "the int scale is for integer hyperparameters", FLOAT_FORM),
        ("dropout", "0.5:0", "a range needs low < high", FLOAT_FORM + "[0, 1)"),
        ("dropout", "0.1,,0.2", "empty value in the list", FLOAT_FORM),
        ("dropout", "0.1,0.1", "the list repeats a value", FLOAT_FORM),
        ("hidden", "50.5,100", "'50.5' is not an integer", INT_FORM),
        ("hidden", "16:256:log", "hidden is an integer: not a log range", INT_FORM),
        ("hidden", "100:100:int", "an integer range needs low < high", INT_FORM),
        ("update", "sgd,rmsprob", "unknown update 'rmsprob'", "a list A,B,C of sgd, momentum, nesterov, rmsprop, adam"),
        ("activation", "relu:tanh", "not a range", "a list A,B,C of relu, "),
        ("dropout", "0:1", "probability of dropping a hidden unit: not 1.0", FLOAT_FORM + "[0, 1)"),
        ("momentum", "0.5,0.9,1.2", "momentum of the update rule: not 1.2", FLOAT_FORM + "[0, 1)"),
        ("hidden", "0:10", "hidden units per layer: not 0", INT_FORM),
        ("reg", "-1:1", "L2 regularization strength: not -1.0", FLOAT_FORM + "[0, inf)"),
    ],
)
def test_bad_text_names_the_hyperparameter_the_form_and_why(config_error, name, text, reason, form):
    with config_error("parse_space", name) as err:
        parse_space(name, text)
    assert err.value.got == repr(text.strip())
    assert err.value.expected.startswith(form) and err.value.expected.endswith(f"({reason})")
    assert err.value.for_flag("--" + name) == f"--{name} must be {err.value.expected}. Got {text.strip()!r} instead."


def test_an_unknown_name_is_the_registrys_error(config_error):
    with config_error("hyperparameter", "name", r"did you mean 'lr'\?"):
        parse_space("lrr", "1e-4:1e-3:log")


SPACES = [("lr", LogUniform(1e-6, 1e-3)), ("dropout", Uniform(0.0, 0.5)), ("hidden", IntUniform(64, 512)),
          ("hidden", Choice([50, 100, 200])), ("normalization", Choice([None, "batchnorm"])),
          ("reg", LogUniform(1.405206e-04, 4.296863e-04))]


def test_format_space_writes_the_cli_text():
    assert [format_space(s) for _, s in SPACES] == [
        "1e-06:0.001:log", "0.0:0.5:lin", "64:512:int", "50,100,200", "none,batchnorm",
        "0.0001405206:0.0004296863:log",
    ]


@pytest.mark.parametrize("name, space", SPACES, ids=repr)
def test_cli_text_round_trip(name, space):
    assert parse_space(name, format_space(space)) == space


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(-12, 6), decades=st.floats(0.001, 12))
def test_cli_text_round_trip_is_exact_for_any_log_range(lo, decades):
    space = LogUniform(10.0**lo, 10.0 ** (lo + decades))
    assert parse_space("lr", format_space(space)) == space
