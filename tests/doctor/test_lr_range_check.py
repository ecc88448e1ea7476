import math

import pytest

from babysit.doctor import lr_range
from babysit.doctor.lr_range_check import probe_verdict, relative_verdicts

from .doctor_cases import assert_jsonable, fc_factory


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


def test_a_tiny_drop_next_to_a_big_one_is_still_too_low():
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


def test_probes_are_judged_against_a_rate_too_low_to_learn():
    # issue 10: an overconfident start makes any step lower the loss; a probe that sheds no more than a
    # rate 100x below the lowest one is 'too_low', so the range narrows to where learning happens
    probes = [{"lr": lr, "verdict": "good", "loss_start": 4.2, "loss_end": end}
              for lr, end in ((1e-6, 4.0), (1e-5, 3.99), (1e-4, 3.6), (1e-3, 2.5))]
    reference = {"lr": 1e-8, "loss_start": 4.2, "loss_end": 4.0}
    relative_verdicts(probes, reference)
    assert [p["verdict"] for p in probes] == ["too_low", "too_low", "good", "good"]
    no_reference = [dict(p, verdict="good") for p in probes]
    relative_verdicts(no_reference)
    assert [p["verdict"] for p in no_reference] == ["good", "good", "good", "good"]


def test_lr_range_records_its_reference_run(small_digits):
    f = lr_range(fc_factory([50]), small_digits, lrs=(1e-3, 1e-1), steps=10)
    ref = f.details["reference"]
    assert ref["lr"] == pytest.approx(1e-5) and ref["loss_start"] - ref["loss_end"] < 0.05
