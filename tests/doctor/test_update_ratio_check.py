from babysit.doctor import update_ratio

from .doctor_cases import assert_jsonable, fc_factory


def test_update_ratio_at_a_sensible_rate_is_near_1e_3(small_digits):
    f = update_ratio(fc_factory([50]), small_digits, lr=1e-2)
    assert f.status == "pass"
    assert set(f.value) == {"W1", "W2"}
    assert all(1e-4 < r < 1e-2 for r in f.value.values())
    assert f.details["steps"] == 10
    assert_jsonable(f)


def test_update_ratio_catches_rates_far_too_high_and_low(small_digits):
    high = update_ratio(fc_factory([50]), small_digits, lr=1e2)
    assert high.status == "fail" and "too fast" in high.explanation and "lower" in high.advice
    low = update_ratio(fc_factory([50]), small_digits, lr=1e-9)
    assert low.status == "fail" and "too slow" in low.explanation
    assert all(r < 1e-6 for r in low.value.values())


def test_update_ratio_flags_zero_init_weights_that_never_move(small_digits):
    f = update_ratio(fc_factory([50], init="zeros"), small_digits, lr=1e-2)
    assert f.status == "fail"
    assert f.value == {"W1": 0.0, "W2": 0.0}
    assert "exactly zero" in f.explanation
