"""SearchSpec's own checks: each bad argument is a ConfigError naming its parameter, never a CLI flag."""

from __future__ import annotations

import json

import numpy as np
import pytest

from babysit.search.driver import SearchSpec
from babysit.search.search_space import SearchSpace
from babysit.search.trial import DataRef

DIGITS = DataRef("digits")
LECTURE = SearchSpace.parse({"lr": "1e-6:1e-3:log", "reg": "1e-5:1e5:log"})


def spec(trials=(6, 6), epochs=(1, 2), seed=0, sampler="random"):
    return SearchSpec(DIGITS, "fc:16", LECTURE, trials, epochs, seed, sampler)


@pytest.mark.parametrize(
    "kwargs, parameter, expected",
    [
        ({"trials": ()}, "stage_trials", r"a non-empty sequence of ints in \[1, inf\)"),
        ({"trials": (6, 0)}, "stage_trials", r"a non-empty sequence of ints in \[1, inf\)"),
        ({"trials": (6, True)}, "stage_trials", "ints"),
        ({"trials": 6}, "stage_trials", "sequence"),
        ({"epochs": (1, 2.5)}, "stage_epochs", r"a non-empty sequence of ints in \[1, inf\)"),
        ({"epochs": (1,)}, "stage_epochs", r"one int in \[1, inf\) per stage, as many as stage_trials \(2\)"),
        ({"seed": -1}, "seed", r"an int in \[0, inf\)"),
        ({"seed": "0"}, "seed", "an int"),
        ({"sampler": "sobol"}, "sampler", "one of 'random', 'grid'"),
    ],
)
def test_bad_specs_name_the_parameter(config_error, kwargs, parameter, expected):
    with config_error("SearchSpec", parameter, expected):
        spec(**kwargs)


@pytest.mark.parametrize("name", ["stages", "trials", "epochs"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3"])
def test_from_cli_names_stages_trials_and_epochs(config_error, name, value):
    counts = {"stages": 2, "trials": 5, "epochs": 1, name: value}
    with config_error("SearchSpec.from_cli", name, r"an int in \[1, inf\)"):
        SearchSpec.from_cli(data=DIGITS, model="fc:16", space=LECTURE, **counts)


def test_from_cli_doubles_the_epochs_and_the_json_is_unchanged():
    s = SearchSpec.from_cli(data=DIGITS, model="fc:16", space=LECTURE, stages=3, trials=4, epochs=2, seed=5)
    assert (s.stage_trials, s.stage_epochs, s.stages) == ((4, 4, 4), (2, 4, 8), 3)
    assert json.dumps(s.to_json()) == (
        '{"version": 1, "data": ' + json.dumps(DIGITS.to_json()) + ', "model": "fc:16", "space": '
        + json.dumps(LECTURE.to_json()) + ', "stage_trials": [4, 4, 4], "stage_epochs": [2, 4, 8], "seed": 5, '
        '"sampler": "random"}'
    )


def test_numpy_counts_and_lists_become_plain_ints_so_the_json_is_the_same():
    plain = spec(trials=(6, 6), epochs=(1, 2), seed=3)
    other = spec(trials=[np.int64(6), 6], epochs=np.array([1, 2]), seed=np.int64(3))
    assert other.stage_trials == (6, 6) and type(other.seed) is int
    assert json.dumps(other.to_json()) == json.dumps(plain.to_json())


@pytest.mark.parametrize("examples", [(100,), (100, 0), (100, 2.5), (True, None), 100, "100,200"])
def test_bad_stage_examples_name_the_parameter(config_error, examples):
    with config_error("SearchSpec", "stage_examples", r"None or one int in \[1, inf\) or None per stage \(2\)"):
        SearchSpec(DIGITS, "fc:16", LECTURE, (6, 6), (1, 2), stage_examples=examples)


def test_stage_examples_are_stored_only_when_set_and_come_back():
    subsets = SearchSpec(DIGITS, "fc:16", LECTURE, (6, 6), (1, 2), stage_examples=(np.int64(300), None))
    assert subsets.stage_examples == (300, None) and type(subsets.stage_examples[0]) is int
    assert subsets.to_json()["stage_examples"] == [300, None]
    assert SearchSpec.from_json(json.loads(json.dumps(subsets.to_json()))) == subsets
    assert [subsets.train_examples(k) for k in (1, 2)] == [300, None]
    assert "stage_examples" not in spec().to_json() and spec().train_examples(1) is None  # older specs resume as they were
