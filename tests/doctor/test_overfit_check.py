import pytest

from babysit.doctor import overfit_small
from babysit.doctor.advice import in_words

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
    assert "`init=" in f.advice and "--init" in in_words(f.advice, {"init": "--init"})
    assert len(f.details["attempts"]) >= 2  # it tried more than one learning rate before giving up


def test_overfit_small_backs_off_when_the_loss_explodes(small_digits):
    f = overfit_small(fc_factory([50]), small_digits, lr=1e3)
    statuses = [a["status"] for a in f.details["attempts"]]
    assert statuses[0] in ("exploded", "diverged")
    assert f.details["attempts"][1]["lr"] == pytest.approx(1e2)
    assert f.status == "pass"  # it found a rate that works further down
