"""Learning-rate schedules against hand-computed values."""

import math

import pytest

from babysit.errors import ConfigError
from babysit.train.schedules import CosineDecay, EpochDecay, ExponentialDecay, StepDecay, make_schedule


def test_epoch_decay_is_the_lectures_learning_rate_decay():
    s = EpochDecay(1e-3, 0.95)
    assert s.lr_at(0, 0) == 1e-3
    assert s.lr_at(0, 489) == 1e-3  # constant within an epoch
    assert s.lr_at(1, 490) == pytest.approx(0.00095, rel=1e-15)
    assert s.lr_at(3, 0) == pytest.approx(0.000857375, rel=1e-15)
    assert EpochDecay(0.5).lr_at(100, 0) == 0.5


def test_step_decay_drops_every_step_size_epochs():
    s = StepDecay(0.1, step_size=3, gamma=0.5)
    assert [s.lr_at(e, 0) for e in range(8)] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])


def test_exponential_decay():
    s = ExponentialDecay(0.2, k=0.5)
    assert s.lr_at(0, 0) == 0.2
    assert s.lr_at(2, 0) == pytest.approx(0.2 * 0.36787944117144233, rel=1e-15)  # e**-1


def test_cosine_decay_per_iteration():
    s = CosineDecay(1.0, total_iterations=4, min_lr=0.2)
    # 0.2 + 0.4 * (1 + cos(pi * t / 4))
    expected = [1.0, 0.2 + 0.4 * (1 + math.sqrt(0.5)), 0.6, 0.2 + 0.4 * (1 - math.sqrt(0.5)), 0.2, 0.2]
    assert [s.lr_at(0, i) for i in range(6)] == pytest.approx(expected, abs=1e-15)


def test_make_schedule_parses_cli_specs():
    kw = dict(lr=0.1, num_epochs=10, iterations_per_epoch=5)
    assert make_schedule("decay:0.9", **kw) == EpochDecay(0.1, 0.9)
    assert make_schedule("step:4:0.5", **kw) == StepDecay(0.1, 4, 0.5)
    assert make_schedule("exponential:0.1", **kw) == ExponentialDecay(0.1, 0.1)
    assert make_schedule("cosine", **kw) == CosineDecay(0.1, 50, 0.0)
    assert make_schedule("cosine:1e-4", **kw) == CosineDecay(0.1, 50, 1e-4)


@pytest.mark.parametrize("spec", ["linear", "step:4", "step:a:0.5", "cosine:1:2", "step:2.5:0.1", ""])
def test_bad_specs_are_config_errors(spec):
    with pytest.raises(ConfigError, match=rf"The 'spec' parameter of make_schedule must be .*\(as --schedule "
                                          rf"takes\)\. Got '{spec}' instead\.") as info:
        make_schedule(spec, lr=0.1, num_epochs=1, iterations_per_epoch=1)
    assert info.value.parameter == "spec"


def test_bad_values_name_the_parameter():
    with pytest.raises(ConfigError, match=r"The 'gamma' parameter of StepDecay must be a float in \(0, inf\)\. Got -0\.5"):
        StepDecay(0.1, 2, -0.5)
    with pytest.raises(ConfigError, match=r"The 'step_size' parameter of StepDecay must be an int in \[1, inf\)\. Got 0"):
        StepDecay(0.1, 0)
    with pytest.raises(ConfigError, match=r"The 'lr' parameter of EpochDecay"):
        EpochDecay(0.0)
    for bad in (float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ConfigError, match=r"The 'k' parameter of ExponentialDecay must be a float in \[0, inf\)"):
            ExponentialDecay(0.1, bad)
    with pytest.raises(ConfigError, match=r"The 'total_iterations' parameter of CosineDecay must be an int"):
        CosineDecay(0.1, 10.0)
    with pytest.raises(ConfigError, match=r"The 'min_lr' parameter of CosineDecay must be a float in \[0, inf\)"):
        CosineDecay(0.1, 10, -1e-3)


def test_float_fields_are_stored_as_python_floats():
    import numpy as np

    s = StepDecay(np.float64(0.1), np.int64(2), np.float32(0.5))
    assert type(s.lr) is float and type(s.gamma) is float
