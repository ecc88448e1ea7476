"""SearchSpace: validated names, sorted order, extension inside the hard limits, edges, JSON kept exact."""

from __future__ import annotations

import json

import numpy as np

from babysit.search.samplers import RandomSampler
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform


def test_search_space_is_sorted_and_sampling_ignores_the_given_order():
    texts = {"reg": "1e-5:1e5:log", "lr": "1e-6:1e-3:log", "hidden": "50,100,200"}
    a = SearchSpace.parse(texts)
    b = SearchSpace.parse(dict(reversed(list(texts.items()))))
    assert list(a) == ["hidden", "lr", "reg"] and a == b
    assert a.sample(np.random.default_rng(5)) == b.sample(np.random.default_rng(5))
    assert SearchSpace.from_json(a.to_json()) == a
    assert SearchSpace.parse(a.to_cli()) == a
    assert a.to_cli() == {"hidden": "50,100,200", "lr": "1e-06:0.001:log", "reg": "1e-05:100000.0:log"}
    assert a.with_space("hidden", Choice([100]))["hidden"] == Choice([100]) and a["hidden"] == Choice([50, 100, 200])


def test_names_and_spaces_are_checked_against_the_registry(config_error):
    with config_error("hyperparameter", "name", r"did you mean 'reg'\?"):
        SearchSpace({"regg": LogUniform(1e-5, 1.0)})
    with config_error("SearchSpace", "hidden", "IntUniform or Choice"):
        SearchSpace({"hidden": Uniform(10, 20)})
    with config_error("SearchSpace", "spaces", "a non-empty mapping of hyperparameter names"):
        SearchSpace({})
    with config_error("SearchSpace", "lr"):
        SearchSpace({"lr": LogUniform(1e-4, 1e-3)}).with_space("lr", IntUniform(1, 2))


def test_search_space_extend_respects_hard_limits_and_edges_skips_them():
    space = SearchSpace.parse({"lr": "1e-4:1e-3:log", "dropout": "0:0.5", "hidden": "1:100:int"})
    assert space.extend("lr", "high")["lr"] == LogUniform(1e-4, 1e-2)
    assert space.extend("dropout", "low") is space  # already at the hard limit 0
    assert space.extend("dropout", "high")["dropout"] == Uniform(0.0, 0.9999999999999999)
    wider = space.extend("dropout", "high", 3.0)["dropout"]
    assert wider.low == 0.0 and 0.99 < wider.high < 1.0  # [0, 1) is open at 1
    assert space.extend("hidden", "low") is space
    assert space.extend("hidden", "high")["hidden"] == IntUniform(1, 199)
    best = {"lr": 9.5e-4, "dropout": 0.01, "hidden": 1}
    assert space.edges(best, tol=0.1) == {"lr": "high"}
    assert space.edges({"lr": 3e-4, "dropout": 0.49, "hidden": 50}) == {"dropout": "high"}


def test_json_and_samples_are_those_of_stored_searches():
    """A resume compares the stored spec JSON and reruns the same configurations: neither may change."""
    space = SearchSpace.parse({"lr": "1e-6:1e-3:log", "reg": "1e-5:1e5:log", "hidden": "50,100,200", "dropout": "0:0.5"})
    assert json.dumps(space.to_json()) == (
        '{"dropout": {"type": "uniform", "low": 0.0, "high": 0.5}, "hidden": {"type": "choice", "options": '
        '[50, 100, 200]}, "lr": {"type": "log", "low": 1e-06, "high": 0.001}, "reg": {"type": "log", "low": '
        '1e-05, "high": 100000.0}}'
    )
    assert RandomSampler(space, seed=(0, 1)).configs(2) == [
        {"dropout": 0.44486939563906713, "hidden": 200, "lr": 0.00025276926213077327, "reg": 36739.91733054008},
        {"dropout": 0.42432502164438635, "hidden": 200, "lr": 4.80389409602021e-06, "reg": 17944.819554697482},
    ]
