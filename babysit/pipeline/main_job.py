"""``babysit run``: the lecture's whole recipe in one call.

prepare the data (preprocessing fitted on the training split only) -> doctor (its recommended
learning-rate range seeds the search) -> coarse-to-fine random search within the time budget ->
train the best configuration (the one-standard-error rule: the most regularized trial the validation split
cannot tell from the best, ``search.selection``) longer -> evaluate on the held-out test split -> write DIR/ with the
checkpoint (model.safetensors + model.json), the run store (runs.sqlite) and a report
(report.html with embedded plots, report.md).

Each step lives in its own module; this one only orders them and keeps the time:
``search_ranges`` (the ranges), ``plan`` (one timed epoch -> stages, trials, final epochs),
``search.run_search`` (the trials), ``final_training`` (the longer run), ``report``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from babysit.doctor.monitors import EVERY as MONITOR_EVERY
from babysit.errors import BabysitError
from babysit.pipeline.final_training import REPORT_RESERVE_S, FinalRun, train_final
from babysit.pipeline.plan import (
    ALONE_EPOCH_SHARE, Plan, fmt_minutes, plan_search, smallest_search_seconds, stage_deadlines,
    time_epoch_side_by_side, time_one_epoch,
)
from babysit.pipeline.search_ranges import REG_RANGE, lr_range_from
from babysit.search.driver import SPEC_VERSION, SearchOutcome, SearchSpec, run_search
from babysit.search.selection import Selection, one_standard_error
from babysit.search.rungs import Rungs
from babysit.search.executors import available_cores, make_executor, threads_per_worker
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import Choice, LogUniform
from babysit.search.trial import TRIAL_MONITOR_EVERY, DataRef, TrialTask, prepared, trial_config
from babysit.store.recording import record_run
from babysit.train.recipe import LECTURE_LR_DECAY, TRAIN_ACC_ROWS, TrainConfig, model_factory
from babysit.validation import (
    AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, check_choice, check_directory, check_float, check_int,
)

STORE_NAME = "runs.sqlite"
MIN_SEARCH_EPOCHS = 8  # the smallest search: about this many one-epoch trials
LECTURE = TrainConfig()  # the recipe's defaults: the lecture's update rule and minibatch size


START_MODES = ("auto", "resume", "fresh")  # what run_job does with an unfinished job in its folder


class JobConflict(BabysitError):
    """The output folder holds a job this one must not be mixed with (or nothing to resume)."""


class ReportError(BabysitError):
    """The report could not be written (a full disk, a read-only folder)."""


class SearchFailed(BabysitError):
    """The search produced no configuration to train: every trial exploded, diverged or failed, or none ran."""


@dataclass(frozen=True)
class JobConfig:
    """The settings of ``babysit run``; checked when built. The training settings the search does not
    vary (update rule, lr decay, batch size) are the recipe's defaults, the lecture's."""

    data: str = "digits"
    model: str = "fc:100"
    budget_minutes: float = 1.0
    seed: int = 0
    workers: int = 1  # the CLI's default is search.executors.default_workers(): one 1-thread process per core
    preprocess: str = "standardize"
    rungs: bool = True  # stop clearly lost trials early inside each stage (babysit.search.rungs)

    def __post_init__(self):
        check_float("JobConfig", "budget_minutes", self.budget_minutes, POSITIVE)
        check_int("JobConfig", "seed", self.seed, NON_NEGATIVE)
        check_int("JobConfig", "workers", self.workers, AT_LEAST_ONE)
        TrainConfig(model=self.model)  # a bad --model fails before any work


@dataclass
class JobResult:
    """What ``run_job`` produced and measured."""

    out: Path
    checkpoint: Path | None
    store: Path
    report_html: Path
    report_md: Path
    search: SearchOutcome
    findings: list
    lr_note: str
    plan: Plan
    final: FinalRun
    test: dict | None
    timings: dict = field(default_factory=dict)
    selection: Selection | None = None  # the trial the final training took and why (search.selection)


def _print(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def run_job(config: JobConfig, out, *, observer=None, say=_print, mode: str = "auto") -> JobResult:
    """Run the whole recipe and write ``out``/; returns the JobResult.

    ``observer`` receives the search's events (babysit.search.console.SearchPrinter prints them);
    ``say`` prints the job's own progress lines (default: stdout). ``start`` decides what happens to an
    unfinished job found in ``out``: 'auto', 'resume' or 'fresh' (see ``_search_to_run``).
    """
    from babysit.pipeline.report import write_report
    from babysit.store import RunStore

    start = time.monotonic()
    deadline = start + 60.0 * config.budget_minutes
    out = check_directory("run_job", "out", out)
    mode = check_choice("run_job", "mode", mode, START_MODES)
    ref = DataRef(config.data, config.seed, config.preprocess)
    fixed = {"update": LECTURE.update, "lr_decay": LECTURE_LR_DECAY, "batch_size": LECTURE.batch_size}
    timings = {}

    # 1. data
    data = prepared(ref)
    dataset = data[0]
    timings["data"] = time.monotonic() - start
    say(f"data: {config.data}: {len(dataset.y_train)} train / {len(dataset.y_val)} val / {len(dataset.y_test)} test "
        f"examples of shape {dataset.input_shape}, {dataset.num_classes} classes; preprocessing {config.preprocess} "
        f"fitted on the training split ({timings['data']:.1f} s)")

    out.mkdir(parents=True, exist_ok=True)
    store_path = out / STORE_NAME
    with RunStore(store_path) as store:
        # a job killed before its final run was recorded resumes its search (see _search_to_run)
        name, resumed = _search_to_run(store, config, ref, say, mode)

        # 2. doctor
        t = time.monotonic()
        findings, lr_range, lr_note = _doctor(config, dataset, fixed, say)
        if resumed is None:  # a resumed job's doctor findings are in the store already
            _store_doctor_findings(store, name, findings)
        timings["doctor"] = time.monotonic() - t

        # 3. plan from one timed epoch, then search
        # the search's executor: its workers time the epoch first
        with make_executor(config.workers) as executor:
            t = time.monotonic()
            probe = {"lr": math.sqrt(lr_range[0] * lr_range[1]), "reg": 1e-3, **fixed}
            # timed as the trials will run: in each of the search's workers at once (side by side they train slower
            # than one process alone), else in this process
            probe_task = TrialTask(ref, config.model, probe, 1, config.seed)
            paces = time_epoch_side_by_side(executor, probe_task, config.workers) if config.workers > 1 else []
            probe_config = trial_config(ref, config.model, probe, 1, config.seed)
            final_pace = None
            if paces:
                epoch_seconds = sum(paces) / len(paces)
                alone = ""
                # the final trains alone in this process, faster than the workers side by side: its pace is timed
                # too where an epoch is cheap (else the final is planned at the workers' slower pace), with the
                # final's monitors (a quarter of a ConvNet's epoch)
                if epoch_seconds <= ALONE_EPOCH_SHARE * (deadline - time.monotonic()):
                    final_pace = time_one_epoch(probe_config, data, monitor_every=MONITOR_EVERY)
                    alone = f", {final_pace:.2f} s alone in this process (the final training's pace)"
                say(f"timed: one epoch took {', '.join(f'{p:.2f}' for p in paces)} s in the {len(paces)} workers "
                    f"side by side{alone}")
            else:
                epoch_seconds = time_one_epoch(probe_config, data, monitor_every=TRIAL_MONITOR_EVERY,
                                               threads=threads_per_worker(config.workers) if config.workers > 1 else None)
            seconds_left = deadline - time.monotonic() - REPORT_RESERVE_S
            check_examples = len(dataset.y_val) + min(TRAIN_ACC_ROWS, len(dataset.y_train))
            # (on a subset where epochs are long: an 8-minute ConvNet job was pushed 2 minutes past its budget by
            # the whole split's minimum)
            minimal = smallest_search_seconds(MIN_SEARCH_EPOCHS, epoch_seconds, len(dataset.y_train), check_examples)
            if seconds_left < minimal:  # no model without a search: run the smallest one, past the budget
                say(f"warning: the budget leaves {max(seconds_left, 0):.1f} s for the search, less than the smallest "
                    f"search needs (~{minimal:.1f} s at {epoch_seconds:.2f} s per epoch); running that, past the budget "
                    f"(give a larger --budget-minutes)")
                seconds_left = minimal
            rungs = Rungs() if config.rungs else None
            plan = plan_search(seconds_left, epoch_seconds, workers=config.workers, cores=available_cores(),
                               trial_gain=rungs.trial_gain if rungs else None, train_examples=len(dataset.y_train),
                               check_examples=check_examples, final_epoch_seconds=final_pace)
            if rungs is not None:  # a short stage gets a bracket whose promoted trials end before its deadline
                rungs = rungs.sized_to(plan.stage_epochs, plan.stage_epoch_times(), int(plan.parallel))
            if resumed is not None:  # the stored spec is the truth: its ranges, stages and horizon, not this plan's
                plan = _resumed_plan(plan, resumed)
            say(f"plan ({fmt_minutes(60 * config.budget_minutes)} budget, {config.workers} worker(s)): {plan.describe()}")
            if resumed is not None:
                spec = resumed
            else:
                # every trial anneals its rate as far as the final training will (TrainConfig.horizon): short
                # trials with a long run's per-epoch decay would favour rates too low for the long run
                space = SearchSpace({"lr": LogUniform(*lr_range), "reg": LogUniform(*REG_RANGE),
                                     **{k: Choice([v]) for k, v in fixed.items()}, "horizon": Choice([plan.final_epochs])})
                spec = SearchSpec(ref, config.model, space, plan.stage_trials, plan.stage_epochs, config.seed, rungs=rungs,
                                  stage_examples=plan.stage_examples)
            outcome = run_search(spec, store, executor, name=name, observer=observer,
                                 deadlines=stage_deadlines(time.monotonic(), plan))
        timings["search"] = time.monotonic() - t
        best = outcome.best
        if best is None:
            if not outcome.records:
                raise SearchFailed(f"the search ran no trial within the budget (the machine may be very busy); "
                                   f"give a larger --budget-minutes (was {config.budget_minutes:g})")
            raise SearchFailed(
                "every trial of the search exploded, diverged or failed; see the lines above and the doctor's "
                f"findings in {store_path} (try another --model or preprocessing)"
            )

        # 4. train the best configuration longer (the most regularized within one standard error of the best);
        # 5. evaluate on the held-out test split
        selection = one_standard_error(best, outcome.records)
        say(f"final: {selection.describe()}")
        t = time.monotonic()
        final = train_final(config, data, ref, selection.record, plan, deadline, out, store, name, say)
        timings["final"] = time.monotonic() - t
        if final.checkpoint is None:
            say(f"warning: the final training {final.solver.status} before its first epoch ended, "
                f"{len(final.attempts) + 1} time(s), down to lr {final.config.lr:.3e}: no model to test; the search's "
                f"trials are in {store_path} (try a lower lr range or another --model)")
        test = _test(final, dataset, say)
        from babysit.pipeline.provenance import final_run_extras

        record_run(store, final.run_id, final.run.record(role="final", search=name,
                                                         **({"test_acc": test["accuracy"]} if test else {}),
                                                         **final_run_extras(config, dataset, final, test, selection)))

        # 6. report (read from the store: the final run is recorded above); the job counts as done (a re-run
        # starts a new search) only once its report is recorded as the final run's artifact, so a job killed
        # while writing it trains its final run again when re-run
        timings["total_before_report"] = time.monotonic() - start
        result = JobResult(out, final.checkpoint, store_path, out / "report.html", out / "report.md", outcome,
                           findings, lr_note, plan, final, test, timings, selection)
        try:
            write_report(result, config)
        except OSError as exc:  # a full disk, a read-only folder: the job is resumed once it can be written
            raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}"
                              f"{f': {exc.filename}' if exc.filename else ''}; the search and the checkpoint are "
                              "kept, free space then run the same command again (it trains the final run again "
                              "and writes the report)") from None
        for path in (result.report_html, result.report_md):
            store.add_artifact(final.run_id, "report", path)
        timings["total"] = time.monotonic() - start
    return result


def _test(final: FinalRun, dataset, say) -> dict | None:
    """The final model (its best epoch's weights) on the held-out test split; None without a checkpoint or test split."""
    if final.checkpoint is None or not len(dataset.y_test):
        return None
    from babysit.train.evaluate import evaluate

    test = {**evaluate(final.run.result.model, dataset.X_test, dataset.y_test, dataset.class_names),
            "num_examples": int(len(dataset.y_test))}
    say(f"test: accuracy {test['accuracy']:.4f} on {len(dataset.y_test)} held-out examples")
    return test


def _store_doctor_findings(store, name: str, findings) -> None:
    """Record the doctor's findings for the job's search ``name`` (tagged ``details.search``), once: a job
    killed after its doctor, or resumed, finds them stored already and adds none."""
    if not findings:
        return
    stored = any(f["run_id"] is None and isinstance(f["details"], dict) and f["details"].get("search") == name
                 for f in store.findings())
    if not stored:
        rows = [finding.to_dict() if hasattr(finding, "to_dict") else dict(finding) for finding in findings]
        store.add_findings(None, [{**row, "details": {**(row.get("details") or {}), "search": name}} for row in rows])


def _fresh_search_name(store) -> str:
    """'run 1', 'run 2', ...: each `babysit run` into the same folder adds a search, history is kept."""
    names = {s["name"] for s in store.searches()}
    k = 1
    while f"run {k}" in names:
        k += 1
    return f"run {k}"


def _search_to_run(store, config: JobConfig, ref: DataRef, say, start: str = "auto") -> tuple[str, SearchSpec | None]:
    """(name, stored spec to resume) for the job's unfinished search, else (a fresh 'run K', None).

    The latest 'run K' search is unfinished while no final run records ``role: final, search: 'run K'``
    with its report as an artifact (a kill -9 during its search, its final training or its report: the
    report artifact is added once the report is written). It is resumed when it was for the same data, preprocessing, model and seed, with its stored
    spec: the lr range and the plan it was made with came from the doctor and a timed epoch, which can
    come out differently in this run. An unfinished job for other settings is never mixed with this one:
    it is refused (``start='auto'`` or ``'resume'``) unless ``start='fresh'`` starts a new search beside it.
    ``start='resume'`` also refuses when there is nothing to resume.
    """
    searches = [s for s in store.searches() if s["name"].startswith("run ") and s["name"][4:].isdigit()]
    last = max(searches, key=lambda s: int(s["name"][4:])) if searches else None
    reported = {a["run_id"] for a in store.artifacts() if a["kind"] == "report"}
    finals = {r["extra"].get("search") for r in store.runs()
              if r["extra"].get("role") == "final" and r["id"] in reported}
    if start == "fresh" or last is None or last["name"] in finals:
        if start == "resume":
            what = f"its last job '{last['name']}' finished" if last else "it holds no job"
            raise JobConflict(f"nothing to resume in {store.path.parent}: {what}; run without --resume "
                              "to start a new job there")
        name = _fresh_search_name(store)
        if last is not None:
            say(f"{store.path.parent} holds job '{last['name']}' "
                f"({'finished' if last['name'] in finals else 'unfinished, left as it is'}); "
                f"starting '{name}' beside it (its history is kept)")
        return name, None
    stored = last["spec"]
    wanted = {"data": ref.to_json(), "model": config.model, "seed": config.seed}
    differing = [k for k, v in wanted.items() if stored.get(k) != v]
    if differing or stored.get("version") != SPEC_VERSION:
        theirs = ", ".join(f"{k} {stored.get(k)!r}" for k in differing) or "an older spec"
        raise JobConflict(
            f"{store.path.parent} holds the unfinished job '{last['name']}' for other settings ({theirs}); "
            "give the same settings to resume it, --fresh to start a new job beside it, or another --out")
    done = len(store.finished_trials(last["id"]))
    say(f"resuming search '{last['name']}': {done} trials already done (its stored ranges and stages are kept)")
    return last["name"], SearchSpec.from_json(stored)


def _resumed_plan(plan: Plan, spec: SearchSpec) -> Plan:
    """``plan`` (this run's time) with the resumed search's stages, trials and final epochs (its horizon)."""
    stages = spec.stages
    search_seconds = sum(plan.stage_seconds)
    horizon = spec.space["horizon"].options[0] if "horizon" in spec.space else plan.final_epochs
    return dataclasses.replace(
        plan, stage_trials=spec.stage_trials, stage_epochs=spec.stage_epochs,
        expected_trials=tuple(min(t, x) for t, x in zip(spec.stage_trials, plan.expected_trials + spec.stage_trials)),
        stage_seconds=(search_seconds / stages,) * stages, final_epochs=int(horizon), stage_examples=spec.stage_examples)


def _doctor(config: JobConfig, dataset, fixed, say):
    """Run the doctor on fresh models; returns (findings, lr range for the search, where the range came from)."""
    from babysit.doctor import run_doctor

    def show(finding):
        say(f"doctor: {finding.check}: {finding.status}: {finding.explanation}")

    make = model_factory(TrainConfig(model=config.model, seed=config.seed), dataset.input_shape, dataset.num_classes)
    findings = run_doctor(make, dataset, seed=config.seed, update_rule=fixed["update"],
                          batch_size=fixed["batch_size"], on_finding=show)
    lr_range, note, from_doctor = lr_range_from(findings, fixed["update"])
    if not from_doctor:  # the doctor found no working rate: say so before the search starts
        say("doctor: " + note)
    return findings, lr_range, note
