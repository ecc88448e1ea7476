"""Resuming a search whose first stage a deadline cut short: the stage a later stage was built from is closed,
so the resume adds no trial to it and the later stage's stored trials stay the ones its ranges produced
(before the fix, the resume ran the missing stage-1 trials, recomputed stage 2's ranges from them, and kept
stage 2's old trials under (stage, index) keys that now named other configurations)."""

from __future__ import annotations

import time

from babysit.search import SearchSpace
from babysit.search.driver import SearchSpec, run_search, stage_configs
from babysit.search.executors import InlineExecutor
from babysit.search.trial import DataRef
from babysit.store import RunStore

SPEC = SearchSpec(DataRef("digits"), "fc:8", SearchSpace.parse({"lr": "1e-3:1e0:log", "reg": "1e-5:1e-1:log"}),
                  stage_trials=(5, 3), stage_epochs=(1, 1), seed=4)


def test_a_stage_cut_by_its_deadline_is_not_reopened_by_a_resume(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        first = run_search(SPEC, store, InlineExecutor(), deadlines={1: time.monotonic() - 1})  # stage 1 runs nothing
        assert [len(s.records) for s in first.stages] == [0, 3] and first.stages[0].stopped_by_budget
        runs_before = store.runs()
        resumed = run_search(SPEC, store, InlineExecutor())  # no deadline now: stage 1 could run its 5
        assert store.runs() == runs_before  # nothing ran: the finished stage 2 was built on the cut stage 1
    assert [len(s.records) for s in resumed.stages] == [0, 3] and resumed.stages[0].stopped_by_budget
    stage2 = resumed.stages[1]
    assert [r.params for r in stage2.records] == stage_configs(SPEC, stage2.space, 2)  # keys name their configs
    assert resumed.best.run_id == first.best.run_id
