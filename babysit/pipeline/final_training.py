"""``babysit run``'s last step before the test: train the search's best configuration longer.

The configuration is the best trial's (``trial_config``: its hyperparameters over the recipe's
defaults) with the planned epochs, trained by the same monitored recipe as ``babysit train``
(``monitored_training``), with a ``Deadline`` so the job keeps its budget and the lecture's epoch
lines prefixed ``final:``. The run is recorded 'running' in the store before it starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from babysit.pipeline.plan import MAX_FINAL_EPOCHS, Plan
from babysit.pipeline.training import MonitoredRun, monitored_training
from babysit.search.trial import trial_config, trial_seed
from babysit.train.callbacks import BlasThreads, Deadline, EpochPrinter

REPORT_RESERVE_S = 5.0  # kept back from the budget for evaluation, plots and the report


@dataclass
class FinalRun:
    """The final training: its run id in the store, the monitored run and the epochs it was planned for."""

    run_id: int
    run: MonitoredRun
    epochs: int
    blas_threads: int | None = None  # the BLAS threads it trained with after its first epochs (BlasThreads)
    epoch_seconds_by_threads: dict | None = None  # {threads: seconds of the epoch timed with that many}

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
    runs short); the run is started in ``store`` and left running: ``run_job`` records it after the test."""
    epochs = final_epochs(best, plan, deadline)
    seed = trial_seed(job.seed, len(plan.stage_trials) + 1, 0)  # one stage past the search's
    config = trial_config(ref, job.model, best.params, epochs, seed)
    say(f"final: training the best configuration (run {best.run_id}, val_acc {best.val_acc:f} after "
        f"{best.epochs:g} epochs) for {epochs} epochs")
    run_id = store.start_run(None, None, None, {**best.params, "model": str(config.model_spec()), "epochs": epochs})
    # its BLAS threads from its own first epochs (1 thread, then all, after a warm-up epoch), and it stops once another epoch at its
    # real pace would end past the budget: the planned pace can be several times off on a loaded machine
    threads = BlasThreads()
    callbacks = [threads, Deadline(deadline - REPORT_RESERVE_S), EpochPrinter(prefix="final: ", say=say)]
    run = monitored_training(config, out, data=data, callbacks=callbacks, verbose=False,
                             checkpoint_info={"search": search_name, "from_run": best.run_id})
    if threads.chosen is not None:
        say(f"final: {threads.chosen} BLAS thread(s) from epoch {threads.decided_after + 1} on ("
            + ", ".join(f"{n} thread(s): {t:.2f} s" for n, t in threads.epoch_seconds.items()) + " an epoch)")
    for finding in run.diagnoses:
        say(f"final: {finding.check}: {finding.status}: {finding.explanation}")
    return FinalRun(run_id, run, epochs, threads.chosen, dict(threads.epoch_seconds))
