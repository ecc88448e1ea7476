"""Plan a coarse-to-fine search and the final training to fit a time budget.

From the seconds one epoch takes (measured by training one epoch) and the seconds left, pick
stage 1's epochs (a few, as the lecture says), the trials of each stage and the epochs of the
final training. Where an epoch is so long that stage 1 could not run ``SUBSET_TRIALS`` one-epoch
trials (a ConvNet on CIFAR-10 here), the coarse stages train on a stratified subset of the
training split, just large enough for that many, growing geometrically to the whole split by the
last stage (``stage_examples``; benchmarks/bench_subsets.py measures what it costs in the choice). Each stage has a deadline and its trial count is a ceiling: the driver stops
launching a stage's trials at its deadline, so a busier machine runs fewer trials rather than
overrunning, and a quieter one runs more than the timed epoch promised.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGES = (3, 2)  # a third, finer stage when the budget affords it ("repeat as necessary"), else two
MIN_LAST_STAGE_TRIALS = 8  # the third stage is worth running only with at least this many trials
# More stages still ("repeat as necessary") while the trial ceilings would leave most of the search's time
# unspent: a 25-minute CIFAR-10 fc:50 job reached its 3 x 100 trials and 80 final epochs in 343 s and left 19
# minutes unused (2026-12-02, docs/benchmarks.md). A stage added trains twice as long as the one before it, but
# no trial as long as half the final training (which must train the best configuration longer).
MAX_STAGES = 6
SPENT_FOR_ANOTHER_STAGE = 0.5  # another stage while the stages would spend less than this share of their time
MIN_TRIALS = 4  # fewer than this and "the span of the best trials" means little
TRIAL_HEADROOM = 3  # plan for this many times the trials that seem to fit (the deadlines cut the rest)
MAX_TRIALS = 100  # per stage, as the lecture ran; the stage deadlines usually stop it first
MAX_STAGE1_EPOCHS = 5  # the lecture's coarse stage: 5 epochs
TRIALS_FOR_MORE_EPOCHS = 20  # stage 1 trains longer only once it can afford this many trials
# At most this share of the time left goes to the final training. A 6-minute CIFAR-10 fc:50 job (2026-12-02,
# docs/benchmarks.md) found its configuration in the search (stage 2: val 0.515 after 10 epochs) and lost its
# test accuracy in a final run cut to 7 epochs: a short budget gains more from final epochs than from trials.
FINAL_SHARE = 0.3
MIN_FINAL_EPOCHS = 10
MAX_FINAL_EPOCHS = 80  # CIFAR-10, fc:50: val accuracy still creeps up until ~70 epochs with decay 0.95
EPOCH_GROWTH = 2
# The final training is planned on the slow side of its pace so it gets its epochs (train_final re-plans them
# from the time left, and its Deadline cuts it at the budget). Its pace is one epoch timed alone in the job's
# process, as the final trains (``final_epoch_seconds``), else the epoch timed in the workers side by side, which
# is slower (fc:50 on CIFAR-10, AMD VM, 2026-12-08: 0.75 s side by side, the final 0.59 s on 1 thread, 0.47 s on
# 2). At 1.5x the side-by-side pace a 6-minute job's 80 final epochs were kept 90 s and took 43: the job ended
# 52 s early (docs/benchmarks.md).
FINAL_PACE_MARGIN = 1.2
ALONE_EPOCH_SHARE = 0.02  # the job times that pace only while one epoch costs at most this share of the time left
# A search's trials ran at 1.05-1.15x the epoch timed in its workers side by side (conv:32,64 on CIFAR-10, Intel VM,
# 2026-12-02: 24.8-26.5 s against 23.56 s): a stage's bracket is sized at this slower pace.
TRIAL_PACE_MARGIN = 1.2
SUBSET_TRIALS = 20  # stage 1 trains on a subset only when it could not run this many one-epoch trials on the whole
MIN_SUBSET_FRACTION = 0.1  # never below this share of the training split...
MIN_SUBSET_EXAMPLES = 1000  # ...nor below this many examples
# An epoch's accuracy checks (the validation split and TRAIN_ACC_ROWS training rows, forward only: ~1/3 of a
# training step per example) do not shrink with the subset.
FORWARD_SHARE = 1 / 3


@dataclass(frozen=True)
class Plan:
    """Trials (ceilings, and how many should fit) and epochs per stage, seconds per stage, final epochs."""

    stage_trials: tuple[int, ...]
    expected_trials: tuple[int, ...]
    stage_epochs: tuple[int, ...]
    stage_seconds: tuple[float, ...]
    final_epochs: int
    final_seconds: float
    epoch_seconds: float
    parallel: float
    stage_examples: tuple[int | None, ...] | None = None  # per stage (None: the whole split), or None: no subsets
    stage_epoch_seconds: tuple[float, ...] | None = None  # one trial epoch per stage (its subset), or None: epoch_seconds
    final_epoch_seconds: float | None = None  # one epoch timed alone in the job's process (the final's pace), or None

    def final_pace(self) -> float:
        """Seconds one final epoch is planned at: the epoch timed alone where there is one, else the timed epoch."""
        return self.final_epoch_seconds or self.epoch_seconds

    def stage_epoch_times(self) -> tuple[float, ...]:
        """Each stage's seconds in trial epochs at the slow side of the timed pace (``TRIAL_PACE_MARGIN``): how many
        epochs one worker can train end to end within it (what a stage's bracket must fit: ``Rungs.sized_to``)."""
        per_epoch = self.stage_epoch_seconds or (self.epoch_seconds,) * len(self.stage_seconds)
        return tuple(s / (TRIAL_PACE_MARGIN * e) for s, e in zip(self.stage_seconds, per_epoch))

    def describe(self) -> str:
        examples = self.stage_examples or (None,) * len(self.stage_trials)
        stages = "; ".join(
            f"stage {k + 1}: ~{x} (up to {n}) trials x {e} epoch(s)"
            + ("" if m is None else f" on {m:,} training examples") + f" in ~{s:.0f} s"
            for k, (n, x, e, s, m) in enumerate(zip(self.stage_trials, self.expected_trials, self.stage_epochs,
                                                    self.stage_seconds, examples))
        )
        alone = "" if self.final_epoch_seconds is None else f", {self.final_epoch_seconds:.2f} s alone"
        return (f"{stages}; final training {self.final_epochs} epochs in ~{self.final_seconds:.0f} s "
                f"(one epoch takes {self.epoch_seconds:.2f} s{alone})")


def parallel_speedup(workers: int, cores: int) -> float:
    """Trials/second of ``workers`` processes relative to one of them at the timed pace: the epoch is timed in
    every worker at once (``time_epoch_side_by_side``; where that fails, alone with the BLAS threads each
    worker gets), so each worker with a core of its own trains at that pace: min(workers, cores).

    (Timed with every thread in one process, the epoch misled the plan on a busy machine: a 2-thread
    OpenBLAS epoch collapses under load, 9.0 s against 2.2 s in the 1-thread workers for fc:50, 184 s
    against 48 s for conv:32,64; docs/benchmarks.md.)
    """
    if workers <= 1:
        return 1.0
    return float(max(1, min(workers, cores)))


def plan_search(seconds_left: float, epoch_seconds: float, *, workers: int = 1, cores: int = 1,
                trial_gain=None, train_examples: int | None = None, check_examples: int = 0,
                final_epoch_seconds: float | None = None) -> Plan:
    """The plan that fits ``seconds_left``, given one epoch (training + accuracy checks) in ``epoch_seconds``.

    ``trial_gain(epochs)``: how many more trials of that many epochs fit in a stage's time than full
    ones (a search with rungs stops most trials early: ``Rungs.trial_gain``); default 1.
    ``train_examples``: the training split's size (None: no subsets are planned); ``check_examples``:
    the rows an epoch's accuracy checks read (validation split + TRAIN_ACC_ROWS); ``final_epoch_seconds``: one
    epoch timed alone in the job's process, as the final trains (None: the final is planned at ``epoch_seconds``).

    The final training gets up to FINAL_SHARE of the time (10 to 80 epochs, at FINAL_PACE_MARGIN x its pace);
    the stages share the rest equally (a stage's unspent time passes to the next: the deadlines add up), each
    training twice as long as the one before. Three stages when the third can still run ``MIN_LAST_STAGE_TRIALS``
    trials, else two; a fourth and more (up to MAX_STAGES) while the trial ceilings would leave more
    than half of the stages' time unspent. Subsets: see the module docstring.
    """
    epoch_seconds = max(float(epoch_seconds), 1e-3)
    seconds_left = max(float(seconds_left), 0.0)
    parallel = parallel_speedup(workers, cores)
    # the final training's time is kept at a slow pace: the search cannot give back what it took
    final_epoch_seconds = None if final_epoch_seconds is None else max(float(final_epoch_seconds), 1e-3)
    slow_epoch = FINAL_PACE_MARGIN * (epoch_seconds if final_epoch_seconds is None else final_epoch_seconds)
    final_epochs = int(min(MAX_FINAL_EPOCHS, max(MIN_FINAL_EPOCHS, FINAL_SHARE * seconds_left / slow_epoch)))
    final_seconds = min(final_epochs * slow_epoch, FINAL_SHARE * seconds_left)
    final_epochs = max(1, min(final_epochs, int(final_seconds / slow_epoch)))
    search_seconds = max(seconds_left - final_seconds, 0.0)

    def stages_of(stages: int):
        return _stages(stages, search_seconds * parallel / epoch_seconds / stages, final_epochs, train_examples,
                       check_examples, trial_gain)

    for stages in STAGES:
        examples, epochs, whole, fit, trials, expected = stages_of(stages)
        if stages == STAGES[-1] or whole[-1] >= MIN_LAST_STAGE_TRIALS:
            break
    while stages >= STAGES[0] and stages < MAX_STAGES and _spent(fit, expected) < SPENT_FOR_ANOTHER_STAGE:
        stages += 1
        examples, epochs, whole, fit, trials, expected = stages_of(stages)
    seconds = tuple(search_seconds / stages for _ in range(stages))
    costs = tuple(epoch_seconds * epoch_cost(n, train_examples, check_examples) for n in examples)
    return Plan(trials, expected, epochs, seconds, final_epochs, final_seconds, epoch_seconds, parallel,
                None if all(n is None for n in examples) else tuple(examples), costs, final_epoch_seconds)


def _stages(stages: int, units: float, final_epochs: int, train_examples, check_examples, trial_gain):
    """(examples, epochs, whole, fit, trials, expected) per stage when each stage can afford ``units`` epoch-units (one
    epoch of one trial on the whole split). Stage 1 trains a few epochs (more once it affords
    TRIALS_FOR_MORE_EPOCHS trials), each later stage twice as long, a fourth and later one at most half the
    final training's epochs; whole: the full trials that fit, fit: times ``trial_gain``, trials: the ceilings."""
    examples = stage_subsets(units, stages, train_examples, check_examples)
    costs = [epoch_cost(n, train_examples, check_examples) for n in examples]
    e1 = int(min(MAX_STAGE1_EPOCHS, max(1, units / costs[0] // TRIALS_FOR_MORE_EPOCHS)))
    epochs = [e1 * EPOCH_GROWTH**k for k in range(min(stages, STAGES[0]))]
    while len(epochs) < stages:
        epochs.append(max(epochs[-1], min(EPOCH_GROWTH * epochs[-1], final_epochs // 2)))
    whole = [units // (e * c) for e, c in zip(epochs, costs)]
    fit = whole
    # One timed epoch on a shared machine can be off by several times either way: each stage may run up
    # to TRIAL_HEADROOM x the trials that fit, and its deadline decides how many it actually runs.
    if trial_gain is not None:
        fit = [n * trial_gain(e) for n, e in zip(fit, epochs)]
    trials = tuple(int(min(MAX_TRIALS, max(MIN_TRIALS, TRIAL_HEADROOM * n))) for n in fit)
    expected = tuple(int(min(t, max(1, n))) for t, n in zip(trials, fit))
    return examples, tuple(epochs), whole, fit, trials, expected


def _spent(fit, expected) -> float:
    """The share of the stages' time their expected trials take (a stage at its trial ceiling spends less)."""
    return sum(min(1.0, x / n) if n > 0 else 1.0 for x, n in zip(expected, fit)) / len(fit)


def epoch_cost(examples: int | None, train_examples: int | None, check_examples: int = 0) -> float:
    """An epoch on ``examples`` of the ``train_examples`` training rows, as a share of a whole-split epoch
    (its minibatch steps shrink with the subset, its accuracy checks on ``check_examples`` rows do not)."""
    if examples is None or not train_examples or examples >= train_examples:
        return 1.0
    checks = FORWARD_SHARE * check_examples
    return (examples + checks) / (train_examples + checks)


def smallest_search_seconds(trials: int, epoch_seconds: float, train_examples: int | None = None,
                            check_examples: int = 0) -> float:
    """Seconds ``trials`` one-epoch trials take on the smallest training subset the plan would take (the whole
    split when ``train_examples`` is None): what a search needs at the least."""
    smallest = stage_subsets(0.0, 2, train_examples, check_examples)[0]
    return trials * epoch_seconds * epoch_cost(smallest, train_examples, check_examples)


def stage_subsets(units: float, stages: int, train_examples: int | None, check_examples: int = 0) -> list:
    """Training examples per stage (None: the whole split): the whole split everywhere when stage 1 can run
    ``SUBSET_TRIALS`` one-epoch trials of ``units`` epoch-units on it; else stage 1 on the subset that fits
    that many (at least MIN_SUBSET_FRACTION of the split and MIN_SUBSET_EXAMPLES), stage k on
    fraction ** ((K - k) / (K - 1)) of the split, the last stage on all of it."""
    if not train_examples or units >= SUBSET_TRIALS or stages < 2:
        return [None] * stages
    checks = FORWARD_SHARE * check_examples
    wanted = units / SUBSET_TRIALS * (train_examples + checks) - checks  # epoch_cost(wanted) == units / SUBSET_TRIALS
    floor = max(MIN_SUBSET_FRACTION * train_examples, MIN_SUBSET_EXAMPLES)
    first = min(train_examples, max(wanted, floor)) / train_examples
    out = []
    for k in range(stages):
        n = int(round(train_examples * first ** ((stages - 1 - k) / (stages - 1))))
        out.append(None if n >= train_examples else n)
    return out


def stage_deadlines(start: float, plan: Plan) -> dict[int, float]:
    """Stage number -> the time.monotonic() after which it launches no new trial."""
    out, t = {}, start
    for k, seconds in enumerate(plan.stage_seconds, start=1):
        t += seconds
        out[k] = t
    return out


def fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def time_one_epoch(config, data, threads: int | None = None, monitor_every: int = 0) -> float:
    """Seconds one epoch of ``config`` (a TrainConfig; minibatch steps + the per-epoch accuracy checks) takes
    on ``data`` (the ``(dataset, preprocessor)`` of ``babysit.data.prepare``) with ``threads`` BLAS threads
    (None: as the process has them; a search's: what each of its workers gets) and the training monitors
    sampled every ``monitor_every`` iterations (0: none), as the run it stands for samples them (a ConvNet's
    epoch on CIFAR-10, AMD VM, 2026-12-08: 15.0-15.3 s without, 19.1-19.4 s with the final's every 10):
    what the plan is made from."""
    import contextlib
    import dataclasses

    from threadpoolctl import threadpool_limits

    from babysit.pipeline.training import monitored_training

    with threadpool_limits(limits=threads) if threads else contextlib.nullcontext():
        run = monitored_training(dataclasses.replace(config, epochs=1), data=data, monitor_every=monitor_every,
                                 verbose=False)
    return run.result.seconds


def time_epoch_side_by_side(executor, task, workers: int) -> list[float]:
    """Seconds one epoch of ``task`` (a one-epoch TrialTask, trained as a search trial is, monitors included) took
    in each of ``workers`` copies run at once by ``executor``: the pace of the search's trials, which share the
    machine's memory system and train slower side by side than one process alone (a ConvNet on CIFAR-10, Intel
    VM, 2026-12-02: 1.2-1.8x the epoch timed alone). Empty when no copy finished (the caller times one alone)."""
    from babysit.search.trial import run_trial

    outcomes = list(executor.run(run_trial, [task] * workers))
    return [float(r.metrics["seconds"]) for _, r in outcomes
            if r.status == "finished" and float(r.metrics.get("seconds") or 0) > 0]
