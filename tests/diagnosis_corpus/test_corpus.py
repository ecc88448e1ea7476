"""The diagnosis corpus as tests: the fast subset in the default run, the whole corpus (with the
fitted/held-out figures of docs/diagnoses.md) marked slow."""

from __future__ import annotations

import pytest

from babysit.doctor.causes import CAUSES

from .corpus import fit_thresholds, repeats_setting, run_scenario, score
from .scenarios import SCENARIOS

FAST = [s for s in SCENARIOS if s.fast]


def test_the_corpus_covers_every_cause_with_several_variations_and_both_splits():
    causes = {s.cause for s in SCENARIOS}
    assert causes <= set(CAUSES)
    assert len(SCENARIOS) >= 30
    for cause in causes - {"saturated_units"}:
        own = [s for s in SCENARIOS if s.cause == cause]
        assert len(own) >= 3, cause
        assert {s.split for s in own} == {"fit", "held_out"}, cause
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("scenario", FAST, ids=[s.name for s in FAST])
def test_fast_scenario_gets_its_cause_and_advice_that_changes_something(scenario):
    out = run_scenario(scenario)
    d = out.diagnosis
    assert d.cause == scenario.cause, f"{scenario.name}: {d.explanation}"
    assert 0.0 < d.confidence <= 1.0 and d.evidence
    assert not repeats_setting(d, out.settings), d.advice
    if scenario.cause == "lr_too_high":
        assert "epochs" not in d.advice  # an exploded run is never told to train longer
    if scenario.cause == "healthy":
        assert d.advice == "" and d.status == "pass"


@pytest.mark.slow
def test_the_whole_corpus_meets_the_targets_on_the_held_out_split():
    outcomes = [run_scenario(s) for s in SCENARIOS]
    fit = [o for o in outcomes if o.scenario.split == "fit"]
    held = [o for o in outcomes if o.scenario.split == "held_out"]
    fitted = fit_thresholds(fit)
    figures = score(held, fitted)
    assert figures["false_alarms"] == 0 and figures["repeated_advice"] == 0
    assert figures["accuracy"] >= 0.9, figures
