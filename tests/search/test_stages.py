"""Coarse to fine: the next stage narrows to the best trials; a best value at an edge warns and extends."""

from __future__ import annotations

import math

import pytest

from babysit.search import LogUniform, SearchSpace, Uniform
from babysit.search.records import TrialRecord, ranked
from babysit.search.stages import describe, describe_space, format_value, next_stage_space, top_trials

SPACE = SearchSpace({"lr": LogUniform(1e-6, 1e-3), "reg": LogUniform(1e-5, 1e5)})


def rec(index, lr, reg, val_acc, status="finished", stage=1):
    return TrialRecord(run_id=index + 1, stage=stage, index=index, params={"lr": lr, "reg": reg}, status=status,
                       val_acc=val_acc if status in ("finished", "stopped") else None)


def decades(space):
    return math.log10(space.high / space.low)


def centre(space):
    return (math.log10(space.low) + math.log10(space.high)) / 2


def test_the_next_stage_spans_the_best_trials_with_a_margin():
    records = [rec(0, 1e-4, 1e-2, 0.48), rec(1, 2e-4, 1e-1, 0.47), rec(2, 5e-5, 1e-3, 0.46),  # the best three
               rec(3, 1e-6, 1e4, 0.10), rec(4, 3e-6, 1e3, 0.12), rec(5, 5e-6, 1e-4, 0.20)]
    nxt, warnings = next_stage_space(SPACE, records, stage=1)
    assert warnings == []
    # span of the best three (5e-5 .. 2e-4) plus 10% of the current width (0.3 decades for lr) each side
    assert nxt["lr"].low == pytest.approx(5e-5 / 10**0.3) and nxt["lr"].high == pytest.approx(2e-4 * 10**0.3)
    assert nxt["reg"].low == pytest.approx(1e-3 / 10**1.0) and nxt["reg"].high == pytest.approx(1e-1 * 10**1.0)
    assert decades(nxt["lr"]) < decades(SPACE["lr"]) and decades(nxt["reg"]) < decades(SPACE["reg"])
    # centred on the best trials: the best lr lies in the middle third of the new range (in log space)
    assert abs(math.log10(1e-4) - centre(nxt["lr"])) < decades(nxt["lr"]) / 6


def test_exploded_and_failed_trials_never_shape_the_next_stage():
    records = [rec(0, 1e-4, 1.0, 0.4), rec(1, 2e-4, 1.0, 0.41), rec(2, 3e-4, 1.0, 0.39),
               rec(3, 9e-4, 1e4, None, status="exploded"), rec(4, 1e-6, 1e-5, None, status="failed")]
    assert [r.index for r in top_trials(records)] == [1, 0, 2]
    nxt, _ = next_stage_space(SPACE, records, stage=1)
    assert nxt["lr"].high < 9e-4 and nxt["reg"].high < 1e4


def test_a_best_value_at_the_high_edge_warns_and_the_next_stage_extends_past_it():
    # the lecture's worrying result: the best lr (9.47e-4) at the top of 1e-4 .. 1e-3
    space = SearchSpace({"lr": LogUniform(1e-4, 1e-3), "reg": LogUniform(1e-4, 1.0)})
    records = [rec(0, 9.471549e-04, 1.433895e-03, 0.531), rec(1, 5.808183e-04, 8.259964e-02, 0.530),
               rec(2, 5.340517e-04, 4.097824e-01, 0.527), rec(3, 1.1e-4, 1e-2, 0.46)]
    nxt, warnings = next_stage_space(space, records, stage=2)
    assert [(w.name, w.edge) for w in warnings] == [("lr", "high")]
    assert nxt["lr"].high > 1e-3 * 10**0.49  # past the old edge by at least half a decade
    assert nxt["lr"].low == pytest.approx(5.340517e-04 / 10**0.1)  # still narrowed on the other side
    text = warnings[0].message()
    assert "lr: the best trial of stage 2 (val_acc 0.531000, lr 9.471549e-04) sits at the high edge" in text
    assert "this best result is worrying, better values may lie above it" in text
    assert f"stage 3 extends lr to {describe_space(nxt['lr'])}" in text


def test_a_best_value_at_the_low_edge_extends_downwards():
    records = [rec(0, 1.1e-6, 1.0, 0.3), rec(1, 2e-6, 10.0, 0.25), rec(2, 5e-6, 0.1, 0.2)]
    nxt, warnings = next_stage_space(SPACE, records, stage=1)
    assert [(w.name, w.edge) for w in warnings] == [("lr", "low")]
    assert nxt["lr"].low < 1e-6 / 10**0.49 and nxt["lr"].high < 1e-3


def test_after_the_last_stage_the_warning_says_what_to_search_next():
    records = [rec(0, 9.9e-4, 1.0, 0.5), rec(1, 1e-5, 1.0, 0.3), rec(2, 1e-6, 1.0, 0.1)]
    nxt, warnings = next_stage_space(SPACE, records, stage=2, last=True)
    assert nxt is SPACE
    assert warnings[0].extended is None
    assert warnings[0].message().endswith("search again with --lr 1e-06:0.0316:log")


