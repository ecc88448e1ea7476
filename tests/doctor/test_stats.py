import numpy as np
import pytest

from babysit.doctor.stats import (dead_fraction, histogram, nonlinear_layers, saturated_fraction,
                                  symmetric_fraction, unit_matrix)
from babysit.nn import ReLU, Sigmoid, Tanh

from .doctor_cases import fc_factory


def test_unit_matrix_puts_channels_last():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    u = unit_matrix(x)
    assert u.shape == (40, 3)
    np.testing.assert_array_equal(np.sort(u[:, 1]), np.sort(x[:, 1].ravel()))


def test_dead_and_saturated_fractions():
    out = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 0.5]], np.float32)
    assert dead_fraction(ReLU(), out) == pytest.approx(1 / 3)
    assert dead_fraction(Tanh(), out) is None
    t = np.array([[0.995, -0.999, 0.1, 0.0]], np.float32)
    assert saturated_fraction(Tanh(), t) == 0.5
    s = np.array([[0.001, 0.999, 0.5, 0.7]], np.float32)
    assert saturated_fraction(Sigmoid(), s) == 0.5
    assert saturated_fraction(ReLU(), s) is None


def test_symmetric_fraction_finds_duplicate_units_despite_float_noise():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((100, 1)).astype(np.float32)
    same = np.hstack([base, base + 1e-7, base * (1 + 1e-7), rng.standard_normal((100, 1)).astype(np.float32)])
    assert symmetric_fraction(same) == pytest.approx(0.5)  # 3 copies of one unit + 1 distinct: 2 of 4 redundant
    assert symmetric_fraction(rng.standard_normal((100, 50))) == 0.0
    assert symmetric_fraction(np.zeros((100, 50))) == 0.0  # constant units are the dead/zero checks' business


def test_histogram_uses_the_lectures_range_for_tanh_and_skips_non_finite():
    h = histogram(Tanh(), np.array([0.0, 0.5, np.nan, -1.0], np.float32))
    assert h["edges"][0] == -1.0 and h["edges"][-1] == 1.0
    assert sum(h["counts"]) == 3


def test_nonlinear_layers_are_labelled_by_kind_and_depth():
    model = fc_factory([5, 5], activation="tanh")()
    assert [label for label, _ in nonlinear_layers(model)] == ["tanh1", "tanh2"]
