"""train_final: the best trial's configuration from the trial's own seed; a run that explodes short of the
trial's validation accuracy is trained again at a lower rate (the lecture's remedy), the better run kept and
the other recorded, so the job keeps a model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from babysit.pipeline.final_training import MAX_FINAL_ATTEMPTS, RETRY_DIR, RETRY_LR_FACTOR, train_final
from babysit.pipeline.main_job import JobConfig
from babysit.pipeline.plan import plan_search
from babysit.search.records import TrialRecord
from babysit.search.trial import DataRef, prepared, trial_seed
from babysit.store import RunStore
from babysit.train.checkpoint import load_checkpoint

REF = DataRef("digits", 2, "standardize")
JOB = JobConfig(data="digits", model="fc:32", budget_minutes=1, seed=2)


def _best(lr: float, val_acc: float = 0.5) -> TrialRecord:
    params = {"lr": lr, "reg": 1e-3, "update": "momentum", "lr_decay": 0.95, "batch_size": 100}
    return TrialRecord(run_id=7, stage=2, index=3, params=params, status="finished", val_acc=val_acc, epochs=1,
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
    assert not any("training again" in line for line in lines) and not (tmp_path / "out" / RETRY_DIR).exists()


def _check_attempts(final, runs, lines, out, first_lr):
    """What every retry leaves: the rates halve, the kept run is the best, the others are recorded, the
    kept checkpoint (of the kept run's rate) is in ``out`` and the retry folder is gone."""
    tried = sorted([a["lr"] for a in final.attempts] + [final.config.lr], reverse=True)
    assert tried == pytest.approx([first_lr * RETRY_LR_FACTOR**k for k in range(len(tried))])
    said = [line for line in lines if "training again at lr" in line]
    assert len(said) == len(final.attempts) == len(tried) - 1
    by_id = {r["id"]: r for r in runs}
    for attempt in final.attempts:
        stored = by_id[attempt["run_id"]]
        assert stored["status"] == attempt["status"] and stored["extra"]["role"] == "final attempt"
        assert stored["extra"]["from_run"] == 7 and stored["params"]["lr"] == attempt["lr"]
    assert by_id[final.run_id]["status"] == "running" and final.run_id not in {a["run_id"] for a in final.attempts}
    assert not (out / RETRY_DIR).exists()
    if final.checkpoint is not None:
        kept = final.solver.best_val_acc
        assert all(a["val_acc"] is None or a["val_acc"] <= kept for a in final.attempts)
        _, meta = load_checkpoint(final.checkpoint)
        assert final.checkpoint.parent == out and meta["train_config"]["lr"] == final.config.lr


def test_a_final_run_that_explodes_at_once_is_recorded_and_trained_again_at_a_lower_rate(tmp_path):
    lines = []
    # lr 3 explodes on digits within a few iterations; the rate is halved until a run keeps a checkpoint
    final, runs = _train(tmp_path, _best(3.0), lines)
    assert 1 <= len(final.attempts) < MAX_FINAL_ATTEMPTS and final.checkpoint is not None
    assert all(a["status"] == "exploded" and a["val_acc"] is None for a in final.attempts)
    assert final.config.run_seed == trial_seed(JOB.seed, 2, 3)
    assert "exploded at iteration" in next(line for line in lines if "training again at lr" in line)
    _check_attempts(final, runs, lines, tmp_path / "out", 3.0)


def test_a_final_run_that_explodes_short_of_the_trial_is_retried_and_the_better_kept(tmp_path):
    lines = []
    # lr 1 trains some epochs then explodes; the trial's val_acc (0.99) is out of its reach, so it is retried
    final, runs = _train(tmp_path, _best(1.0, val_acc=0.99), lines)
    first = final.attempts[0]  # the run at lr 1: exploded after its first epochs, with a checkpoint
    assert first["lr"] == 1.0 and first["status"] == "exploded" and first["val_acc"] is not None
    assert final.solver.best_val_acc > first["val_acc"] and final.config.lr < 1.0
    assert "below the trial's 0.990000" in next(line for line in lines if "training again at lr" in line)
    _check_attempts(final, runs, lines, tmp_path / "out", 1.0)


def test_retries_stop_after_the_last_attempt(tmp_path):
    lines = []
    final, runs = _train(tmp_path, _best(1e3), lines)  # explodes at every rate tried
    assert len(final.attempts) == MAX_FINAL_ATTEMPTS - 1 and final.checkpoint is None
    assert final.solver.status == "exploded" and len(runs) == MAX_FINAL_ATTEMPTS
    _check_attempts(final, runs, lines, tmp_path / "out", 1e3)


def test_a_retry_that_scores_below_the_exploded_run_is_recorded_and_the_first_run_kept(tmp_path, monkeypatch):
    """The other branch of the choice: each retry ends below the exploded run's validation accuracy, so the
    exploded run stays the job's model (its checkpoint in ``out``), and the retries' checkpoints go with the
    retry folder. The retries are real trainings; only their rate is cut far below the halved one (1e-4 of it),
    so that they learn too little in the trial's epochs."""
    from babysit.pipeline import final_training

    real = final_training._train_once

    def crippled_retries(job, data, ref, best, params, epochs, seed, deadline, out, store, search_name, say):
        if out.name == RETRY_DIR:
            params = {**params, "lr": params["lr"] * 1e-4}
        return real(job, data, ref, best, params, epochs, seed, deadline, out, store, search_name, say)

    monkeypatch.setattr(final_training, "_train_once", crippled_retries)
    lines = []
    final, runs = _train(tmp_path, _best(1.0, val_acc=0.999), lines)  # lr 1: explodes after its first epochs
    out = tmp_path / "out"
    assert final.config.lr == 1.0 and final.solver.status == "exploded"
    kept = final.solver.best_val_acc
    assert len(final.attempts) == MAX_FINAL_ATTEMPTS - 1  # still short of the trial: retried until the last run
    for attempt in final.attempts:
        assert attempt["status"] == "finished" and attempt["val_acc"] < kept
    assert [a["lr"] for a in final.attempts] == pytest.approx([0.5e-4, 0.25e-4])
    assert sum(f"keeping run {final.run_id} " in line for line in lines) == MAX_FINAL_ATTEMPTS - 1
    _, meta = load_checkpoint(final.checkpoint)  # the exploded run's own checkpoint, still in out
    assert final.checkpoint.parent == out and meta["train_config"]["lr"] == 1.0
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".safetensors") == [final.checkpoint.name]
    assert not (out / RETRY_DIR).exists()
    by_id = {r["id"]: r for r in runs}
    assert by_id[final.run_id]["status"] == "running"
    with RunStore(tmp_path / "runs.sqlite") as store:
        for attempt in final.attempts:
            stored = by_id[attempt["run_id"]]
            assert stored["status"] == "finished" and stored["extra"]["role"] == "final attempt"
            assert "checkpoint" not in [a["kind"] for a in store.artifacts(attempt["run_id"])]
            steps, losses = store.metric_series(attempt["run_id"], "loss")  # its curves are kept
            assert len(steps) > 10 and np.isfinite(losses).all()
