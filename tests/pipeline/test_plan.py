"""Planning a search and the final training to fit a time budget."""

from __future__ import annotations

import pytest

from babysit.pipeline.plan import (
    MAX_FINAL_EPOCHS,
    MAX_TRIALS,
    MIN_TRIALS,
    TRIAL_HEADROOM,
    parallel_speedup,
    plan_search,
    stage_deadlines,
)


def expected_seconds(plan):
    """Seconds the plan takes if the timed epoch was right: the trials expected to fit, and the final training."""
    search = sum(n * e for n, e in zip(plan.expected_trials, plan.stage_epochs)) * plan.epoch_seconds / plan.parallel
    return search + plan.final_epochs * plan.epoch_seconds


@pytest.mark.parametrize("seconds_left, epoch_seconds", [(1500, 1.0), (1500, 4.0), (60, 0.02), (300, 0.5)])
def test_the_plan_fits_the_budget(seconds_left, epoch_seconds):
    plan = plan_search(seconds_left, epoch_seconds)
    assert len(plan.stage_trials) in (2, 3)  # without a trial_gain these budgets fill three stages
    assert all(b == 2 * a for a, b in zip(plan.stage_epochs, plan.stage_epochs[1:]))  # later stages train longer
    assert all(MIN_TRIALS <= n <= MAX_TRIALS for n in plan.stage_trials)
    assert all(x <= n and (n == MAX_TRIALS or n <= TRIAL_HEADROOM * x + 1 or n == MIN_TRIALS)
               for x, n in zip(plan.expected_trials, plan.stage_trials))
    assert 1 <= plan.final_epochs <= MAX_FINAL_EPOCHS
    if min(plan.expected_trials) > MIN_TRIALS:  # not pinned at the floor: the budget is respected
        assert expected_seconds(plan) <= seconds_left * 1.01
    assert sum(plan.stage_seconds) + plan.final_seconds == pytest.approx(seconds_left)


def test_coarse_stages_use_a_few_epochs_and_more_time_buys_trials_epochs_and_a_third_stage():
    tight = plan_search(120, 1.0)
    roomy = plan_search(1500, 1.0)
    assert tight.stage_epochs == (2, 4) and tight.expected_trials == (21, 10) and tight.stage_trials == (63, 30)
    assert roomy.stage_epochs == (5, 10, 20)  # the lecture's coarse 5 epochs, then finer and longer
    assert roomy.stage_trials[-1] >= 8 and sum(roomy.stage_trials) > sum(tight.stage_trials)
    assert roomy.final_epochs == MAX_FINAL_EPOCHS > tight.final_epochs
    assert expected_seconds(roomy) <= 1500


def test_a_budget_the_trial_ceilings_would_leave_unspent_gets_more_stages_up_to_half_the_final_epochs():
    from babysit.pipeline.plan import MAX_STAGES, SPENT_FOR_ANOTHER_STAGE, _spent
    from babysit.search.rungs import Rungs

    gain = Rungs().trial_gain
    # a 6-minute CIFAR-10 fc:50 job (0.38 s epochs, 2 workers) fills its three stages: unchanged
    six = plan_search(330, 0.38, workers=2, cores=2, trial_gain=gain)
    assert six.stage_epochs == (5, 10, 20) and six.expected_trials == (100, 100, 53)
    # the 25-minute one reached 3 x 100 trials in ~5 minutes: two stages more, none past half the final epochs
    roomy = plan_search(1450, 0.38, workers=2, cores=2, trial_gain=gain)
    assert roomy.stage_epochs == (5, 10, 20, 40, 40) and roomy.final_epochs == MAX_FINAL_EPOCHS
    assert max(roomy.stage_epochs) <= roomy.final_epochs // 2 and len(roomy.stage_epochs) <= MAX_STAGES
    assert roomy.stage_trials == (MAX_TRIALS,) * 5 and roomy.expected_trials[-1] < MAX_TRIALS
    assert sum(roomy.stage_seconds) + roomy.final_seconds == pytest.approx(1450)
    # a huge budget stops at MAX_STAGES; one where the trials fill their stages gets no more than three
    assert len(plan_search(10**6, 0.01, workers=2, cores=2, trial_gain=gain).stage_epochs) == MAX_STAGES
    assert plan_search(1500, 1.0).stage_epochs == (5, 10, 20)
    assert _spent([300.0, 150.0, 60.0], (100, 100, 60)) == pytest.approx((1 / 3 + 2 / 3 + 1) / 3)
    assert _spent([300.0, 150.0, 60.0], (100, 100, 60)) > SPENT_FOR_ANOTHER_STAGE


def test_more_workers_buy_more_trials():
    one = plan_search(600, 1.0, workers=1, cores=2)
    two = plan_search(600, 1.0, workers=2, cores=2)
    assert parallel_speedup(2, 2) == 2.0 and parallel_speedup(4, 2) == 2.0 and parallel_speedup(1, 2) == 1.0
    assert sum(two.stage_trials) >= sum(one.stage_trials)


