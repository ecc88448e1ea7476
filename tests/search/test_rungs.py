"""Rungs: successive halving inside a stage. Promotions, stopped trials in the store, the same results
in any order of arrival and with any number of workers, resume."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from babysit.search import SearchSpace
from babysit.search.driver import SearchSpec, run_search
from babysit.search.executors import WAIT, InlineExecutor, ProcessExecutor
from babysit.search.rungs import Rungs
from babysit.search.trial import DataRef, TrialTask, run_trial, trial_seed
from babysit.store import RunStore

DIGITS = DataRef("digits")
SPACE = SearchSpace.parse({"lr": "1e-5:3e-1:log", "reg": "1e-5:1e1:log"})
RUNGS = Rungs(eta=3, bracket=6, fraction=0.34)  # stage 1 (3 epochs): rung at epoch 1


def spec(trials=(8, 3), epochs=(3, 1), rungs=RUNGS, seed=0):
    return SearchSpec(DIGITS, "fc:16", SPACE, tuple(trials), tuple(epochs), seed, "random", rungs)


def search(path, s, executor=None, **kwargs):
    with RunStore(path / "runs.sqlite") as store:
        return run_search(s, store, executor or InlineExecutor(), **kwargs)


def key(outcome):
    return [(r.stage, r.index, r.status, r.val_acc, r.epochs) for r in outcome.records]


class Shuffled(InlineExecutor):
    """Runs up to ``slots`` tasks 'at once' (one after another here) and hands back their results in a
    random order: what the arrival order of several workers may look like."""

    def __init__(self, slots: int, seed: int):
        self.slots, self.rng = slots, random.Random(seed)

    def run(self, fn, tasks, may_launch=lambda: True):
        tasks, exhausted = iter(tasks), False
        while True:
            batch = []
            while not exhausted and len(batch) < self.slots and may_launch():
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                elif task is WAIT:
                    break
                else:
                    batch.append((task, fn(task)))
            if not batch:
                return
            self.rng.shuffle(batch)
            yield from batch


def test_rung_arithmetic_and_promotions():
    r = Rungs(eta=3, bracket=9, fraction=0.2)
    assert [r.rung_epochs(e) for e in (1, 2, 5, 10, 20)] == [None, 1, 1, 2, 4]
    assert [r.bracket_of(i) for i in (0, 8, 9, 17, 18)] == [0, 0, 1, 1, 2]
    results = {0: 0.3, 1: None, 2: 0.5, 3: 0.5, 4: float("nan"), 5: 0.1, 6: 0.2}
    assert r.promoted(results) == {2, 3, 0}  # ceil(7 / 3) = 3: ties go to the lower index
    assert r.promoted({9: None}) == set()
    assert Rungs.from_json(r.to_json()) == r and Rungs.from_json(None) is None
    # a promoted trial goes on from its rung: a bracket costs b * rung + (b / eta) * (E - rung) epochs
    assert r.trial_gain(1) == 1.0 and r.trial_gain(10) == pytest.approx(10 / (2 + 8 / 3))
    assert r.trial_gain(5) == pytest.approx(15 / 7) and r.trial_gain(2) == pytest.approx(1.5)


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(eta=1), "eta"), (dict(eta=3, bracket=2), "bracket"), (dict(fraction=1.0), "fraction"),
    (dict(fraction=0.0), "fraction"),
])
def test_bad_rungs(config_error, kwargs, parameter):
    with config_error("Rungs", parameter):
        Rungs(**kwargs)


def test_a_stage_stops_its_clearly_lost_trials_at_the_rung(tmp_path):
    outcome = search(tmp_path, spec())
    first, second = outcome.stages
    # stage 1: brackets {0..5} and {6, 7}: 2 + 1 promoted trials ran 3 epochs, the rest stopped after 1
    by_status = {}
    for r in first.records:
        by_status.setdefault(r.status, []).append(r)
    promoted = [r for r in first.records if r.status != "stopped" and r.extra.get("rung") == 1]
    stopped = by_status["stopped"]
    assert len(promoted) + sum(r.extra.get("rung") is None for r in first.records if r.status != "stopped") == 8 - len(stopped)
    assert len(stopped) == 8 - 3 - sum(r.status in ("exploded", "diverged") and r.epochs < 1 for r in first.records)
    for r in stopped:
        assert r.epochs == 1 and r.extra["rung_epochs"] == 1 and "stopped at rung 1 (epoch 1 of 3)" in r.stop_reason
    for bracket in ([0, 1, 2, 3, 4, 5], [6, 7]):
        members = [r for r in first.records if r.index in bracket]
        went_on = [r for r in members if r.status == "finished"]
        lost = [r for r in members if r.status == "stopped"]
        assert all(w.epochs == 3 for w in went_on)
        # every promoted trial was at least as good at the rung as every stopped one
        if went_on and lost:
            assert min(w.extra["rung_val_acc"] for w in went_on) >= max(s.val_acc for s in lost)
    # stage 2 (1 epoch) is too short for a rung: every trial runs in full
    assert all(r.status != "stopped" and "rung" not in r.extra for r in second.records)
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        runs = {r["id"]: r for r in store.runs()}
        assert len(runs) == 11  # one run per trial: a promoted trial's full run finishes its rung's run
        for r in stopped:
            run = runs[r.run_id]
            assert run["status"] == "stopped" and run["extra"]["rung"] == 1
            steps, values = store.metric_series(r.run_id, "val_acc")
            assert list(steps) == [1] and values[0] == r.val_acc  # its curve up to the rung


def test_the_same_results_in_any_order_of_arrival(tmp_path):
    s = spec()
    reference = key(search(tmp_path / "inline", s))
    for seed in range(3):
        assert key(search(tmp_path / f"shuffled{seed}", s, Shuffled(slots=3, seed=seed))) == reference


def test_the_same_results_with_two_worker_processes(tmp_path):
    s = spec(trials=(6, 2), epochs=(3, 1))
    inline = search(tmp_path / "a", s)
    with ProcessExecutor(2, threads=1) as executor:
        spawned = search(tmp_path / "b", s, executor)
    assert key(spawned) == key(inline)
    assert any(r.status == "stopped" for r in inline.records)


def test_an_interrupted_search_with_rungs_resumes_to_the_same_results(tmp_path):
    s = spec()
    calls = []

    def dies_after_five(task):
        calls.append(task.index)
        if len(calls) > 5:
            raise KeyboardInterrupt  # the driver is killed in the middle of stage 1
        return run_trial(task)

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, s, trial_fn=dies_after_five)
    resumed = search(tmp_path, s)
    assert key(resumed) == key(search(tmp_path / "fresh", s))


def test_a_deadline_between_the_phases_of_a_bracket_records_its_trials_stopped(tmp_path):
    s = spec(trials=(6,), epochs=(3,))
    launches = iter([True] * 6)  # the six rung runs, then the time is up
    outcome = search(tmp_path, s, deadlines=None, executor=_Budgeted(lambda: next(launches, False)))
    assert len(outcome.records) == 6 and all(r.status in ("stopped", "exploded", "diverged") for r in outcome.records)
    assert any("the stage's time ran out" in (r.stop_reason or "") for r in outcome.records)


class _Budgeted(InlineExecutor):
    def __init__(self, budget):
        self.budget = budget

    def run(self, fn, tasks, may_launch=lambda: True):
        return super().run(fn, tasks, self.budget)


def test_babysit_runs_says_how_many_were_stopped_and_where(tmp_path):
    from babysit.search.tally import stopped_note

    outcome = search(tmp_path, spec(trials=(6,), epochs=(3,)))
    stopped = sum(r.status == "stopped" for r in outcome.records)
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        note = stopped_note(store.runs())
        for r in outcome.records:
            if r.status == "stopped":  # its curve up to the rung is stored with it
                steps, values = store.metric_series(r.run_id, "val_acc")
                assert list(steps) == [1] and list(values) == [r.val_acc]
                assert len(store.metric_series(r.run_id, "loss")[0]) > 0
    assert stopped >= 3
    assert note == (f"{stopped} trial(s) stopped early at a rung of their stage: {stopped} in stage 1 of 'search' "
                    "at rung 1 (epoch 1). Their rows show the rung's result.")
    assert stopped_note([]) is None


def test_the_plan_gives_a_stage_with_rungs_more_trials():
    from babysit.pipeline.plan import MAX_TRIALS, plan_search

    plain = plan_search(600, 1.0)
    rungs = plan_search(600, 1.0, trial_gain=Rungs().trial_gain)
    assert rungs.stage_epochs == plain.stage_epochs
    assert all(e >= 2 for e in plain.stage_epochs)  # every stage has a rung at this budget
    for a, b in zip(plain.stage_trials, rungs.stage_trials):
        assert b > a or b == a == MAX_TRIALS
    for a, b in zip(plain.expected_trials, rungs.expected_trials):
        assert b > a


def _promoted(outcome):
    return [r for r in outcome.records if r.status == "finished" and r.extra.get("rung") == 1]


def test_a_promoted_trial_continues_from_its_rung_to_the_uncut_runs_result(tmp_path):
    s = spec(trials=(6,), epochs=(3,))
    outcome = search(tmp_path, s)
    promoted = _promoted(outcome)
    assert promoted
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        for r in promoted:
            assert r.extra["resumed_at_epoch"] == 1 and "resume_note" not in r.extra
            # the same as the trial trained in one go, 3 epochs from epoch 0
            uncut = run_trial(TrialTask(DIGITS, "fc:16", r.params, 3, trial_seed(0, 1, r.index), 1, r.index))
            assert r.val_acc == uncut.metrics["val_acc"] and r.epochs == 3
            for name in ("loss", "val_acc", "lr"):  # its record holds the whole curve, rung epochs included
                steps, values = store.metric_series(r.run_id, name)
                assert (list(steps), list(values)) == (list(uncut.series[name][0]), list(uncut.series[name][1])), name
            steps, _ = store.metric_series(r.run_id, "update_ratio:W1")  # the monitors' too, from iteration 1 on
            assert list(steps) == list(uncut.series["update_ratio:W1"][0])
    # the states were removed once the trials were decided
    assert not (tmp_path / "runs.states").exists()


def test_a_missing_or_unreadable_rung_state_trains_again_from_epoch_0(tmp_path):
    s = spec(trials=(6,), epochs=(3,))
    reference = key(search(tmp_path / "ref", s))

    def spoils_the_states(task):
        if task.resume_state is not None:
            path = Path(task.resume_state)
            if task.index % 2:
                path.write_bytes(b"not a training state")
            else:
                path.unlink()
        return run_trial(task)

    outcome = search(tmp_path / "spoilt", s, trial_fn=spoils_the_states)
    assert key(outcome) == reference
    promoted = _promoted(outcome)
    assert promoted
    for r in promoted:
        assert "resumed_at_epoch" not in r.extra
        assert r.extra["resume_note"].startswith("could not continue from the rung's training state (")
        assert r.extra["resume_note"].endswith("; trained from epoch 0 instead")
    assert not (tmp_path / "spoilt" / "runs.states").exists()


def test_stopped_and_exploded_trials_leave_no_state_behind(tmp_path):
    seen = []

    def watches(task):
        record = run_trial(task)
        if task.save_state is not None:
            seen.append((task.index, Path(task.save_state).exists(), record.status))
        return record

    states = tmp_path / "states"
    search(tmp_path, spec(trials=(6,), epochs=(3,)), trial_fn=watches, state_dir=states)
    assert any(saved for _, saved, status in seen if status == "finished")  # each rung run that got there saved
    assert all(saved == (status == "finished") for _, saved, status in seen)
    assert not states.exists()


def test_the_coarse_stages_train_on_their_subset_and_the_last_on_the_whole_split(tmp_path):
    from babysit.search.tally import subset_note
    from babysit.search.trial import prepared

    whole = len(prepared(DIGITS)[0].y_train)
    s = SearchSpec(DIGITS, "fc:16", SPACE, (6, 3), (3, 1), 0, "random", RUNGS, stage_examples=(400, None))
    outcome = search(tmp_path, s)
    first, second = outcome.stages
    assert first.train_examples == 400 and second.train_examples is None
    assert {r.extra["train_examples"] for r in first.records if r.status != "failed"} == {400}
    assert {r.extra["train_examples"] for r in second.records} == {whole}
    assert any(r.extra.get("resumed_at_epoch") == 1 for r in first.records)  # a subset's state hands on too
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        note = subset_note(store.runs())
    assert note == ("Trained on a stratified subset of the training split (the coarse stages of a search whose "
                    f"epochs are long): stage 1 of 'search' on 400 of {whole:,} examples.")
    assert subset_note([]) is None


def test_a_stage_of_fewer_trials_than_a_bracket_runs_them_all_in_full(tmp_path):
    outcome = search(tmp_path, spec(trials=(4,), epochs=(3,)))  # bracket 6
    assert all(r.status != "stopped" and "rung" not in r.extra for r in outcome.records)
    assert {r.epochs for r in outcome.records if r.status == "finished"} == {3}


def test_a_promoted_trial_killed_mid_continuation_resumes_from_its_last_epoch_to_the_uncut_result(tmp_path,
                                                                                                  monkeypatch):
    from babysit.search import driver
    from babysit.train.training_state import training_state_info

    monkeypatch.setattr(driver, "CONTINUATION_SAVE_SECONDS", 0.0)  # save after every epoch (digits' are ms long)
    s = spec(trials=(6,), epochs=(4,))  # rung at epoch 1; a continuation saves after epochs 2 and 3
    reference = search(tmp_path / "fresh", s)
    killed = {}

    def dies_after_a_continuation(task):
        record = run_trial(task)
        if task.stop_after is None and not killed:  # the first continuation ran; the driver dies before recording it
            killed["index"], killed["state"] = task.index, training_state_info(task.save_state)["epoch"]
            raise KeyboardInterrupt
        return record

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, s, trial_fn=dies_after_a_continuation)
    assert killed["state"] == 3  # its state after its last epoch but one
    launched = []

    def watches(task):
        launched.append(task)
        return run_trial(task)

    resumed = search(tmp_path, s, trial_fn=watches)
    assert key(resumed) == key(reference)
    assert all(t.stop_after is None for t in launched)  # no rung ran again: the bracket had been decided
    again = next(r for r in resumed.records if r.index == killed["index"])
    assert again.extra["resumed_at_epoch"] == 3 and "resume_note" not in again.extra
    uncut = run_trial(TrialTask(DIGITS, "fc:16", again.params, 4, trial_seed(0, 1, again.index), 1, again.index))
    assert (again.val_acc, again.loss, again.train_acc) == (uncut.metrics["val_acc"], uncut.metrics["loss"],
                                                            uncut.metrics["train_acc"])
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        steps, values = store.metric_series(again.run_id, "val_acc")  # the whole curve, from epoch 1
        assert (list(steps), list(values)) == (list(uncut.series["val_acc"][0]), list(uncut.series["val_acc"][1]))
    assert not (tmp_path / "runs.states").exists()  # every state went once its trial was decided


def test_a_resumed_bracket_whose_rung_results_are_incomplete_trains_its_rungs_again(tmp_path):
    s = spec(trials=(6,), epochs=(4,))
    calls = []

    def dies_at_the_fourth_rung(task):
        calls.append(task)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return run_trial(task)

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, s, trial_fn=dies_at_the_fourth_rung)
    launched = []

    def watches(task):
        launched.append(task)
        return run_trial(task)

    assert key(search(tmp_path, s, trial_fn=watches)) == key(search(tmp_path / "fresh", s))
    assert sum(t.stop_after is not None for t in launched) == 6  # undecided: no rung result was stored, all rerun


def test_a_killed_continuation_resumed_on_two_worker_processes_gives_the_same_results(tmp_path, monkeypatch):
    from babysit.search import driver

    monkeypatch.setattr(driver, "CONTINUATION_SAVE_SECONDS", 0.0)  # (the tasks are made in this process)
    s = spec(trials=(6,), epochs=(4,))

    def dies_after_a_continuation(task):
        record = run_trial(task)
        if task.stop_after is None:
            raise KeyboardInterrupt
        return record

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, s, trial_fn=dies_after_a_continuation)
    with ProcessExecutor(2) as executor:
        resumed = search(tmp_path, s, executor)
    assert key(resumed) == key(search(tmp_path / "fresh", s))
    assert any(r.extra.get("resumed_at_epoch") == 3 for r in resumed.records)


def test_a_continuation_saves_its_state_only_every_few_seconds(tmp_path):
    """With the default interval a digits continuation (ms per epoch) never saves past its rung: no save costs
    it more than the epochs it would keep; its state goes once it is decided."""
    seen = []

    def watches(task):
        record = run_trial(task)
        if task.stop_after is None:
            from babysit.train.training_state import training_state_info

            seen.append((task.save_every_s, training_state_info(task.save_state)["epoch"]))
        return record

    search(tmp_path, spec(trials=(6,), epochs=(4,)), trial_fn=watches)
    from babysit.search.driver import CONTINUATION_SAVE_SECONDS

    assert seen and all(every == CONTINUATION_SAVE_SECONDS and epoch == 1 for every, epoch in seen)


def test_a_rung_state_that_cannot_be_written_costs_time_not_the_trial(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # the states' folder cannot be made: every save fails
    s = spec(trials=(6,), epochs=(3,))
    outcome = search(tmp_path, s, state_dir=blocked / "states")
    assert key(outcome) == key(search(tmp_path / "fresh", s))  # no trial failed for it: the same results
    promoted = _promoted(outcome)
    assert promoted and all(r.extra["resume_note"].startswith("could not continue") for r in promoted)


def test_a_bracket_sized_to_the_stage_reaches_its_promotions_where_the_default_one_would_not(tmp_path):
    # a ConvNet job's short stage (Intel VM, 2026-12-02): a ceiling of 3x the ~6 trials its time affords, and a
    # bracket of 9: the deadline came before the bracket was complete, so every trial stopped at its rung
    wide = Rungs(eta=3, bracket=9, fraction=0.34)  # 3-epoch trials: rung at epoch 1

    def budgeted():
        launches = iter([True] * 8)  # time for 6 rung runs and 2 continuations
        return _Budgeted(lambda: next(launches, False))

    cut = search(tmp_path / "nine", spec(trials=(18,), epochs=(3,), rungs=wide), executor=budgeted())
    assert not _promoted(cut) and all(r.epochs <= 1 for r in cut.records)
    sized = wide.sized_to((3,), (12,), 1)  # time for 12 epochs on one worker: 9 rungs + 3 x 2 epochs do not fit
    assert sized.stage_brackets == (6,)
    fitted = search(tmp_path / "six", spec(trials=(18,), epochs=(3,), rungs=sized), executor=budgeted())
    went_on = _promoted(fitted)
    rung_results = {r.index: r.extra.get("rung_val_acc", r.val_acc) for r in fitted.records if r.index < 6}
    assert sorted(r.index for r in went_on) == sorted(wide.in_stage(1).promoted(rung_results))
    assert len(went_on) == 2 and all(r.epochs == 3 for r in went_on)


def test_brackets_sized_to_the_time_a_stage_has():
    r = Rungs(eta=3, bracket=9, fraction=0.2)
    # 2-epoch trials (rung 1) on 2 workers: 9 rungs in 5 rounds, then 3 promoted in 2 rounds of 1 epoch
    assert [r.makespan(b, 2, 2) for b in (3, 6, 9)] == [2 + 1, 3 + 1, 5 + 2]
    assert r.makespan(9, 5, 1) == 9 + 3 * 4 and r.makespan(9, 1, 2) == 0  # one worker; no rung in 1 epoch
    assert [r.bracket_fitting(2, t, 2) for t in (2.9, 3, 4, 6.9, 7, 100)] == [None, 3, 6, 6, 9, 9]
    # the 8-minute ConvNet job's stage 2 on the Intel VM: 146 s at 23.56 s a (whole-split) epoch, slowed by 1.2
    assert r.bracket_fitting(2, 146 / (1.2 * 23.56), 2) == 6
    sized = r.sized_to((1, 2, 2, 5), (3, 5, 2, 50), 2)
    assert sized.stage_brackets == (9, 6, None, 9) and sized.bracket == 9  # a stage without a rung keeps 9
    assert sized.in_stage(1) == Rungs(eta=3, bracket=9, fraction=0.2) and sized.in_stage(2).bracket == 6
    assert sized.in_stage(3) is None  # not even 3 trials' rungs and promotions fit: that stage runs without rungs
    assert sized.in_stage(5) == Rungs(eta=3, bracket=9, fraction=0.2)  # past the tuple: the default bracket
    assert r.in_stage(2) == r
    assert Rungs.from_json(sized.to_json()) == sized
    assert "stage_brackets" not in r.to_json()  # a search stored without them resumes with the same spec


@pytest.mark.parametrize("brackets, parameter", [((2,), "stage_brackets[0]"), ((6, 1), "stage_brackets[1]"),
                                                 ("69", "stage_brackets"), (6, "stage_brackets")])
def test_bad_stage_brackets(config_error, brackets, parameter):
    with config_error("Rungs", parameter):
        Rungs(eta=3, bracket=9, stage_brackets=brackets)
