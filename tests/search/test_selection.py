"""The one-standard-error rule: the most regularized trial the validation split cannot tell from the best."""

from __future__ import annotations

import math

import pytest

from babysit.search.records import TrialRecord
from babysit.search.selection import Selection, accuracy_standard_error, one_standard_error

N_VAL = 5000
SE = math.sqrt(0.52 * 0.48 / N_VAL)  # 0.00707: the standard error of the best's val_acc below


def trial(index, val, reg, *, stage=3, epochs=20.0, status="finished", train_examples=None, val_examples=N_VAL,
          **params):
    extra = {"val_examples": val_examples} if val_examples else {}
    if train_examples is not None:
        extra["train_examples"] = train_examples
    return TrialRecord(run_id=100 + index, stage=stage, index=index, params={"lr": 1e-2, "reg": reg, **params},
                       status=status, val_acc=val, epochs=epochs, extra=extra)


def test_the_standard_error_is_the_binomial_one():
    assert accuracy_standard_error(0.52, 5000) == pytest.approx(0.0070654, rel=1e-4)
    assert accuracy_standard_error(0.5, 100) == pytest.approx(0.05)
    assert accuracy_standard_error(1.0, 100) == 0.0 and accuracy_standard_error(1.2, 100) == 0.0


def test_the_most_regularized_trial_within_one_standard_error_is_taken():
    best = trial(0, 0.52, 5e-3)
    records = [best, trial(1, 0.52 - 0.99 * SE, 1.1e-2), trial(2, 0.515, 8e-3), trial(3, 0.52 - 1.01 * SE, 5e-2),
               trial(4, 0.50, 1.0)]
    selection = one_standard_error(best, records)
    assert selection.record is records[1] and selection.best is best and selection.changed
    assert selection.standard_error == pytest.approx(SE) and selection.tied == 3  # trials 0, 1 and 2
    text = selection.describe()
    assert "3 trials of stage 3 lie within one standard error (0.0071)" in text and "run 101" in text
    assert selection.summary() == {"rule": "one standard error", "best_run": 100, "best_val_acc": 0.52,
                                   "taken_run": 101, "standard_error": pytest.approx(SE), "tied": 3}


def test_a_trial_exactly_one_standard_error_below_counts():
    best = trial(0, 0.52, 1e-3)
    edge = trial(1, 0.52 - SE, 1e-1)
    assert one_standard_error(best, [best, edge]).record is edge


def test_the_best_is_kept_when_it_is_the_most_regularized_or_alone():
    best = trial(0, 0.52, 2e-2)
    selection = one_standard_error(best, [best, trial(1, 0.519, 1e-3), trial(2, 0.40, 5.0)])
    assert selection.record is best and not selection.changed and selection.tied == 2
    assert "it is also the most regularized of them and is kept" in selection.describe()
    alone = one_standard_error(best, [best, trial(1, 0.50, 1.0)])
    assert alone.record is best and alone.tied == 1
    assert alone.describe() == ("no other trial of stage 3 lies within one standard error (0.0071) of the best "
                                "val_acc 0.520000 (run 100, reg 0.02): it is kept")


def test_only_trials_comparable_with_the_best_count():
    best = trial(0, 0.52, 1e-3, train_examples=None)
    others = [
        trial(1, 0.521, 1.0, stage=2),  # another stage (fewer epochs)
        trial(2, 0.521, 1.0, epochs=10.0),  # the same stage cut short: not the same training
        trial(3, 0.521, 1.0, status="stopped"),  # stopped at a rung
        trial(4, 0.521, 1.0, status="exploded"),
        trial(5, 0.521, 1.0, train_examples=20000),  # a subset of the training split
        trial(6, float("nan"), 1.0),
        trial(7, 0.521, "high"),  # not a number
        trial(8, 0.521, float("inf")),
        trial(9, 0.521, True),
    ]
    selection = one_standard_error(best, [best, *others])
    assert selection.record is best and selection.tied == 1


def test_the_rule_does_not_apply_without_what_it_needs():
    assert one_standard_error(None, []) is None
    # no recorded validation size, no reg, a best stopped at a rung: the best itself, no standard error
    for best in (trial(0, 0.52, 1e-3, val_examples=None), TrialRecord(1, 3, 0, {"lr": 1e-2}, "finished", 0.52,
                 epochs=20.0, extra={"val_examples": N_VAL}), trial(0, 0.52, 1e-3, status="stopped")):
        selection = one_standard_error(best, [best, trial(5, 0.519, 1.0)])
        assert selection == Selection(best, best) and selection.standard_error is None and not selection.changed
        assert selection.describe().startswith("the best trial (run ")
        assert selection.summary()["rule"] == "best"


def test_ties_on_reg_go_to_the_higher_accuracy_then_the_earlier_trial():
    best = trial(0, 0.52, 1e-3)
    a, b, c = trial(1, 0.517, 1e-2), trial(2, 0.518, 1e-2), trial(3, 0.518, 1e-2)
    assert one_standard_error(best, [best, a, b, c]).record is b