def test_a_budget_already_spent_still_plans_the_minimum():
    plan = plan_search(0, 1.0)
    assert plan.stage_trials == (MIN_TRIALS, MIN_TRIALS) and plan.final_epochs == 1
    assert plan.stage_epochs == (1, 2)


def test_stage_deadlines_add_up():
    plan = plan_search(100, 0.1)
    deadlines = stage_deadlines(1000.0, plan)
    assert deadlines[1] == pytest.approx(1000 + plan.stage_seconds[0])
    assert deadlines[len(deadlines)] == pytest.approx(1000 + sum(plan.stage_seconds))
    assert "stage 1:" in plan.describe() and "final training" in plan.describe()


def test_long_epochs_put_the_coarse_stages_on_a_growing_subset():
    from babysit.pipeline.plan import MIN_SUBSET_FRACTION, SUBSET_TRIALS, epoch_cost

    # a ConvNet on CIFAR-10 here: 23.5 s an epoch of 40,000 images, an 8-minute job on 2 workers
    plan = plan_search(470, 23.5, workers=2, cores=2, train_examples=40_000, check_examples=6_000)
    whole = plan_search(470, 23.5, workers=2, cores=2)
    first = plan.stage_examples[0]
    assert plan.stage_examples[-1] is None and 4_000 <= first < 40_000  # growing to the whole split
    assert plan.stage_epochs == whole.stage_epochs == (1, 2)
    assert whole.expected_trials[0] < SUBSET_TRIALS <= plan.expected_trials[0] + 1  # the subset buys stage 1 its trials
    assert plan.expected_trials[1] == whole.expected_trials[1]  # the last stage is as it was
    assert "on {:,} training examples".format(first) in plan.describe()
    # an epoch's cost: its minibatches shrink with the subset, its accuracy checks do not
    assert epoch_cost(None, 40_000, 6_000) == epoch_cost(40_000, 40_000, 6_000) == 1.0
    assert epoch_cost(10_000, 40_000, 6_000) == pytest.approx(12_000 / 42_000)
    # three stages: the middle one between the two; a tiny budget stops at the floor
    three = plan_search(100, 0.5, train_examples=40_000, check_examples=6_000)
    assert three.stage_examples is None  # short epochs: every stage on the whole split
    tiny = plan_search(10, 23.5, train_examples=40_000, check_examples=6_000)
    assert tiny.stage_examples[0] == MIN_SUBSET_FRACTION * 40_000
    small = plan_search(10, 23.5, train_examples=1_200)
    assert small.stage_examples[0] == 1_000  # never below MIN_SUBSET_EXAMPLES


def test_the_middle_stage_of_three_trains_on_a_subset_between_the_two():
    from babysit.pipeline.plan import stage_subsets

    first, middle, last = stage_subsets(5.0, 3, 40_000, 6_000)
    assert last is None and first < middle < 40_000
    assert middle == pytest.approx((first * 40_000) ** 0.5, abs=1)
    assert stage_subsets(25.0, 3, 40_000, 6_000) == [None] * 3 and stage_subsets(5.0, 2, None) == [None, None]


def test_the_final_training_takes_a_subset_trials_pace_from_the_timed_epoch():
    import dataclasses

    from babysit.pipeline.final_training import final_epoch_seconds
    from babysit.search.records import TrialRecord

    plan = dataclasses.replace(plan_search(470, 23.5, workers=2, cores=2, train_examples=40_000, check_examples=6_000))
    subset = plan.stage_examples[0]

    def trial(examples, seconds=2 * 28.2):
        return TrialRecord(run_id=1, stage=1, index=0, params={}, status="finished", val_acc=0.4, train_acc=0.4,
                           loss=1.0, epochs=2, seconds=seconds, extra={"train_examples": examples})

    # a whole-split trial that trained 1.2x slower than the timed epoch: the machine got busier, the final will too
    assert final_epoch_seconds(trial(40_000), plan) == pytest.approx(23.5 * 1.2)
    assert final_epoch_seconds(trial(subset), plan) == 23.5  # a subset's epochs are shorter: the timed epoch
    assert final_epoch_seconds(trial(40_000, seconds=None), plan) == 23.5  # no time recorded: the timed epoch
    assert final_epoch_seconds(trial(40_000, seconds=2 * 0.1), plan) == pytest.approx(23.5 * 0.5)  # drift bounded


