"""Samplers: determinism, grids, and the lecture's random-vs-grid point."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from babysit.search import GridSampler, LogUniform, RandomSampler, SearchSpace, make_sampler

SPACE = SearchSpace.parse({"lr": "1e-6:1e-3:log", "reg": "1e-5:1e5:log", "hidden": "50,100,200", "dropout": "0:0.5"})


def test_same_seed_same_configs_and_other_seeds_differ():
    a = RandomSampler(SPACE, seed=7).configs(20)
    b = RandomSampler(SPACE, seed=7).configs(20)
    c = RandomSampler(SPACE, seed=8).configs(20)
    assert a == b
    assert a != c and all(x["lr"] != y["lr"] for x, y in zip(a, c))
    assert len({cfg["lr"] for cfg in a}) == 20
    assert all(set(cfg) == {"dropout", "hidden", "lr", "reg"} for cfg in a)


def test_config_i_does_not_depend_on_how_many_are_asked_for():
    sampler = RandomSampler(SPACE, seed=3)
    many = sampler.configs(50)
    assert sampler.configs(10) == many[:10]
    assert sampler.config(37) == many[37]
    it = iter(sampler)
    assert [next(it) for _ in range(5)] == many[:5]


def test_stage_seeds_give_independent_streams():
    stage1 = RandomSampler(SPACE, seed=(0, 1)).configs(10)
    stage2 = RandomSampler(SPACE, seed=(0, 2)).configs(10)
    assert not {c["lr"] for c in stage1} & {c["lr"] for c in stage2}
    assert RandomSampler(SPACE, seed=(0, 1)).configs(10) == stage1


def test_configs_are_the_same_in_a_fresh_process():
    """Whichever process (a worker, a resumed driver) samples, config i is the same."""
    code = (
        "import json; from babysit.search import RandomSampler, SearchSpace\n"
        f"space = SearchSpace.from_json(json.loads({json.dumps(json.dumps(SPACE.to_json()))}))\n"
        "print(json.dumps(RandomSampler(space, seed=11).configs(5)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert json.loads(out) == RandomSampler(SPACE, seed=11).configs(5)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, (), (1, -2), None])
def test_bad_seeds_are_refused(config_error, seed):
    with config_error("RandomSampler", "seed", "a non-negative int or a non-empty sequence of them"):
        RandomSampler(SPACE, seed)


def test_a_negative_index_is_refused(config_error):
    with config_error("RandomSampler.config", "index", r"an int in \[0, inf\)"):
        RandomSampler(SPACE, 0).config(-1)


def test_grid_walks_every_combination_once_in_order():
    space = SearchSpace.parse({"lr": "1e-6:1e-3:log", "hidden": "50,100,200", "dropout": "0:0.5"})
    grid = GridSampler(space, points_per_dim=2)
    configs = list(grid)
    assert len(grid) == len(configs) == 2 * 3 * 2
    assert len({tuple(sorted(c.items())) for c in configs}) == 12
    assert configs[0] == {"dropout": 0.0, "hidden": 50, "lr": 1e-6}
    assert configs[1] == {"dropout": 0.0, "hidden": 50, "lr": 1e-3}  # last name varies fastest
    assert configs[2] == {"dropout": 0.0, "hidden": 100, "lr": 1e-6}
    assert configs[-1] == {"dropout": 0.5, "hidden": 200, "lr": 1e-3}
    assert grid.configs(5) == configs[:5] and grid.configs(100) == configs
    assert grid.config(7) == configs[7]

def test_a_grid_index_past_the_end_is_refused(config_error):
    grid = GridSampler(SearchSpace.parse({"lr": "1e-6:1e-3:log", "hidden": "50,100,200"}), points_per_dim=2)
    with config_error("GridSampler.config", "index", r"an int in \[0, 5\]"):
        grid.config(6)
    with config_error("GridSampler.config", "index"):
        grid.config(-1)


def test_grid_points_per_dimension(config_error):
    space = SearchSpace.parse({"lr": "1e-6:1e-3:log", "reg": "1e-5:1e5:log"})
    grid = GridSampler(space, {"lr": 4, "reg": 1})
    assert len(grid) == 4
    assert [c["lr"] for c in grid] == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3])
    assert [c["reg"] for c in grid] == pytest.approx([1.0] * 4)
    expected = r"an int in \[1, inf\), or a mapping of each of lr, reg to one"
    for points in ({"lr": 4}, {"lr": 4, "reg": 1, "hidden": 2}, 0, {"lr": 4, "reg": 0}, 2.0, True):
        with config_error("GridSampler", "points_per_dim", expected):
            GridSampler(space, points)


def test_make_sampler(config_error):
    assert make_sampler("random", SPACE, seed=2).configs(3) == RandomSampler(SPACE, 2).configs(3)
    assert len(make_sampler("grid", SPACE, points_per_dim=2)) == 2 * 2 * 3 * 2
    with config_error("make_sampler", "kind", "one of 'random', 'grid'"):
        make_sampler("sobol", SPACE)


# -- random vs grid (Bergstra and Bengio, 2012; the lecture's slide) ------------------------------

BUDGET = 9
TWO_PARAMS = SearchSpace({"lr": LogUniform(1e-6, 1e-3), "reg": LogUniform(1e-5, 1e5)})


def _val_acc(config):
    """A made-up response surface where lr matters (peak at 10**-3.7) and reg barely does."""
    important = math.exp(-((math.log10(config["lr"]) + 3.7) ** 2) / 0.08)
    unimportant = 0.01 * math.exp(-((math.log10(config["reg"]) + 1) ** 2) / 50)
    return 0.1 + 0.43 * important + unimportant


def test_random_search_tries_more_distinct_values_of_each_parameter_than_grid():
    grid = GridSampler(TWO_PARAMS, points_per_dim=3).configs()
    assert len(grid) == BUDGET
    assert len({c["lr"] for c in grid}) == 3  # a 3x3 grid tries only 3 learning rates
    for seed in range(20):
        rand = RandomSampler(TWO_PARAMS, seed=seed).configs(BUDGET)
        assert len({c["lr"] for c in rand}) == BUDGET  # every trial tries a new learning rate
        assert len({c["reg"] for c in rand}) == BUDGET


def test_random_search_finds_a_better_important_parameter_than_grid_most_of_the_time():
    grid_best = max(_val_acc(c) for c in GridSampler(TWO_PARAMS, points_per_dim=3))
    random_best = [max(_val_acc(c) for c in RandomSampler(TWO_PARAMS, seed=s).configs(BUDGET)) for s in range(40)]
    wins = sum(b > grid_best for b in random_best)
    assert wins >= 30, f"random beat the 3x3 grid in only {wins} of 40 seeds"
    assert np.median(random_best) > grid_best + 0.05


def test_random_search_lands_closer_to_the_best_learning_rate_wherever_it_is():
    """Averaged over 200 optimum positions, the nearest of 9 random lrs beats the nearest of a 3x3 grid's."""
    rng = np.random.default_rng(0)
    grid_lrs = np.log10(sorted({c["lr"] for c in GridSampler(TWO_PARAMS, points_per_dim=3)}))
    grid_gaps, random_gaps = [], []
    for trial in range(200):
        peak = rng.uniform(-6, -3)
        random_lrs = np.log10([c["lr"] for c in RandomSampler(TWO_PARAMS, seed=trial).configs(BUDGET)])
        grid_gaps.append(np.abs(grid_lrs - peak).min())
        random_gaps.append(np.abs(random_lrs - peak).min())
    # 3 grid values 1.5 decades apart: mean gap ~0.375 decades; 9 random values: ~0.2
    assert np.mean(grid_gaps) == pytest.approx(0.375, abs=0.05)
    assert np.mean(random_gaps) < 0.7 * np.mean(grid_gaps)
