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


@pytest.mark.parametrize("shift", [0.0, 0.05, 100.0])  # mean small against the spread (fast path) or not
def test_array_summary_matches_numpy_in_float64(shift):
    from babysit.doctor.stats import array_summary

    a = (np.random.default_rng(3).standard_normal((3072, 50)) * 0.01 + shift).astype(np.float32)
    s = array_summary(a)
    assert s["mean"] == pytest.approx(float(np.mean(a, dtype=np.float64)), rel=1e-12)
    assert s["std"] == pytest.approx(float(np.std(a, dtype=np.float64)), rel=1e-5)
    assert s["norm"] == pytest.approx(float(np.linalg.norm(a.astype(np.float64))), rel=1e-6)


def test_array_summary_of_constant_empty_and_nonfinite_arrays():
    from babysit.doctor.stats import array_summary

    assert array_summary(np.full(7, 2.0, dtype=np.float32))["std"] == 0.0
    assert np.isnan(array_summary(np.zeros(0, dtype=np.float32))["std"])
    assert np.isnan(array_summary(np.array([1.0, np.nan]))["std"])
