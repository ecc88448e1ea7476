"""The registry of hyperparameters: known names, the values each allows, which spaces suit which name."""

from __future__ import annotations

import pytest

from babysit.search.hyperparameters import HYPERPARAMETERS, check_space, hyperparameter
from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform

LECTURE_NAMES = ("lr", "reg", "hidden", "dropout", "lr_decay", "momentum", "batch_size", "weight_scale",
                 "update", "init", "activation", "normalization", "horizon")
FINETUNE_NAMES = ("lr_mult",)  # babysit search --from


def test_the_registry_holds_the_lectures_hyperparameters():
    assert sorted(HYPERPARAMETERS) == sorted(LECTURE_NAMES + FINETUNE_NAMES)
    assert all(hyperparameter(name).name == name for name in LECTURE_NAMES)
    assert hyperparameter("dropout").allowed() == "numbers in [0, 1)"
    assert hyperparameter("hidden").allowed() == "integers in [1, inf)"
    assert hyperparameter("normalization").allowed().startswith("none, batchnorm")


def test_unknown_hyperparameter_lists_the_known_ones_and_the_closest(config_error):
    with config_error("hyperparameter", "name", r"did you mean 'lr'\?") as err:
        hyperparameter("lrr")
    assert all(name in str(err.value) for name in LECTURE_NAMES) and err.value.got == "'lrr'"
    with config_error("hyperparameter", "name") as err:
        hyperparameter("xyzzy")
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize(
    "name, value, allowed",
    [("lr", 1e-3, True), ("lr", 0.0, False), ("reg", 0.0, True), ("dropout", 1.0, False), ("lr_decay", 1.0, True),
     ("lr_decay", 0.0, False), ("hidden", 64, True), ("hidden", 64.0, True), ("hidden", 64.5, False),
     ("hidden", 0, False), ("lr", True, False), ("lr", "1e-3", False), ("lr", float("inf"), False),
     ("normalization", None, True), ("update", "lbfgs", False)],
)
def test_allows(name, value, allowed):
    assert hyperparameter(name).allows(value) is allowed


def test_check_space_names_the_hyperparameter(config_error):
    check_space("lr", LogUniform(1e-6, 1e-3))
    check_space("hidden", Choice([50, 100]))
    with config_error("SearchSpace", "hidden", r"an IntUniform or Choice of integers in \[1, inf\) \(hidden units"):
        check_space("hidden", Uniform(10, 20))
    with config_error("SearchSpace", "lr", r"a LogUniform, Uniform or Choice of numbers in \(0, inf\)"):
        check_space("lr", IntUniform(1, 2))
    with config_error("SearchSpace", "update", r"a Choice of sgd, momentum, .*, adam \(update rule: not lbfgs\)"):
        check_space("update", Choice(["sgd", "lbfgs"]))
    with config_error("SearchSpace", "dropout", r"\(probability of dropping a hidden unit: not 1.0\)"):
        check_space("dropout", Uniform(0.0, 1.0))
    with config_error("SearchSpace", "lr"):
        check_space("lr", "1e-6:1e-3:log")
    with config_error("JobConfig", "reg"):
        check_space("reg", Uniform(-1.0, 1.0), owner="JobConfig")
