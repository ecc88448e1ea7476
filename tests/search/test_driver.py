"""The driver on digits with a real run store: stages, resume, determinism across executors, failures, budgets."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from babysit.errors import ConfigError, StoreError
from babysit.search import LogUniform, SearchSpace
from babysit.search.stages import top_trials
from babysit.search.driver import SearchSpec, grid_points, run_search, stage_configs, varying
from babysit.search.executors import InlineExecutor, ProcessExecutor
from babysit.search.trial import DataRef, run_trial
from babysit.store import RunStore

DIGITS = DataRef("digits")
LECTURE = SearchSpace.parse({"lr": "1e-6:1e-3:log", "reg": "1e-5:1e5:log"})


def spec(space=LECTURE, trials=(6, 6), epochs=(1, 2), seed=0, model="fc:16", sampler="random"):
    return SearchSpec(DIGITS, model, space, tuple(trials), tuple(epochs), seed, sampler)


def search(tmp_path, s, executor=None, name="search", **kwargs):
    with RunStore(tmp_path / "runs.sqlite") as store:
        return run_search(s, store, executor or InlineExecutor(), name=name, **kwargs)


def key(outcome):
    return [(r.stage, r.index, r.status, r.val_acc, tuple(sorted(r.params.items()))) for r in outcome.records]


def test_log_space_sampling_covers_the_range_evenly_per_decade():
    configs = stage_configs(spec(trials=(600,), epochs=(1,)), LECTURE, 1)
    lrs = np.log10([c["lr"] for c in configs])
    regs = np.log10([c["reg"] for c in configs])
    assert lrs.min() >= -6 and lrs.max() <= -3 and regs.min() >= -5 and regs.max() <= 5
    counts = np.histogram(lrs, bins=3, range=(-6, -3))[0]
    assert counts.min() > 150  # ~200 per decade: uniform in log space, not crowded at the top decade
    assert np.histogram(regs, bins=10, range=(-5, 5))[0].min() > 35
    assert lrs.min() < -5.95 and lrs.max() > -3.05  # reaches both ends


def test_stage_two_is_narrower_and_centred_on_stage_ones_best(tmp_path):
    space = SearchSpace.parse({"lr": "1e-4:1e0:log", "reg": "1e-5:1e1:log"})
    outcome = search(tmp_path, spec(space, trials=(12, 6), epochs=(2, 4)))
    one, two = outcome.stages
    best = one.best
    for name in ("lr", "reg"):
        wide, narrow = one.space[name], two.space[name]
        if name in {w.name for w in one.warnings}:
            continue  # extended past an edge instead (tested below)
        assert math.log10(narrow.high / narrow.low) < math.log10(wide.high / wide.low)
        assert narrow.low < best.params[name] < narrow.high
        # the new range's centre is nearer the best trials (the top ones it spans) than the old one's was (log space)
        top = sum(math.log10(r.params[name]) for r in top_trials(one.records)) / len(top_trials(one.records))
        c_old = (math.log10(wide.low) + math.log10(wide.high)) / 2
        c_new = (math.log10(narrow.low) + math.log10(narrow.high)) / 2
        assert abs(c_new - top) < abs(c_old - top)
    assert [r.epochs for r in two.records] == [4] * 6 and [r.epochs for r in one.records] == [2] * 12
    assert all(two.space[n].contains(r.params[n]) for r in two.records for n in ("lr", "reg"))


def test_a_best_lr_at_the_top_edge_warns_and_stage_two_searches_above_it(tmp_path):
    # 1e-4 .. 1e-2 is low for 2 epochs on digits: the best trial has the largest lr, which the grid sampler
    # puts exactly on the edge
    space = SearchSpace.parse({"lr": "1e-4:1e-2:log", "reg": "1e-5:1e-3:log"})
    outcome = search(tmp_path, spec(space, trials=(9, 9), epochs=(2, 2), sampler="grid"))
    one, two = outcome.stages
    assert one.best.params["lr"] == 1e-2
    assert [(w.name, w.edge) for w in one.warnings if w.name == "lr"] == [("lr", "high")]
    assert two.space["lr"].high >= 1e-2 * 10**0.5
    assert "this best result is worrying" in one.warnings[0].message()


def test_a_stage_at_chance_keeps_its_ranges_and_names_the_cause(tmp_path):
    # issue 10: 1e-6 .. 1e-4 learns nothing in 2 epochs on digits (standardized, He init): no edge warning
    # pointing anywhere, the ranges kept, and the likely cause named
    space = SearchSpace.parse({"lr": "1e-6:1e-4:log", "reg": "1e-5:1e-3:log"})
    outcome = search(tmp_path, spec(space, trials=(4, 2), epochs=(1, 1), sampler="grid"))
    one, two = outcome.stages
    (warning,) = one.warnings
    assert warning.cause == "lr_too_low" and "learned nothing" in warning.message()
    assert two.space == one.space


def test_every_trial_is_in_the_store_with_its_series(tmp_path):
    outcome = search(tmp_path, spec(trials=(3, 2), epochs=(1, 2)))
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        runs = store.runs(outcome.search_id)
        assert [(r["stage"], r["trial_index"]) for r in runs] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
        for run, record in zip(runs, outcome.records):
            assert run["id"] == record.run_id and run["status"] == record.status
            assert run["val_acc"] == record.val_acc and run["params"] == dict(record.params)
            if run["status"] == "finished":
                steps, losses = store.metric_series(run["id"], "loss")
                assert len(losses) == run["extra"]["iterations"] and steps[0] == 1
                assert len(store.metric_series(run["id"], "val_acc")[1]) == run["epochs"]
                assert store.metric_series(run["id"], "lr")[1][0] == run["params"]["lr"]


def test_running_the_same_search_again_resumes_and_redoes_nothing(tmp_path):
    s = spec(trials=(4, 3), epochs=(1, 2))
    first = search(tmp_path, s)
    again = search(tmp_path, s)
    assert key(again) == key(first)
    assert all(r.resumed for r in again.records)
    assert [r.run_id for r in again.records] == [r.run_id for r in first.records]
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        assert len(store.runs()) == 7


def test_an_interrupted_search_redoes_only_the_unfinished_trials(tmp_path):
    s = spec(trials=(5, 3), epochs=(1, 1))
    budget = iter([True, True, False])  # two trials, then "killed"
    with RunStore(tmp_path / "runs.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            class Interrupt(InlineExecutor):
                def run(self, fn, tasks, may_launch):
                    for item in super().run(fn, tasks, lambda: next(budget, False)):
                        yield item
                    store.start_run(1, 1, 2, {"lr": 1.0})  # a trial that was running at the kill
                    raise KeyboardInterrupt
            run_search(s, store, Interrupt())
    with RunStore(tmp_path / "runs.sqlite") as store:  # reopening marks the 'running' one interrupted
        before = {(r["stage"], r["trial_index"]): r["id"] for r in store.runs() if r["status"] == "finished"}
        assert sorted(before) == [(1, 0), (1, 1)]
        outcome = run_search(s, store, InlineExecutor())
        finished = [r for r in store.runs() if r["status"] not in ("failed", "interrupted")]
        interrupted = [r for r in store.runs() if r["error"] == "interrupted"]
    assert len(interrupted) == 1 and len(finished) == 8
    assert {(r.stage, r.index): r.run_id for r in outcome.records if r.resumed} == before
    assert sorted((r.stage, r.index) for r in outcome.records) == [(1, i) for i in range(5)] + [(2, i) for i in range(3)]
    assert key(outcome) == key(search(tmp_path / "fresh", s))  # the same as an uninterrupted search


def test_a_different_spec_under_the_same_name_is_refused_and_nothing_is_written(tmp_path):
    search(tmp_path, spec(trials=(2, 2), epochs=(1, 1)))
    path = tmp_path / "runs.sqlite"
    with RunStore(path, readonly=True) as store:
        runs_before = store.runs()
    with pytest.raises(StoreError, match="holds search search with a different spec \\(differs in: stage_trials\\)"):
        search(tmp_path, spec(trials=(3, 2), epochs=(1, 1)))
    with RunStore(path, readonly=True) as store:
        assert store.runs() == runs_before and len(store.searches()) == 1


def test_trials_that_raise_are_recorded_failed_and_the_search_completes(tmp_path):
    # weight_scale only applies to init 'small': every 'he' trial raises ConfigError while building its model
    space = SearchSpace.parse({"lr": "1e-2:1e-1:log", "init": "he,small", "weight_scale": "1e-2:1e-1:log"})
    outcome = search(tmp_path, spec(space, trials=(8, 4), epochs=(1, 1)))
    failed = [r for r in outcome.records if r.status == "failed"]
    ok = [r for r in outcome.records if r.status == "finished"]
    assert failed and ok and len(outcome.records) == 12
    assert all(r.params["init"] == "he" and "weight_scale applies to init='small'" in r.error for r in failed)
    assert all(r.params["init"] == "small" for r in ok)
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        stored = {r["id"]: r for r in store.runs()}
    assert all(stored[r.run_id]["status"] == "failed" and stored[r.run_id]["error"] == r.error for r in failed)


def test_same_seed_same_configs_and_results_inline_or_in_worker_processes(tmp_path):
    s = spec(trials=(4, 2), epochs=(1, 2))
    inline = search(tmp_path / "a", s)
    with ProcessExecutor(2, threads=1) as executor:
        spawned = search(tmp_path / "b", s, executor)
    assert key(spawned) == key(inline)
    assert [str(st.space) for st in spawned.stages] == [str(st.space) for st in inline.stages]
    other = search(tmp_path / "c", spec(trials=(4, 2), epochs=(1, 2), seed=1))
    assert [r.params for r in other.records] != [r.params for r in inline.records]


def test_a_spent_budget_launches_no_more_trials(tmp_path):
    s = spec(trials=(20, 5), epochs=(1, 1))
    outcome = search(tmp_path, s, deadlines={1: time.monotonic() - 1, 2: time.monotonic() - 1})
    assert outcome.stages[0].records == [] and outcome.stages[0].stopped_by_budget
    assert outcome.best is None


def test_bad_setups_fail_before_any_trial(tmp_path):
    with pytest.raises(ConfigError, match="The model fc has no hidden affine layer"):
        search(tmp_path, spec(SearchSpace.parse({"lr": "1e-3:1e-1:log", "hidden": "8,16"}), model="fc"))
    with pytest.raises(ConfigError, match="unknown data source"):
        search(tmp_path, SearchSpec(DataRef("mnist"), "fc:8", LECTURE))
    # `search` opened the store, so it exists; the failed setups must have left it empty: no search row
    # (run_search creates it only after check_setup passed) and no trial recorded 'running' or 'failed'
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        assert (store.searches(), store.runs()) == ([], [])
    with pytest.raises(ConfigError, match=r"The .trials. parameter of SearchSpec.from_cli must be an int in \[1, inf\)"):
        SearchSpec.from_cli(data=DIGITS, model="fc:8", space=LECTURE, stages=2, trials=0, epochs=1)


def test_grid_sampler_stages_and_helpers():
    space = SearchSpace.parse({"lr": "1e-4:1e-1:log", "reg": "1e-5:1e-1:log", "hidden": "8,16"})
    assert grid_points(space, 18) == {"hidden": 1, "lr": 3, "reg": 3}
    configs = stage_configs(spec(space, trials=(18,), epochs=(1,), sampler="grid"), space, 1)
    assert len(configs) == 18 and len({tuple(sorted(c.items())) for c in configs}) == 18
    assert sorted({c["lr"] for c in configs}) == pytest.approx([1e-4, 10**-2.5, 1e-1])
    assert varying(SearchSpace.parse({"update": "momentum", "reg": "1e-3:1e-1:log", "lr": "1e-3:1e-1:log"})) == ["lr", "reg"]
    spec_json = spec().to_json()
    assert spec_json["stage_trials"] == [6, 6] and spec_json["space"]["lr"] == {"type": "log", "low": 1e-6, "high": 1e-3}
    assert SearchSpec.from_cli(data=DIGITS, model="fc:8", space=LECTURE, stages=3, trials=5, epochs=2).stage_epochs == (2, 4, 8)


def test_run_trial_is_the_default_trial_function():
    import inspect

    assert inspect.signature(run_search).parameters["trial_fn"].default is run_trial
    assert LogUniform(1e-6, 1e-3).contains(1e-4)


def test_the_best_is_the_last_stages_unless_budget_cut_rungs_after_it_did_better():
    from babysit.search.driver import SearchOutcome, StageOutcome
    from babysit.search.records import TrialRecord

    space = SearchSpace({"lr": LogUniform(1e-4, 1e-2)})

    def trial(stage, index, status, acc):
        return TrialRecord(10 * stage + index, stage, index, {"lr": 1e-3}, status, val_acc=acc, epochs=1)

    first = StageOutcome(1, space, 1, 3, records=[trial(1, 0, "finished", 0.496), trial(1, 1, "finished", 0.46)])
    # stage 2's deadline came at the rungs: no trial went on, all stopped with their rung's accuracy
    cut = StageOutcome(2, space, 2, 3, records=[trial(2, 0, "stopped", 0.49), trial(2, 1, "stopped", 0.56)])
    assert SearchOutcome(1, "s", [first, cut]).best is cut.records[1]
    worse = StageOutcome(2, space, 2, 3, records=[trial(2, 0, "stopped", 0.40), trial(2, 1, "failed", None)])
    assert SearchOutcome(1, "s", [first, worse]).best is first.records[0]
    # a stage with a finished trial is preferred over earlier stages whatever their accuracy (it trained longest)
    done = StageOutcome(2, space, 2, 3, records=[trial(2, 0, "finished", 0.45), trial(2, 1, "stopped", 0.44)])
    assert SearchOutcome(1, "s", [first, done]).best is done.records[0]
    assert SearchOutcome(1, "s", [StageOutcome(1, space, 1, 3, records=[trial(1, 0, "stopped", 0.3)])]).best.val_acc == 0.3
