"""``babysit run``'s last step before the test: train the search's chosen configuration longer.

The configuration is the chosen trial's (``search.selection``: the most regularized within one standard error
of the best; ``trial_config``: its hyperparameters over the recipe's defaults, its seed) with the planned
epochs, trained by the same monitored recipe as ``babysit train`` (``monitored_training``), with a
``Deadline`` so the job keeps its budget and the lecture's epoch lines prefixed ``final:``. The run is recorded 'running' in the store before it starts.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from babysit.pipeline.plan import MAX_FINAL_EPOCHS, Plan
from babysit.pipeline.training import MonitoredRun, monitored_training
from babysit.search.trial import trial_config, trial_seed
from babysit.train.callbacks import BlasThreads, Deadline, EpochPrinter
from babysit.train.checkpoint import checkpoint_paths

REPORT_RESERVE_S = 5.0  # kept back from the budget for evaluation, plots and the report
# A final run that explodes short of the trial's validation accuracy is trained again at this share of its rate,
# at most this many runs in all (a 25-minute conv:32,64 job's best trial, lr 5.0e-3, trained 4 epochs; its final
# run, then seeded apart from the trial, exploded at iteration 5 and the job ended without a model to test).
RETRY_LR_FACTOR = 0.5
MAX_FINAL_ATTEMPTS = 3
RETRY_STATUSES = ("exploded", "diverged")
RETRY_DIR = ".final-retry"  # under the job's folder: a retry's checkpoint until it is kept (moved up) or dropped


@dataclass
class FinalRun:
    """The final training: its run id in the store, the monitored run and the epochs it was planned for."""

    run_id: int
    run: MonitoredRun
    epochs: int
    blas_threads: int | None = None  # the BLAS threads it trained with after its first epochs (BlasThreads)
    epoch_seconds_by_threads: dict | None = None  # {threads: seconds of the epoch timed with that many}
    attempts: list = field(default_factory=list)  # the final trainings not kept: {run_id, lr, status, iteration, val_acc}

    @property
    def solver(self):
        return self.run.solver

    @property
    def checkpoint(self):
        return self.run.result.checkpoint

    @property
    def config(self):
        return self.run.result.config

    @property
    def diagnoses(self) -> list:
        return self.run.diagnoses

    @property
    def monitor_history(self):
        return self.run.monitor_history

    def metrics(self) -> dict:
        return self.solver.metrics()


PACE_DRIFT_RANGE = (0.5, 3.0)  # how far the best trial's pace may move the planned final pace (either way)


def final_epoch_seconds(best, plan: Plan) -> float:
    """Seconds one final epoch should take: the plan's final pace (``Plan.final_pace``) times how much slower or
    faster the best trial trained than the epoch timed for the plan (a machine that got busier since: the
    trial's pace is fresher), within ``PACE_DRIFT_RANGE``; the plan's pace alone when the trial trained on a
    subset of the training split (a coarse stage's, ``plan.stage_examples``) or recorded no time."""
    subsets = {n for n in plan.stage_examples or () if n is not None}
    on_subset = (best.extra or {}).get("train_examples") in subsets
    if not (best.seconds and best.epochs) or on_subset:
        return plan.final_pace()
    low, high = PACE_DRIFT_RANGE
    drift = min(high, max(low, best.seconds / best.epochs / plan.epoch_seconds))
    return plan.final_pace() * drift


def final_epochs(best, plan: Plan, deadline: float) -> int:
    """Epochs that fit before ``deadline`` at ``final_epoch_seconds``, at most ``MAX_FINAL_EPOCHS``, never fewer
    than the trial ran."""
    seconds_per_epoch = final_epoch_seconds(best, plan)
    room = deadline - time.monotonic() - REPORT_RESERVE_S
    epochs = max(1, min(MAX_FINAL_EPOCHS, int(room / seconds_per_epoch))) if room > 0 else 1
    return max(epochs, int(best.epochs or 1))


def train_final(job, data, ref, best, plan: Plan, deadline: float, out, store, search_name: str, say) -> FinalRun:
    """Train ``best``'s configuration (a TrialRecord: the trial ``search.selection`` took) into ``out`` for the
    planned epochs (fewer if the budget runs short); the run is started in ``store`` and left running: ``run_job`` records it after the test.

    It starts from the best trial's own seed: on the trial's data its first epoch is the trial's, which did not
    explode. Should it explode or diverge anyway (a rate at the edge of stability, a best trial on a coarse
    stage's subset) before reaching the trial's validation accuracy, the lecture's remedy is applied: the same
    configuration again at ``RETRY_LR_FACTOR`` of its rate, into ``RETRY_DIR``, while it has time for the trial's
    epochs (one epoch when there is no checkpoint at all), at most ``MAX_FINAL_ATTEMPTS`` runs in all. The run
    with the better validation accuracy is kept (its checkpoint in ``out``); the other is recorded in ``store``
    ('final attempt') and listed in ``FinalRun.attempts``.
    """
    epochs = final_epochs(best, plan, deadline)
    seed = trial_seed(job.seed, best.stage, best.index)
    params = dict(best.params)
    pace = final_epoch_seconds(best, plan)
    say(f"final: training the configuration of run {best.run_id} (val_acc {best.val_acc:f} after "
        f"{best.epochs:g} epochs) for {epochs} epochs")
    kept = _train_once(job, data, ref, best, params, epochs, seed, deadline, out, store, search_name, say)
    attempts, runs = [], 1
    while runs < MAX_FINAL_ATTEMPTS and _worth_retrying(kept, best, pace, deadline):
        why = (f"{kept.status} at iteration {kept.iteration} "
               + ("before its first epoch ended" if kept.val_acc is None else
                  f"with val_acc {kept.val_acc:f}, below the trial's {best.val_acc:f}"))
        params["lr"] = float(params["lr"]) * RETRY_LR_FACTOR
        say(f"final: the run {why} (lr {kept.lr:.3e}, run {kept.run_id}); training again at lr {params['lr']:.3e}, "
            f"{RETRY_LR_FACTOR:g}x the last rate tried (the lecture: a loss that explodes means the rate is too high)")
        retry = _train_once(job, data, ref, best, params, epochs, seed, deadline, Path(out) / RETRY_DIR, store,
                            search_name, say)
        runs += 1
        # the better validation accuracy is kept; on a tie (neither left a checkpoint) the later, lower rate
        if retry.score >= kept.score:
            retry = retry.moved_to(out)
            kept, lost = retry, kept
        else:
            lost = retry
        say(f"final: keeping run {kept.run_id} (lr {kept.lr:.3e}, val_acc "
            f"{'none' if kept.val_acc is None else f'{kept.val_acc:f}'}); run {lost.run_id} is recorded as a final attempt")
        _record_attempt(store, lost, search_name, best)
        attempts.append(lost.summary())
    shutil.rmtree(Path(out) / RETRY_DIR, ignore_errors=True)
    run, threads = kept.run, kept.threads
    if threads.chosen is not None:
        say(f"final: {threads.chosen} BLAS thread(s) from epoch {threads.decided_after + 1} on ("
            + ", ".join(f"{n} thread(s): {t:.2f} s" for n, t in threads.epoch_seconds.items()) + " an epoch)")
    for finding in run.diagnoses:
        say(f"final: {finding.check}: {finding.status}: {finding.explanation}")
    return FinalRun(kept.run_id, run, epochs, threads.chosen, dict(threads.epoch_seconds), attempts)


@dataclass
class _Attempt:
    """One final training: its run id, the MonitoredRun, its BlasThreads and its rate."""

    run_id: int
    run: MonitoredRun
    threads: BlasThreads
    lr: float

    @property
    def status(self) -> str:
        return self.run.solver.status

    @property
    def iteration(self) -> int:
        return int(self.run.solver.iteration)

    @property
    def val_acc(self) -> float | None:
        """Its best epoch's validation accuracy; None without a checkpoint (it ended before its first epoch)."""
        return None if self.run.result.checkpoint is None else float(self.run.solver.best_val_acc)

    @property
    def score(self) -> float:
        """What picks the run kept: its val_acc, -1 without a checkpoint."""
        return -1.0 if self.val_acc is None else self.val_acc

    def summary(self) -> dict:
        return {"run_id": self.run_id, "lr": self.lr, "status": self.status, "iteration": self.iteration,
                "val_acc": self.val_acc}

    def moved_to(self, out) -> _Attempt:
        """This attempt with its checkpoint (weights + model.json) moved into ``out``, replacing the one there."""
        if self.run.result.checkpoint is None:
            return self
        weights, sidecar = checkpoint_paths(self.run.result.checkpoint)
        target, target_sidecar = checkpoint_paths(Path(out) / weights.name)
        os.replace(sidecar, target_sidecar)
        os.replace(weights, target)
        result = dataclasses.replace(self.run.result, checkpoint=target)
        return dataclasses.replace(self, run=dataclasses.replace(self.run, result=result))


def _worth_retrying(kept: _Attempt, best, pace: float, deadline: float) -> bool:
    """Whether the run kept so far exploded or diverged short of the trial's validation accuracy, and a retry has
    time for the trial's epochs (for one epoch when it left no checkpoint at all)."""
    if kept.status not in RETRY_STATUSES or (kept.val_acc is not None and kept.val_acc >= best.val_acc):
        return False
    needed = pace * (1 if kept.val_acc is None else max(1.0, float(best.epochs or 1)))
    return deadline - REPORT_RESERVE_S - time.monotonic() >= needed


def _record_attempt(store, attempt: _Attempt, search_name: str, best) -> None:
    """Record a final training that was not kept: its status, curves and diagnoses stay in the store."""
    from babysit.store.recording import record_run

    record = attempt.run.record(role="final attempt", search=search_name, from_run=best.run_id)
    record.artifacts = [a for a in record.artifacts if a[0] != "checkpoint"]  # its checkpoint is not kept
    record_run(store, attempt.run_id, record)


def _train_once(job, data, ref, best, params, epochs, seed, deadline, out, store, search_name, say) -> _Attempt:
    """One monitored training of ``params`` into ``out``, started 'running' in ``store``."""
    config = trial_config(ref, job.model, params, epochs, seed)
    run_id = store.start_run(None, None, None, {**params, "model": str(config.model_spec()), "epochs": epochs})
    # its BLAS threads from its own first epochs (1 thread, then all, after a warm-up epoch), and it stops once another epoch at its
    # real pace would end past the budget: the planned pace can be several times off on a loaded machine
    threads = BlasThreads()
    callbacks = [threads, Deadline(deadline - REPORT_RESERVE_S), EpochPrinter(prefix="final: ", say=say)]
    run = monitored_training(config, out, data=data, callbacks=callbacks, verbose=False,
                             checkpoint_info={"search": search_name, "from_run": best.run_id})
    return _Attempt(run_id, run, threads, float(params["lr"]))
