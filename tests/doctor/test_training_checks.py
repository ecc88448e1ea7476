import math

import pytest

from babysit.doctor import lr_range, overfit_small, update_ratio
from babysit.doctor.training_checks import probe_verdict

from .doctor_cases import assert_jsonable, fc_factory


def test_overfit_small_reaches_100_percent_on_20_examples(small_digits):
    f = overfit_small(fc_factory([50]), small_digits)
    assert f.status == "pass"
    assert f.value == 1.0
    assert f.details["rows"] == 20
    assert f.details["train_acc_history"][-1] == 1.0
    assert f.details["weights"]["epoch"][0] == 0  # weight stats from init on, for the plot
    assert_jsonable(f)


def test_overfit_small_uses_reg_0_whatever_the_model_says(small_digits):
    f = overfit_small(fc_factory([50], reg=1e3), small_digits)
    assert f.status == "pass"


def test_overfit_small_fails_with_zero_init_and_says_why(small_digits):
    f = overfit_small(fc_factory([50], init="zeros"), small_digits)
    assert f.status == "fail"
    assert f.value < 0.5
    assert "identical" in f.explanation
    assert "--init" in f.advice
    assert len(f.details["attempts"]) >= 2  # it tried more than one learning rate before giving up


def test_overfit_small_backs_off_when_the_loss_explodes(small_digits):
    f = overfit_small(fc_factory([50]), small_digits, lr=1e3)
    statuses = [a["status"] for a in f.details["attempts"]]
    assert statuses[0] in ("exploded", "diverged")
    assert f.details["attempts"][1]["lr"] == pytest.approx(1e2)
    assert f.status == "pass"  # it found a rate that works further down


@pytest.mark.parametrize("start,end,status,verdict", [
    (2.3, 2.3, "finished", "too_low"),
    (2.3, 2.29, "finished", "too_low"),
    (2.3, 2.0, "finished", "good"),
    (2.3, 2.4, "finished", "too_high"),
    (2.3, 7.0, "finished", "too_high"),
    (2.3, math.nan, "diverged", "too_high"),
    (2.3, 1.0, "exploded", "too_high"),
])
def test_probe_verdicts(start, end, status, verdict):
    assert probe_verdict(start, end, status) == verdict


def test_lr_range_flags_1e6_too_high_and_1e_9_too_low(small_digits):
    f = lr_range(fc_factory([50]), small_digits, lrs=[1e-9, 1e-2, 1e6])
    verdicts = {p["lr"]: p["verdict"] for p in f.details["probes"]}
    assert verdicts == {1e-9: "too_low", 1e-2: "good", 1e6: "too_high"}
    high = f.details["probes"][-1]
    assert high["status"] in ("exploded", "diverged") and high["steps"] <= 5  # the guard stopped it at once
    low = f.details["probes"][0]
    assert abs(low["loss_end"] - low["loss_start"]) < 1e-4
    assert f.value == [1e-2, 1e-2]
    assert_jsonable(f)


def test_lr_range_default_probes_give_a_range_and_a_suggestion(small_digits):
    f = lr_range(fc_factory([50]), small_digits)
    assert f.status == "pass"
    low, high = f.value
    assert low <= 1e-2 <= high < 10
    assert low <= f.details["suggested_lr"] <= high
    assert [p["lr"] for p in f.details["probes"]] == sorted(p["lr"] for p in f.details["probes"])
    for p in f.details["probes"]:
        assert set(p) >= {"lr", "verdict", "loss_start", "loss_end"}


def test_lr_range_fails_when_no_rate_helps(small_digits):
    f = lr_range(fc_factory([50], init="zeros"), small_digits, lrs=[1e-6, 1e-4, 1e-2])
    assert f.status == "fail"
    assert f.value is None
    assert all(p["verdict"] == "too_low" for p in f.details["probes"])
    assert "vanishing or zero" in f.explanation


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


def test_a_tiny_drop_next_to_a_big_one_is_still_too_low():
    from babysit.doctor.training_checks import relative_verdicts

    # a confidently wrong start (4.3 > ln 10) sheds 1.4% even at lr 1e-6; lr 1e-2 sheds 58%
    probes = [{"lr": 1e-6, "verdict": "good", "loss_start": 4.325, "loss_end": 4.263},
              {"lr": 1e-4, "verdict": "good", "loss_start": 4.325, "loss_end": 2.890},
              {"lr": 1e-2, "verdict": "good", "loss_start": 4.325, "loss_end": 1.814},
              {"lr": 1e-1, "verdict": "too_high", "loss_start": 4.325, "loss_end": 68.6}]
    relative_verdicts(probes)
    assert [p["verdict"] for p in probes] == ["too_low", "good", "good", "too_high"]


def test_suggested_lr_is_the_good_probe_with_update_ratio_nearest_1e_3(small_digits):
    f = lr_range(fc_factory([50]), small_digits)
    good = [p for p in f.details["probes"] if p["verdict"] == "good"]
    chosen = next(p for p in good if p["lr"] == f.details["suggested_lr"])
    assert all(abs(math.log10(chosen["update_ratio"]) + 3) <= abs(math.log10(p["update_ratio"]) + 3) for p in good)
    assert 1e-4 < chosen["update_ratio"] < 1e-2
