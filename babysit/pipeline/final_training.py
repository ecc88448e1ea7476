"""``babysit run``'s last step before the test: train the search's best configuration longer.

The configuration is the best trial's (``trial_config``: its hyperparameters over the recipe's
defaults, its seed) with the planned epochs, trained by the same monitored recipe as ``babysit train``
(``monitored_training``), with a ``Deadline`` so the job keeps its budget and the lecture's epoch
lines prefixed ``final:``. The run is recorded 'running' in the store before it starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from babysit.pipeline.plan import MAX_FINAL_EPOCHS, Plan
from babysit.pipeline.training import MonitoredRun, monitored_training
from babysit.search.trial import trial_config, trial_seed
from babysit.train.callbacks import BlasThreads, Deadline, EpochPrinter

REPORT_RESERVE_S = 5.0  # kept back from the budget for evaluation, plots and the report
# A final run that explodes before its first epoch ends is trained again at this share of its rate, at most
# this many runs in all (a 25-minute conv:32,64 job's best trial, lr 5.0e-3, trained 4 epochs; its final run,
# then seeded apart from the trial, exploded at iteration 5 and the job ended without a model to test).
RETRY_LR_FACTOR = 0.5
MAX_FINAL_ATTEMPTS = 3
RETRY_STATUSES = ("exploded", "diverged")


@dataclass
class FinalRun:
    """The final training: its run id in the store, the monitored run and the epochs it was planned for."""

    run_id: int
    run: MonitoredRun
    epochs: int
    blas_threads: int | None = None  # the BLAS threads it trained with after its first epochs (BlasThreads)
    epoch_seconds_by_threads: dict | None = None  # {threads: seconds of the epoch timed with that many}
    attempts: list = field(default_factory=list)  # the runs that exploded before it: {run_id, lr, status, iteration}

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


def final_epoch_seconds(best, plan: Plan) -> float:
    """Seconds one final epoch should take: the best trial's own pace (fresher than the timed epoch), unless
    it trained on a subset of the training split (a coarse stage's, ``plan.stage_examples``): then the timed epoch."""
    subsets = {n for n in plan.stage_examples or () if n is not None}
    on_subset = (best.extra or {}).get("train_examples") in subsets
    if best.seconds and best.epochs and not on_subset:
        return best.seconds / best.epochs
    return plan.epoch_seconds


def final_epochs(best, plan: Plan, deadline: float) -> int:
    """Epochs that fit before ``deadline`` at ``final_epoch_seconds``, at most ``MAX_FINAL_EPOCHS``, never fewer
    than the trial ran."""
    seconds_per_epoch = final_epoch_seconds(best, plan)
    room = deadline - time.monotonic() - REPORT_RESERVE_S
    epochs = max(1, min(MAX_FINAL_EPOCHS, int(room / seconds_per_epoch))) if room > 0 else 1
    return max(epochs, int(best.epochs or 1))


def train_final(job, data, ref, best, plan: Plan, deadline: float, out, store, search_name: str, say) -> FinalRun:
    """Train ``best``'s configuration (a TrialRecord) into ``out`` for the planned epochs (fewer if the budget
    runs short); the run is started in ``store`` and left running: ``run_job`` records it after the test.

    It starts from the best trial's own seed: on the trial's data its first epoch is the trial's, which did not
    explode. Should it explode or diverge anyway before its first epoch ends (no checkpoint: nothing to test; a
    best trial on a coarse stage's subset, a rate at the edge of stability), the attempt is recorded in ``store``
    ('final attempt') and the lecture's remedy applied: the same configuration again at ``RETRY_LR_FACTOR`` of
    its rate, at most ``MAX_FINAL_ATTEMPTS`` times in all, while an epoch still fits before the deadline.
    """
    epochs = final_epochs(best, plan, deadline)
    seed = trial_seed(job.seed, best.stage, best.index)
    params = dict(best.params)
    say(f"final: training the best configuration (run {best.run_id}, val_acc {best.val_acc:f} after "
        f"{best.epochs:g} epochs) for {epochs} epochs")
    attempts = []
    while True:
        run_id, run, threads = _train_once(job, data, ref, best, params, epochs, seed, deadline, out, store,
                                           search_name, say)
        status = run.solver.status
        room = deadline - REPORT_RESERVE_S - time.monotonic()
        if (run.result.checkpoint is not None or status not in RETRY_STATUSES or len(attempts) + 1 >= MAX_FINAL_ATTEMPTS
                or room < final_epoch_seconds(best, plan)):
            break
        from babysit.store.recording import record_run

        attempt = {"run_id": run_id, "lr": float(params["lr"]), "status": status,
                   "iteration": int(run.solver.iteration)}
        record_run(store, run_id, run.record(role="final attempt", search=search_name, from_run=best.run_id))
        attempts.append(attempt)
        params["lr"] = float(params["lr"]) * RETRY_LR_FACTOR
        say(f"final: the run {status} at iteration {attempt['iteration']} before its first epoch ended (lr "
            f"{attempt['lr']:.3e}; recorded as run {run_id}); training again at {RETRY_LR_FACTOR:g}x the rate, "
            f"lr {params['lr']:.3e} (the lecture: a loss that explodes means the rate is too high)")
    if threads.chosen is not None:
        say(f"final: {threads.chosen} BLAS thread(s) from epoch {threads.decided_after + 1} on ("
            + ", ".join(f"{n} thread(s): {t:.2f} s" for n, t in threads.epoch_seconds.items()) + " an epoch)")
    for finding in run.diagnoses:
        say(f"final: {finding.check}: {finding.status}: {finding.explanation}")
    return FinalRun(run_id, run, epochs, threads.chosen, dict(threads.epoch_seconds), attempts)


def _train_once(job, data, ref, best, params, epochs, seed, deadline, out, store, search_name, say):
    """One monitored training of ``params`` into ``out``, started 'running' in ``store``: (run id, run, BlasThreads)."""
    config = trial_config(ref, job.model, params, epochs, seed)
    run_id = store.start_run(None, None, None, {**params, "model": str(config.model_spec()), "epochs": epochs})
    # its BLAS threads from its own first epochs (1 thread, then all, after a warm-up epoch), and it stops once another epoch at its
    # real pace would end past the budget: the planned pace can be several times off on a loaded machine
    threads = BlasThreads()
    callbacks = [threads, Deadline(deadline - REPORT_RESERVE_S), EpochPrinter(prefix="final: ", say=say)]
    run = monitored_training(config, out, data=data, callbacks=callbacks, verbose=False,
                             checkpoint_info={"search": search_name, "from_run": best.run_id})
    return run_id, run, threads