def test_the_final_training_is_planned_at_the_epoch_timed_alone_where_there_is_one():
    """fc:50 on CIFAR-10 (AMD VM, 2026-12-08): 0.75 s an epoch side by side in the workers, 0.47-0.59 s alone; at the
    side-by-side pace a 6-minute job kept 90 s for a final that took 43 s and ended 52 s early."""
    from babysit.pipeline.final_training import final_epoch_seconds
    from babysit.pipeline.plan import FINAL_PACE_MARGIN
    from babysit.search.records import TrialRecord

    side_by_side = plan_search(340, 0.75, workers=2, cores=2)
    alone = plan_search(340, 0.75, workers=2, cores=2, final_epoch_seconds=0.5)
    assert side_by_side.final_epochs == alone.final_epochs == MAX_FINAL_EPOCHS
    assert side_by_side.final_seconds == pytest.approx(MAX_FINAL_EPOCHS * FINAL_PACE_MARGIN * 0.75)
    assert alone.final_seconds == pytest.approx(MAX_FINAL_EPOCHS * FINAL_PACE_MARGIN * 0.5)
    assert sum(alone.stage_seconds) == pytest.approx(340 - alone.final_seconds)  # the time saved goes to the search
    assert sum(alone.stage_seconds) > sum(side_by_side.stage_seconds) + 19
    assert alone.final_pace() == 0.5 and side_by_side.final_pace() == 0.75
    assert "0.50 s alone" in alone.describe() and "alone" not in side_by_side.describe()
    # the final's epochs are counted at the alone pace, times the best trial's drift from the timed epoch
    best = TrialRecord(run_id=1, stage=3, index=0, params={}, status="finished", val_acc=0.5, train_acc=0.6,
                       loss=1.0, epochs=20, seconds=20 * 0.9, extra={"train_examples": 40_000})
    assert final_epoch_seconds(best, alone) == pytest.approx(0.5 * 0.9 / 0.75)
    assert final_epoch_seconds(best, side_by_side) == pytest.approx(0.9)


def test_the_smallest_search_trains_on_the_smallest_subset_where_epochs_are_long():
    from babysit.pipeline.plan import epoch_cost, smallest_search_seconds

    assert smallest_search_seconds(8, 46.0) == 8 * 46.0  # no split sizes: the whole split
    assert smallest_search_seconds(8, 46.0, 40_000, 6_000) == pytest.approx(8 * 46.0 * epoch_cost(4_000, 40_000, 6_000))
    assert smallest_search_seconds(8, 46.0, 40_000, 6_000) < 0.2 * 8 * 46.0


def test_the_epoch_is_timed_with_a_workers_threads_and_the_process_keeps_its_own():
    from threadpoolctl import threadpool_info

    from babysit.pipeline.plan import time_one_epoch
    from babysit.search.trial import DataRef, prepared, trial_config

    before = [d["num_threads"] for d in threadpool_info()]
    ref = DataRef("digits")
    seconds = time_one_epoch(trial_config(ref, "fc:16", {"lr": 1e-2}, 1, 0), prepared(ref), threads=1)
    assert seconds > 0 and [d["num_threads"] for d in threadpool_info()] == before


def test_each_stage_in_trial_epochs_at_the_slow_side_of_the_pace():
    from babysit.pipeline.plan import TRIAL_PACE_MARGIN, epoch_cost

    plan = plan_search(470, 23.5, workers=2, cores=2, train_examples=40_000, check_examples=6_000)
    assert plan.stage_examples[0] is not None  # stage 1 on a subset: its epochs are shorter
    for seconds, examples, times in zip(plan.stage_seconds, plan.stage_examples, plan.stage_epoch_times()):
        assert times == pytest.approx(seconds / (TRIAL_PACE_MARGIN * 23.5 * epoch_cost(examples, 40_000, 6_000)))
    assert plan.stage_epoch_times()[0] > plan.stage_epoch_times()[-1]


def test_an_epoch_is_timed_with_the_monitors_of_the_run_it_stands_for(monkeypatch):
    """The final samples its monitors every 10 iterations: a quarter of a ConvNet's epoch on CIFAR-10 (AMD VM,
    2026-12-08); timed without them, a 25-minute ConvNet job planned 30 final epochs and its Deadline cut it at 20."""
    import babysit.doctor
    import babysit.pipeline.training
    from babysit.pipeline.plan import time_one_epoch
    from babysit.search.trial import DataRef, prepared, trial_config

    made = []

    class Counting(babysit.doctor.TrainingMonitor):
        def __init__(self, every):
            super().__init__(every=every)
            made.append(self)

    monkeypatch.setattr(babysit.pipeline.training, "TrainingMonitor", Counting)
    ref = DataRef("digits")
    config = trial_config(ref, "fc:8", {"lr": 1e-2, "reg": 1e-4}, 1, 0)
    assert time_one_epoch(config, prepared(ref)) > 0 and made == []  # none asked: none sampled
    assert time_one_epoch(config, prepared(ref), monitor_every=5) > 0
    assert len(made) == 1 and made[0].every == 5 and len(made[0].history["update_ratio"]["iteration"]) >= 2  # sampled during the timed epoch