def test_a_hard_limit_is_no_edge_to_extend():
    # dropout 0 is a hard limit: a best dropout of 0.01 in 0 .. 0.5 gives no warning for it
    space = SearchSpace({"lr": LogUniform(1e-4, 1e-2), "dropout": Uniform(0.0, 0.5)})
    records = [TrialRecord(i + 1, 1, i, {"lr": lr, "dropout": d}, "finished", val_acc=acc)
               for i, (lr, d, acc) in enumerate([(1e-3, 0.01, 0.5), (2e-3, 0.2, 0.4), (5e-4, 0.3, 0.3)])]
    nxt, warnings = next_stage_space(space, records, stage=1)
    assert warnings == []
    assert nxt["dropout"].low == 0.0 and nxt["dropout"].high == pytest.approx(0.3 + 0.05)


def test_no_finished_trial_keeps_the_space():
    records = [rec(0, 1e-3, 1.0, None, status="exploded"), rec(1, 1e-4, 1.0, None, status="failed")]
    assert next_stage_space(SPACE, records, stage=1) == (SPACE, [])


def test_ranking_and_formats():
    records = [rec(0, 1e-4, 1.0, 0.5), rec(1, 1e-4, 1.0, 0.5, stage=2), rec(2, 1e-4, 1.0, 0.6)]
    assert [(r.stage, r.index) for r in ranked(records)] == [(1, 2), (1, 0), (2, 1)]
    assert format_value(1.405206e-04) == "1.405206e-04" and format_value(100) == "100"
    assert describe(SPACE) == "lr 1.00e-06 .. 1.00e-03 (log), reg 1.00e-05 .. 1.00e+05 (log)"


def test_a_stage_all_at_chance_says_so_with_the_cause_instead_of_an_edge_warning():
    # issue 10: the README's lecture ranges on standardized data + He init: 5-14% in every trial, and an edge
    # warning pointing lower ("search again with --lr 7.34e-07:9.36e-05:log")
    records = [rec(i, lr, 1.0, acc) for i, (lr, acc) in
               enumerate([(1.2e-6, 0.14), (3e-5, 0.11), (2e-4, 0.08), (8e-4, 0.05), (5e-6, 0.1)])]
    nxt, warnings = next_stage_space(SPACE, records, stage=1, chance=0.1)
    assert nxt is SPACE and len(warnings) == 1
    w = warnings[0]
    assert w.cause == "lr_too_low" and "learned nothing" in w.message() and "higher rates" in w.message()
    assert not hasattr(w, "edge")
    # most trials exploded: the range is too high
    boom = [rec(i, 1e-2, 1.0, None, status="exploded") for i in range(3)] + [rec(3, 1e-3, 1.0, 0.1)]
    (w2,) = next_stage_space(SearchSpace({"lr": LogUniform(1e-3, 1e1)}), boom, stage=1, chance=0.1)[1]
    assert w2.cause == "lr_too_high" and "lower rates" in w2.message()


def test_trials_stopped_at_their_rung_are_evidence_of_learning_not_a_stage_that_learned_nothing():
    # a ConvNet stage cut by its deadline at the rungs (2026-12-02, 8-minute job): no trial finished, every one
    # stopped at rung 1 at 0.49-0.56 against chance 0.1; it was told "the learning rates searched are too low"
    cut = [rec(i, lr, 1e-3, acc, status="stopped") for i, (lr, acc) in enumerate([(5.6e-4, 0.49), (2e-3, 0.56)])]
    space = SearchSpace({"lr": LogUniform(4.9e-4, 3e-3), "reg": LogUniform(1e-5, 1e-1)})
    nxt, warnings = next_stage_space(space, cut, stage=2, chance=0.1)
    assert nxt is space and warnings == []
    # stopped at chance, nothing finished: that is still a stage that learned nothing
    (w,) = next_stage_space(space, [rec(0, 5e-4, 1e-3, 0.1, status="stopped")], stage=2, chance=0.1)[1]
    assert w.cause == "lr_too_low" and w.best_val_acc == 0.1


def test_an_edge_warning_needs_a_best_trial_clearly_above_chance_and_the_typical_trial():
    at_edge_but_chance = [rec(0, 9.9e-4, 1.0, 0.17), rec(1, 1e-5, 1.0, 0.12), rec(2, 1e-6, 1.0, 0.1)]
    _, warnings = next_stage_space(SPACE, at_edge_but_chance, stage=1, chance=0.1)
    assert all(not hasattr(w, "edge") for w in warnings)  # at chance: NothingLearned, no edge
    learned = [rec(0, 9.9e-4, 1.0, 0.6), rec(1, 1e-5, 1.0, 0.3), rec(2, 1e-6, 1.0, 0.1)]
    _, warnings = next_stage_space(SPACE, learned, stage=1, chance=0.1)
    assert [(w.name, w.edge) for w in warnings] == [("lr", "high")]
    ties = [rec(0, 9.9e-4, 1.0, 0.5), rec(1, 1e-5, 1.0, 0.5), rec(2, 1e-6, 1.0, 0.5)]
    assert next_stage_space(SPACE, ties, stage=1, chance=0.1)[1] == []  # no better than the rest: no edge
