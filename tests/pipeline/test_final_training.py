"""train_final: the best trial's configuration from the trial's own seed; a run that explodes before its first
epoch ends is recorded and trained again at a lower rate (the lecture's remedy), so the job keeps a model."""

from __future__ import annotations

import time

import pytest

from babysit.pipeline.final_training import MAX_FINAL_ATTEMPTS, RETRY_LR_FACTOR, train_final
from babysit.pipeline.main_job import JobConfig
from babysit.pipeline.plan import plan_search
from babysit.search.records import TrialRecord
from babysit.search.trial import DataRef, prepared, trial_seed
from babysit.store import RunStore

REF = DataRef("digits", 2, "standardize")
JOB = JobConfig(data="digits", model="fc:32", budget_minutes=1, seed=2)


def _best(lr: float) -> TrialRecord:
    params = {"lr": lr, "reg": 1e-3, "update": "momentum", "lr_decay": 0.95, "batch_size": 100}
    return TrialRecord(run_id=7, stage=2, index=3, params=params, status="finished", val_acc=0.9, epochs=1,
                       seconds=0.05)


def _train(tmp_path, best, lines):
    with RunStore(tmp_path / "runs.sqlite") as store:
        final = train_final(JOB, prepared(REF), REF, best, plan_search(30.0, 0.05), time.monotonic() + 30,
                            tmp_path / "out", store, "run 1", lines.append)
        return final, store.runs()


def test_the_final_run_starts_from_the_best_trials_seed(tmp_path):
    lines = []
    final, runs = _train(tmp_path, _best(1e-2), lines)
    assert final.config.run_seed == trial_seed(JOB.seed, 2, 3)
    assert final.attempts == [] and final.config.lr == 1e-2 and final.checkpoint is not None
    assert len(runs) == 1 and runs[0]["status"] == "running"  # run_job records it after the test
    assert not any("training again" in line for line in lines)


def test_a_final_run_that_explodes_at_once_is_recorded_and_trained_again_at_a_lower_rate(tmp_path):
    lines = []
    # lr 3 explodes on digits within a few iterations; the rate is halved until a run keeps a checkpoint
    final, runs = _train(tmp_path, _best(3.0), lines)
    assert 1 <= len(final.attempts) < MAX_FINAL_ATTEMPTS
    assert [a["lr"] for a in final.attempts] == pytest.approx([3.0 * RETRY_LR_FACTOR**k for k in range(len(final.attempts))])
    assert final.config.lr == pytest.approx(3.0 * RETRY_LR_FACTOR ** len(final.attempts))
    assert final.checkpoint is not None and final.config.run_seed == trial_seed(JOB.seed, 2, 3)
    # every exploded attempt is in the store, exploded, with its loss curve; the kept run is still running
    by_id = {r["id"]: r for r in runs}
    for attempt in final.attempts:
        stored = by_id[attempt["run_id"]]
        assert stored["status"] == "exploded" == attempt["status"]
        assert stored["extra"]["role"] == "final attempt" and stored["extra"]["from_run"] == 7
        assert stored["params"]["lr"] == attempt["lr"] and attempt["iteration"] >= 1
    assert by_id[final.run_id]["status"] == "running" and final.run_id not in {a["run_id"] for a in final.attempts}
    said = [line for line in lines if "training again at 0.5x the rate" in line]
    assert len(said) == len(final.attempts) and "exploded at iteration" in said[0]


def test_retries_stop_after_the_last_attempt(tmp_path):
    lines = []
    final, runs = _train(tmp_path, _best(1e3), lines)  # explodes at every rate tried
    assert len(final.attempts) == MAX_FINAL_ATTEMPTS - 1 and final.checkpoint is None
    assert final.solver.status == "exploded" and len(runs) == MAX_FINAL_ATTEMPTS
