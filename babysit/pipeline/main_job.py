"""``babysit run``: the lecture's whole recipe in one call.

load + preprocess (fitted on the training split only) -> doctor (its recommended learning-rate
range seeds the search) -> coarse-to-fine random search within the time budget -> train the
best configuration longer -> evaluate on the held-out test split -> write DIR/ with the
checkpoint (model.safetensors + model.json), the run store (runs.sqlite) and a report
(report.html with embedded plots, report.md).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from babysit.errors import ConfigError
from babysit.pipeline.plan import MAX_FINAL_EPOCHS, Plan, fmt_minutes, plan_search, stage_deadlines
from babysit.pipeline.record import log_monitor_series, log_solver_series, solver_metrics
from babysit.search.driver import SearchOutcome, SearchSpec, run_search
from babysit.search.executors import available_cores, make_executor
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import LogUniform
from babysit.search.trial import DataRef, build_trial_model, make_solver, model_spec_with_hidden, prepared_data, trial_seed

CHECKPOINT_NAME = "model.safetensors"
STORE_NAME = "runs.sqlite"
LECTURE_LR = (1e-6, 1e-3)  # the lecture's coarse range, when the doctor cannot recommend one
# The lecture searched reg in 1e-5..1e5 for weights initialized at 1e-4 * randn. With He/Xavier init
# and standardized inputs, 0.5 * reg * sum(W**2) is ~50 x reg for the 2-layer net at init, so
# reg above ~10 only shrinks the weights to zero: the range stops there.
REG_RANGE = (1e-5, 1e1)
PROBE_GAP_ABOVE = math.sqrt(10.0)  # the doctor's lr probes are a decade apart: search half way to the next
REPORT_RESERVE_S = 5.0  # kept back from the budget for evaluation, plots and the report
MIN_SEARCH_EPOCHS = 8  # the smallest search: about this many one-epoch trials


@dataclass(frozen=True)
class JobConfig:
    """The settings of ``babysit run``."""

    data: str = "digits"
    model: str = "fc:100"
    budget_minutes: float = 1.0
    seed: int = 0
    workers: int = 1
    preprocess: str = "standardize"
    update: str = "momentum"
    lr_decay: float = 0.95
    batch_size: int = 100

    def check(self) -> None:
        if not (isinstance(self.budget_minutes, (int, float)) and math.isfinite(self.budget_minutes)
                and self.budget_minutes > 0):
            raise ConfigError(f"--budget-minutes must be a number > 0; got {self.budget_minutes!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer; got {self.seed!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"--workers must be >= 1; got {self.workers!r}")


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
    final: dict
    test: dict | None
    timings: dict = field(default_factory=dict)


class _Say:
    def __init__(self, out=None):
        self.out = out or sys.stdout

    def __call__(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def run_job(config: JobConfig, out, *, observer=None, say=None) -> JobResult:
    """Run the whole recipe and write ``out``/; returns the JobResult.

    ``observer`` receives the search's events (babysit.search.console.SearchPrinter prints them);
    ``say`` prints the job's own progress lines (default: stdout).
    """
    from babysit.store import RunStore

    config.check()
    say = say or _Say()
    start = time.monotonic()
    deadline = start + 60.0 * config.budget_minutes
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a directory")
    ref = DataRef(config.data, config.seed, config.preprocess)
    fixed = {"update": config.update, "lr_decay": config.lr_decay, "batch_size": config.batch_size}
    model_spec_with_hidden(config.model, None)  # a bad --model fails before any work
    timings = {}

    # 1. data
    data = prepared_data(ref)
    timings["data"] = time.monotonic() - start
    say(f"data: {config.data}: {len(data.y_train)} train / {len(data.y_val)} val / {len(data.y_test)} test "
        f"examples of shape {data.input_shape}, {data.num_classes} classes; preprocessing {config.preprocess} "
        f"fitted on the training split ({timings['data']:.1f} s)")

    out.mkdir(parents=True, exist_ok=True)
    store_path = out / STORE_NAME
    with RunStore(store_path) as store:
        # 2. doctor
        t = time.monotonic()
        findings, lr_range, lr_note = _doctor(config, data, fixed, say)
        if findings:
            store.add_findings(None, findings)
        timings["doctor"] = time.monotonic() - t

        # 3. plan from one timed epoch, then search
        t = time.monotonic()
        epoch_seconds = _time_one_epoch(config, data, fixed, lr_range)
        cores = available_cores()
        seconds_left = deadline - time.monotonic() - REPORT_RESERVE_S
        minimal = MIN_SEARCH_EPOCHS * epoch_seconds
        if seconds_left < minimal:  # no model without a search: run the smallest one, past the budget
            say(f"warning: the budget leaves {max(seconds_left, 0):.1f} s for the search, less than the smallest "
                f"search needs (~{minimal:.1f} s at {epoch_seconds:.2f} s per epoch); running that, past the budget "
                f"(give a larger --budget-minutes)")
            seconds_left = minimal
        plan = plan_search(seconds_left, epoch_seconds, workers=config.workers, cores=cores)
        say(f"plan ({fmt_minutes(60 * config.budget_minutes)} budget, {config.workers} worker(s)): {plan.describe()}")
        # every trial anneals its rate as far as the final training will (see trial.epoch_decay): short
        # trials with a long run's per-epoch decay would favour rates too low for the long run
        space = SearchSpace({"lr": LogUniform(*lr_range), "reg": LogUniform(*REG_RANGE),
                             **{k: _constant(v) for k, v in fixed.items()},
                             "horizon": _constant(plan.final_epochs)})
        spec = SearchSpec(ref, config.model, space, plan.stage_trials, plan.stage_epochs, config.seed)
        name = _fresh_search_name(store)
        with make_executor(config.workers) as executor:
            outcome = run_search(spec, store, executor, name=name, observer=observer,
                                 deadlines=stage_deadlines(time.monotonic(), plan))
        timings["search"] = time.monotonic() - t
        best = outcome.best
        if best is None:
            if not outcome.records:
                raise ConfigError(f"the search ran no trial within the budget (the machine may be very busy); "
                                  f"give a larger --budget-minutes (was {config.budget_minutes:g})")
            raise ConfigError(
                "every trial of the search exploded, diverged or failed; see the lines above and the doctor's "
                f"findings in {store_path} (try another --model or preprocessing)"
            )

        # 4. train the best configuration longer; 5. evaluate on the held-out test split
        t = time.monotonic()
        final = _train_final(config, data, ref, best, plan, deadline, out / CHECKPOINT_NAME, store, name, say)
        timings["final"] = time.monotonic() - t
        test = None
        if final["checkpoint"] is not None and len(data.y_test):
            from babysit.train.evaluate import evaluate

            test = {**evaluate(final["model"], data.X_test, data.y_test, data.class_names),
                    "num_examples": int(len(data.y_test))}
            say(f"test: accuracy {test['accuracy']:.4f} on {len(data.y_test)} held-out examples")
            store.finish_run(final["run_id"], final["status"], {**final["metrics"], "test_acc": test["accuracy"]})
        else:
            store.finish_run(final["run_id"], final["status"], final["metrics"])

        # 6. report
        from babysit.pipeline.report import write_report

        timings["total_before_report"] = time.monotonic() - start
        result = JobResult(out, final["checkpoint"], store_path, out / "report.html", out / "report.md", outcome,
                           findings, lr_note, plan, final, test, timings)
        write_report(result, config, store)
        for kind, path in (("checkpoint", final["checkpoint"]), ("report", result.report_html),
                           ("report", result.report_md)):
            if path is not None:
                store.add_artifact(final["run_id"], kind, path)
        timings["total"] = time.monotonic() - start
    return result


def _constant(value):
    from babysit.search.spaces import Choice

    return Choice([value])


def _fresh_search_name(store) -> str:
    """'run 1', 'run 2', ...: each `babysit run` into the same folder adds a search, history is kept."""
    names = {s["name"] for s in store.searches()}
    k = 1
    while f"run {k}" in names:
        k += 1
    return f"run {k}"


def _doctor(config, data, fixed, say):
    """Run the doctor; returns (findings, lr range for the search, a note on where the range came from)."""
    try:
        from babysit.doctor import run_doctor
    except ImportError as exc:  # the doctor package is optional at this layer
        note = (f"the doctor is not available ({exc}); the search starts from the lecture's lr range "
                f"{LECTURE_LR[0]:g} .. {LECTURE_LR[1]:g}")
        say("doctor: " + note)
        return [], LECTURE_LR, note

    def factory(**overrides):  # fresh models for the checks (dtype=np.float64 for the gradient check)
        from babysit.train.model_spec import build_from_spec

        return build_from_spec(config.model, input_shape=data.input_shape, num_classes=data.num_classes,
                               seed=config.seed, **overrides)

    def show(finding):
        say(f"doctor: {finding.check}: {finding.status}: {finding.explanation}")

    findings = run_doctor(factory, data.solver_data(), seed=config.seed, update_rule=fixed["update"],
                          batch_size=fixed["batch_size"], on_finding=show)
    lr = next((f for f in findings if f.check == "lr_range"), None)
    if lr is not None and isinstance(lr.value, (list, tuple)) and len(lr.value) == 2:
        low, high = float(lr.value[0]), float(lr.value[1])
        if not low < high:  # a single good probe: half a decade below
            low = low / math.sqrt(10.0)
        # The probes are a decade apart and short: the highest rate that works lies between the last good
        # probe and the first bad one, and a long annealed run tolerates (and usually wants) rates near it.
        high = high * PROBE_GAP_ABOVE
        note = (f"the doctor's lr_range probe recommends {lr.value[0]:g} .. {lr.value[1]:g} "
                f"({fixed['update']}); the search starts from {low:.3g} .. {high:.3g}, half a decade past the "
                f"last good probe towards the first failing one")
        return findings, (low, high), note
    note = (f"the doctor's lr_range found no working rate ({lr.explanation if lr else 'not run'}); the search "
            f"starts from the lecture's lr range {LECTURE_LR[0]:g} .. {LECTURE_LR[1]:g}")
    say("doctor: " + note)
    return findings, LECTURE_LR, note


def _time_one_epoch(config, data, fixed, lr_range) -> float:
    """Seconds of one epoch (minibatch steps + the per-epoch accuracy checks) at the middle of the lr range."""
    lr = math.sqrt(lr_range[0] * lr_range[1])
    params = {"lr": lr, "reg": 1e-3, **fixed}
    model = build_trial_model(config.model, params, data.input_shape, data.num_classes, seed=config.seed)
    solver = make_solver(model, data.solver_data(), params, 1, seed=config.seed)
    t = time.perf_counter()
    with _quiet():
        solver.train()
    return time.perf_counter() - t


def _quiet():
    import numpy as np

    return np.errstate(all="ignore")


def _train_final(config, data, ref, best, plan, deadline, checkpoint_path, store, name, say) -> dict:
    """Train ``best``'s configuration for the planned epochs (fewer if the budget runs short), keeping the
    best-validation model in ``checkpoint_path``; records the run in the store."""
    from babysit.doctor import TrainingMonitor, diagnose_solver
    from babysit.train.callbacks import Callback, Checkpoint

    params = dict(best.params)
    # the trial's own pace is a fresher measure than the epoch timed before the search
    seconds_per_epoch = best.seconds / best.epochs if best.seconds and best.epochs else plan.epoch_seconds
    room = deadline - time.monotonic() - REPORT_RESERVE_S
    epochs = max(1, min(MAX_FINAL_EPOCHS, int(room / seconds_per_epoch))) if room > 0 else 1
    epochs = max(epochs, int(best.epochs or 1))  # never shorter than the trial it repeats
    model_text = model_spec_with_hidden(config.model, params.get("hidden"))
    train_config = {"data": config.data, "model": model_text, "seed": config.seed, "preprocess": config.preprocess,
                    "epochs": epochs, "search": name, "from_run": best.run_id, **params}
    seed = trial_seed(config.seed, plan_stage_final(plan), 0)
    model = build_trial_model(config.model, params, data.input_shape, data.num_classes, seed=seed)
    checkpoint = Checkpoint(checkpoint_path, class_names=data.class_names, preprocessor=data.preprocessor,
                            train_config=train_config)

    class StopAtDeadline(Callback):
        def on_epoch_end(self, solver):
            if time.monotonic() > deadline - REPORT_RESERVE_S and solver.epoch < solver.num_epochs:
                solver.request_stop("finished", f"the time budget ran out after {solver.epoch} epochs")

    class Lines(Callback):
        def on_epoch_end(self, solver):
            say("final: Finished epoch %d / %d: cost %f, train: %f, val %f, lr %e" % (
                solver.epoch, solver.num_epochs, solver.loss, solver.train_acc_history[-1],
                solver.val_acc_history[-1], solver.lr))

    say(f"final: training the best configuration (run {best.run_id}, val_acc {best.val_acc:f} after "
        f"{best.epochs:g} epochs) for {epochs} epochs")
    run_id = store.start_run(None, None, None, {**params, "model": model_text, "epochs": epochs})
    monitor = TrainingMonitor()
    solver = make_solver(model, data.solver_data(), params, epochs, seed=seed + 1,
                         callbacks=[checkpoint, StopAtDeadline(), Lines(), monitor])
    t = time.perf_counter()
    with _quiet():
        solver.train()
    seconds = time.perf_counter() - t
    log_solver_series(store, run_id, solver)
    # the lecture's "babysitting": what the curves and the monitors say about the run
    history = monitor.history
    diagnoses = diagnose_solver(solver, monitor)
    log_monitor_series(store, run_id, history)
    store.add_findings(run_id, diagnoses)
    for finding in diagnoses:
        say(f"final: diagnosis: {finding.check}: {finding.status}: {finding.explanation}")
    metrics = {**solver_metrics(solver, seconds), "role": "final", "search": name}
    return {"run_id": run_id, "status": solver.status, "metrics": metrics, "model": model, "solver": solver,
            "checkpoint": checkpoint.path if checkpoint.saved else None, "epochs": epochs, "seconds": seconds,
            "train_config": train_config, "diagnoses": diagnoses, "monitor_history": history}


def plan_stage_final(plan: Plan) -> int:
    """The stage number the final training's seed is drawn for (one past the search's stages)."""
    return len(plan.stage_trials) + 1
