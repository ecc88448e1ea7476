"""The search driver: stages coarse to fine, trials on an executor, every result into the run store.

    spec = SearchSpec(data=DataRef('digits'), model='fc:100',
                      space=SearchSpace.parse({'lr': '1e-6:1e-3:log', 'reg': '1e-5:1e5:log'}),
                      stage_trials=(20, 20), stage_epochs=(5, 10), seed=0)
    with RunStore('runs.sqlite') as store, make_executor(workers=2) as executor:
        outcome = run_search(spec, store, executor, observer=printer)

The driver is the only writer of the store. A trial is recorded 'running' when it is handed to
the executor and finished (metric series first, then its final status, each one transaction)
as soon as its result comes back, so a kill -9 loses nothing finished. Running the same spec
again against the same store skips every finished trial and reruns the interrupted ones; the
ranges of later stages are recomputed from the stored results, so they come out the same.
Configurations come from ``RandomSampler(space, seed=(seed, stage))`` and trial seeds from
``trial_seed(seed, stage, index)``: the same spec gives the same configurations and results
whichever executor runs them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babysit.search.executors import WAIT
from babysit.search.records import TrialRecord, ranked
from babysit.search.rungs import STOPPED, Rungs, stop_reason
from babysit.search.samplers import SAMPLERS, GridSampler, RandomSampler
from babysit.search.search_space import SearchSpace
from babysit.search.spaces import Choice
from babysit.search.stages import EdgeWarning, next_stage_space, spec_chance
from babysit.search.trial import DataRef, TrialTask, run_trial, trial_seed
from babysit.train.outcome import RunRecord
from babysit.validation import AT_LEAST_ONE, NON_NEGATIVE, check_choice, check_int, check_int_list, invalid

SPEC_VERSION = 1
# A promoted trial's continuation saves its training state after an epoch once this many seconds have passed
# since its last save: a kill loses at most about this much of it, and the saves cost ~0.1% (one fc:50 CIFAR-10
# state: ~9 ms; saving after every 0.33 s epoch would cost ~3%, after every ~10 ms digits epoch ~50%)
CONTINUATION_SAVE_SECONDS = 10.0
EPOCH_GROWTH = 2  # each stage trains this many times longer than the one before


@dataclass(frozen=True)
class SearchSpec:
    """What defines a search (and must match to resume it): data, model, ranges, stages, seed, sampler.

    ``stage_trials[k]`` / ``stage_epochs[k]``: trials and epochs of stage k + 1.
    ``rungs``: early stopping of clearly lost trials inside each stage (babysit.search.rungs), or None.
    ``stage_examples[k]``: the training examples stage k + 1 trains on, a stratified subset of the
    training split (``babysit.search.trial.subset``; None: the whole split), or None: every stage
    on the whole split. The coarse stages of a search whose epochs are long may train on fewer.
    """

    data: DataRef
    model: str
    space: SearchSpace
    stage_trials: tuple[int, ...] = (10, 10)
    stage_epochs: tuple[int, ...] = (5, 10)
    seed: int = 0
    sampler: str = "random"
    rungs: Rungs | None = None
    stage_examples: tuple[int | None, ...] | None = None

    def __post_init__(self):
        trials = check_int_list("SearchSpec", "stage_trials", self.stage_trials, allow_empty=False)
        epochs = check_int_list("SearchSpec", "stage_epochs", self.stage_epochs, allow_empty=False)
        if len(epochs) != len(trials):
            raise invalid("SearchSpec", "stage_epochs",
                          f"one int in [1, inf) per stage, as many as stage_trials ({len(trials)})", self.stage_epochs)
        object.__setattr__(self, "stage_trials", trials)
        object.__setattr__(self, "stage_epochs", epochs)
        object.__setattr__(self, "seed", check_int("SearchSpec", "seed", self.seed, NON_NEGATIVE))
        check_choice("SearchSpec", "sampler", self.sampler, SAMPLERS)
        if self.rungs is not None and not isinstance(self.rungs, Rungs):
            raise invalid("SearchSpec", "rungs", "a babysit.search.rungs.Rungs or None", self.rungs)
        if self.stage_examples is not None:
            examples = tuple(self.stage_examples) if isinstance(self.stage_examples, (list, tuple)) else None
            if (examples is None or len(examples) != len(trials)
                    or not all(n is None or (isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1)
                               for n in examples)):
                raise invalid("SearchSpec", "stage_examples",
                              f"None or one int in [1, inf) or None per stage ({len(trials)})", self.stage_examples)
            object.__setattr__(self, "stage_examples", tuple(None if n is None else int(n) for n in examples))

    @classmethod
    def from_cli(cls, *, data: DataRef, model: str, space: SearchSpace, stages: int, trials: int, epochs: int,
                 seed: int = 0, sampler: str = "random", rungs: Rungs | None = None,
                 stage_examples: tuple[int | None, ...] | None = None) -> SearchSpec:
        """K ``stages`` of ``trials`` each, ``epochs`` in stage 1, doubling after (the CLI's three numbers)."""
        stages, trials, epochs = (check_int("SearchSpec.from_cli", name, value, AT_LEAST_ONE)
                                  for name, value in (("stages", stages), ("trials", trials), ("epochs", epochs)))
        return cls(data, model, space, (trials,) * stages, tuple(epochs * EPOCH_GROWTH**k for k in range(stages)),
                   seed, sampler, rungs, stage_examples)

    @property
    def stages(self) -> int:
        return len(self.stage_trials)

    @classmethod
    def from_json(cls, obj: Mapping) -> SearchSpec:
        """The spec ``to_json`` wrote (what a search stored in a run store resumes with)."""
        if obj.get("version") != SPEC_VERSION:
            raise invalid("SearchSpec.from_json", "version", f"{SPEC_VERSION}", obj.get("version"))
        return cls(DataRef(**obj["data"]), obj["model"], SearchSpace.from_json(obj["space"]),
                   tuple(obj["stage_trials"]), tuple(obj["stage_epochs"]), obj["seed"], obj["sampler"],
                   Rungs.from_json(obj.get("rungs")),
                   None if obj.get("stage_examples") is None else tuple(obj["stage_examples"]))

    def to_json(self) -> dict:
        """The JSON stored with the search; a resume must present the same (no 'rungs' key without
        rungs, no 'stage_examples' without subsets, so the searches stored before them resume unchanged)."""
        obj = {
            "version": SPEC_VERSION, "data": self.data.to_json(), "model": self.model,
            "space": self.space.to_json(), "stage_trials": list(self.stage_trials),
            "stage_epochs": list(self.stage_epochs), "seed": self.seed, "sampler": self.sampler,
        }
        if self.rungs is not None:
            obj["rungs"] = self.rungs.to_json()
        if self.stage_examples is not None:
            obj["stage_examples"] = list(self.stage_examples)
        return obj

    def train_examples(self, stage: int) -> int | None:
        """The training examples of ``stage`` (1-based; None: the whole split)."""
        return None if self.stage_examples is None else self.stage_examples[stage - 1]


@dataclass
class StageOutcome:
    """One stage: its number, ranges, epochs, trials (best first via ``ranked``), edge warnings and
    the training examples its trials trained on (None: the whole split)."""

    stage: int
    space: SearchSpace
    epochs: int
    planned: int
    records: list[TrialRecord] = field(default_factory=list)
    warnings: list[EdgeWarning] = field(default_factory=list)
    stopped_by_budget: bool = False
    train_examples: int | None = None

    @property
    def best(self) -> TrialRecord | None:
        good = ranked(self.records)
        return good[0] if good else None


@dataclass
class SearchOutcome:
    """The whole search: its id in the store, the stages and the best trial over all of them."""

    search_id: int
    name: str
    stages: list[StageOutcome]

    @property
    def records(self) -> list[TrialRecord]:
        return [r for s in self.stages for r in s.records]

    @property
    def best(self) -> TrialRecord | None:
        # the last stage trained longest: prefer its best, fall back to earlier stages. A later stage whose
        # budget ran out at its rungs (no trial went on to its full epochs) still has its trials' rung results:
        # they stand beside the earlier stage's best, and the higher validation accuracy is taken (a stopped
        # trial trained at most as long as it, often on more examples: a ConvNet job on CIFAR-10 trained its
        # stage-1 best, 0.496 after one epoch on a subset, over stage-2 trials stopped at 0.49-0.56 on the whole
        # split). Where no trial ran its full epochs, the best trial stopped at a rung.
        cut = []
        for stage in reversed(self.stages):
            if stage.best is not None:
                return min([stage.best, *cut], key=lambda r: (-r.val_acc, -r.stage, r.index))
            cut += [r for r in stage.records if r.status == STOPPED and r.val_acc is not None
                    and math.isfinite(r.val_acc)]
        return min(cut, key=lambda r: (-r.val_acc, -r.stage, r.index)) if cut else None

    @property
    def warnings(self) -> list[EdgeWarning]:
        return [w for s in self.stages for w in s.warnings]


class Observer:
    """Hooks the driver calls while it runs (printing, progress bars); all no-ops here."""

    def on_search_start(self, spec: SearchSpec, executor, resumed: int) -> None: ...

    def on_stage_start(self, stage: int, space: SearchSpace, trials: int, epochs: int, done: int) -> None: ...

    def on_trial(self, record: TrialRecord, done: int, total: int, names: list[str]) -> None: ...

    def on_stage_end(self, outcome: StageOutcome) -> None: ...

    def on_search_end(self, outcome: SearchOutcome) -> None: ...


def stage_configs(spec: SearchSpec, space: SearchSpace, stage: int) -> list[dict]:
    """The configurations of ``stage`` (1-based): a function of the spec, the stage's ranges and the seed only."""
    n = spec.stage_trials[stage - 1]
    if spec.sampler == "grid":
        return GridSampler(space, grid_points(space, n)).configs(n)
    return RandomSampler(space, seed=(spec.seed, stage)).configs(n)


def grid_points(space: SearchSpace, trials: int) -> dict[str, int]:
    """Points per range so the grid has at most ``trials`` points (lists count all their options)."""
    fixed = math.prod(len(s.options) for s in space.values() if isinstance(s, Choice))
    ranges = [n for n, s in space.items() if not isinstance(s, Choice)]
    per = max(1, int((trials / fixed) ** (1 / len(ranges)) + 1e-9)) if ranges else 1
    return {n: (1 if isinstance(s, Choice) else per) for n, s in space.items()}


def varying(space: SearchSpace) -> list[str]:
    """Names that actually vary (a one-option list is a constant): lr and reg first, as the lecture prints."""
    names = [n for n, s in space.items() if not (isinstance(s, Choice) and len(s.options) == 1)]
    return sorted(names, key=lambda n: ({"lr": 0, "reg": 1}.get(n, 2), n))


def run_search(
    spec: SearchSpec, store, executor, *, name: str = "search", observer: Observer | None = None,
    deadlines: Mapping[int, float] | None = None, trial_fn: Callable = run_trial, state_dir=None,
) -> SearchOutcome:
    """Run (or resume) the search ``name`` in ``store`` on ``executor``; returns its outcome.

    Inputs: spec; store, a writable RunStore; executor (babysit.search.executors);
    observer for output; deadlines, stage -> time.monotonic() after which that stage launches
    no new trial (running ones finish); trial_fn, the picklable trial function (default run_trial);
    state_dir, the folder where trials stopped at a rung leave their training state for their
    promoted continuation (default ``search_state_dir(store, search_id)``; any executor's workers
    must reach it: a local folder for local workers and a LocalCluster); emptied and removed
    as the trials no longer need it.
    Raises StoreError when ``store`` holds ``name`` with another spec (nothing is written then).
    """
    observer = observer or Observer()
    check_setup(spec)
    search_id = store.create_or_open_search(name, spec.to_json())
    done = store.finished_trials(search_id)
    # a stage a later one has started from is closed: under a deadline it may have stopped early, and the later
    # stage's ranges (so its stored trials) came from the trials it had then; running more would change them
    started = {r["stage"] for r in store.runs(search_id) if r["stage"] is not None}
    observer.on_search_start(spec, executor, len(done))
    outcome = SearchOutcome(search_id, name, [])
    space = spec.space
    states = Path(state_dir) if state_dir is not None else search_state_dir(store, search_id)
    for stage in range(1, spec.stages + 1):
        stage_outcome = _run_stage(spec, store, executor, search_id, stage, space, done, observer,
                                   (deadlines or {}).get(stage), trial_fn, closed=any(s > stage for s in started),
                                   states=states)
        outcome.stages.append(stage_outcome)
        space, stage_outcome.warnings = next_stage_space(space, stage_outcome.records, stage,
                                                          last=stage == spec.stages, chance=spec_chance(spec))
        observer.on_stage_end(stage_outcome)
    _remove_state_dir(states)
    observer.on_search_end(outcome)
    return outcome


STATE_DIR_SUFFIX = ".states"


def search_state_dir(store, search_id: int) -> Path:
    """Where the search's rung runs leave their training states: ``runs.states/search-ID/`` beside the
    store file ``runs.sqlite``."""
    path = Path(store.path)
    return path.with_name(path.stem + STATE_DIR_SUFFIX) / f"search-{search_id}"


def _remove_state_dir(states: Path) -> None:
    """Remove the search's state folder (and the store's, once empty): every trial is decided by now."""
    for folder in (states, states.parent):
        try:
            for leftover in folder.glob("*.safetensors*"):  # a state whose trial never came back (a dead worker)
                leftover.unlink(missing_ok=True)
            folder.rmdir()
        except OSError:  # not there, or not empty (another search's states): leave it
            return


def check_setup(spec: SearchSpec) -> None:
    """Fail before any trial runs when no trial could: unknown data, a bad model spec, fixed options the
    model cannot take, hidden for a model without hidden layers. Prepares the data in this process.

    Settings that fail only in some combinations (e.g. init he,small with weight_scale) are left to
    the trials: those trials fail, are recorded 'failed', and the search goes on.
    """
    from babysit.search.trial import prepared, trial_config
    from babysit.train.recipe import build_model

    dataset, _ = prepared(spec.data)
    constants = {n: s.options[0] for n, s in spec.space.items() if isinstance(s, Choice) and len(s.options) == 1}
    if "hidden" in spec.space:
        constants.setdefault("hidden", 1)
    config = trial_config(spec.data, spec.model, constants, spec.stage_epochs[0], seed=0)
    build_model(config, dataset.input_shape, dataset.num_classes)


def _run_stage(spec, store, executor, search_id, stage, space, done, observer, deadline, trial_fn,
               closed=False, states=None) -> StageOutcome:
    configs = stage_configs(spec, space, stage)
    epochs = spec.stage_epochs[stage - 1]
    result = StageOutcome(stage, space, epochs, len(configs), train_examples=spec.train_examples(stage))
    names = varying(space)
    for index, config in enumerate(configs):
        if (stage, index) in done:
            result.records.append(TrialRecord.from_run(done[(stage, index)]))
    observer.on_stage_start(stage, space, len(configs), epochs, len(result.records))
    # its rung, with its own bracket (Rungs.sized_to); none for a stage of fewer trials than a bracket: an 8-minute
    # ConvNet job's 4-trial stage 2 stopped both trials it ran at their rung
    rung = spec.rungs.stage_rung(stage, len(configs), epochs) if spec.rungs is not None else None
    # a closed stage launches nothing: its stored trials are all it has (so no rung decisions are left to make)
    plan = (_Stage if rung is None or closed else _HalvingStage)(spec, store, search_id, stage, configs, epochs,
                                                                  done, rung, states)
    if closed:
        plan.todo = []
    result.stopped_by_budget = closed and len(result.records) < len(configs)
    epoch_seconds: list[float] = []  # per epoch each finished task trained

    def may_launch() -> bool:
        if deadline is None:
            return True
        # a trial launched now must be expected to end before the deadline: the median epoch times the epochs
        # of what comes next (a rung run's few, or a promoted trial's rest: several times longer)
        median = sorted(epoch_seconds)[len(epoch_seconds) // 2] if epoch_seconds else 0.0
        if time.monotonic() + median * plan.next_epochs() <= deadline:
            return True
        result.stopped_by_budget = True
        return False

    def add(record: TrialRecord) -> None:
        result.records.append(record)
        observer.on_trial(record, len(result.records), len(configs), names)

    for task, outcome in executor.run(trial_fn, plan.tasks(), may_launch):
        epoch_seconds.append(_seconds_per_epoch(outcome))
        for record in plan.completed(task, outcome):
            add(record)
    for record in plan.unfinished():
        add(record)
    result.records.sort(key=lambda r: r.index)
    return result


def _seconds_per_epoch(outcome: RunRecord) -> float:
    """Seconds per epoch the task trained (a continuation counts only its own epochs)."""
    m = outcome.metrics
    seconds = float(m.get("task_seconds") or m.get("seconds") or 0.0)
    return seconds / max(1.0, float(m.get("epochs") or 0) - float(m.get("resumed_at_epoch") or 0))


class _Stage:
    """The trials of a stage without rungs: every one runs its full epochs, once."""

    def __init__(self, spec, store, search_id, stage, configs, epochs, done, rung, states=None):
        self.spec, self.store, self.search_id, self.stage = spec, store, search_id, stage
        self.configs, self.epochs, self.rung, self.done, self.states = configs, epochs, rung, done, states
        self.todo = [i for i in range(len(configs)) if (stage, i) not in done]
        self.run_ids: dict[int, int] = {}

    def task(self, index: int, stop_after: int | None = None, **state) -> TrialTask:
        seed = trial_seed(self.spec.seed, self.stage, index)
        return TrialTask(self.spec.data, self.spec.model, self.configs[index], self.epochs, seed, self.stage, index,
                         stop_after, train_examples=self.spec.train_examples(self.stage), **state)

    def next_epochs(self) -> int:
        """Epochs the next task to launch trains."""
        return self.epochs

    def start(self, index: int) -> None:
        self.run_ids[index] = self.store.start_run(self.search_id, self.stage, index, self.configs[index])

    def tasks(self):
        for index in self.todo:
            self.start(index)
            yield self.task(index)

    def completed(self, task: TrialTask, outcome: RunRecord) -> list[TrialRecord]:
        return [_record(self.store, self.run_ids[task.index], task, outcome)]

    def unfinished(self) -> list[TrialRecord]:
        return []


class _HalvingStage(_Stage):
    """A stage with rungs (babysit.search.rungs): each trial to its rung, then the best of each
    bracket on to the full epochs, continuing from the training state its rung run saved in
    ``states``; the rest are recorded 'stopped'. Decisions depend only on the bracket's complete
    rung results, never on the order they arrive in."""

    def __init__(self, *args):
        super().__init__(*args)
        self.rungs: Rungs = self.spec.rungs.in_stage(self.stage)  # with this stage's bracket
        self.rung_acc: dict[int, dict[int, float | None]] = {}  # bracket -> index -> rung accuracy
        self.members = {b: [i for i in range(len(self.configs)) if self.rungs.bracket_of(i) == b]
                        for b in {self.rungs.bracket_of(i) for i in range(len(self.configs))}}
        for i in sorted(set(range(len(self.configs))) - set(self.todo)):  # resumed: the stored trials' rung results
            run = self.done[(self.stage, i)]
            extra = run.get("extra") or {}
            acc = extra.get("rung_val_acc", run["val_acc"] if run["status"] == STOPPED else None)
            self.rung_acc.setdefault(self.rungs.bracket_of(i), {})[i] = acc
        self.at_rung: dict[int, RunRecord] = {}  # trials past their rung, not decided yet
        self.promoted: list[int] = []  # decided to go on, not launched yet
        self.resumed: dict[int, RunRecord] = {}  # promoted before a kill: their rung result, read from their state
        self.running = 0

    def _resume_continuations(self) -> None:
        """A resumed search: the unfinished trials of a bracket whose every trial has its rung result (stored,
        or in the trial's own training state, which a promoted trial's continuation rewrites as it goes)
        were decided before the kill; the promoted ones go on from their state (its last save, the rung at the
        earliest) instead of training their rung again. Any other unfinished trial trains its rung again (the same results)."""
        if not self.todo or self.states is None:
            return
        from_state = {i: acc for i in self.todo if (acc := self._rung_acc_in_state(i)) is not None}
        for bracket, members in self.members.items():
            results = {**self.rung_acc.get(bracket, {}), **{i: from_state[i] for i in members if i in from_state}}
            if len(results) < len(members):
                continue
            for i in sorted(self.rungs.promoted(results) & set(self.todo)):
                self.rung_acc.setdefault(bracket, {})[i] = results[i]
                self.resumed[i] = RunRecord("finished", {"val_acc": results[i]})
                self.promoted.append(i)
                self.todo.remove(i)

    def _rung_acc_in_state(self, index: int) -> float | None:
        """The rung's validation accuracy (the best of its epochs) from trial ``index``'s training state, or None
        when there is no readable state at or past the rung."""
        from babysit.errors import CheckpointError
        from babysit.train.training_state import training_state_info

        try:
            info = training_state_info(self.state_path(index))
        except CheckpointError:
            return None
        history = info.get("val_acc_history") or []
        if int(info.get("epoch") or 0) < self.rung or len(history) < self.rung:
            return None
        return max(float(v) for v in history[: self.rung])

    def next_epochs(self) -> int:
        return self.epochs - self.rung if self.promoted else self.rung

    def tasks(self):
        self._resume_continuations()  # (here, not in __init__: a closed stage has emptied its todo by now)
        rung_queue = list(self.todo)
        while True:
            if self.promoted:
                index = self.promoted.pop(0)
                if index in self.resumed:  # promoted before a kill: its run row is a new one
                    self.start(index)
                self.running += 1
                # it saves its state as it goes (every CONTINUATION_SAVE_SECONDS): killed, it resumes from there
                yield self.task(index, resume_state=self.state_path(index), save_state=self.state_path(index),
                                save_every_s=CONTINUATION_SAVE_SECONDS)
            elif rung_queue:
                index = rung_queue.pop(0)
                self.start(index)
                self.running += 1
                yield self.task(index, stop_after=self.rung, save_state=self.state_path(index))
            elif self.running:
                yield WAIT  # the running trials decide what comes next
            else:
                return

    def completed(self, task: TrialTask, outcome: RunRecord) -> list[TrialRecord]:
        self.running -= 1
        index, bracket = task.index, self.rungs.bracket_of(task.index)
        run_id = self.run_ids[index]
        if task.stop_after is None:  # a promoted trial's continuation to its full epochs
            self._drop_state(index)
            rung_run = self.at_rung.pop(index) if index in self.at_rung else self.resumed.pop(index)
            outcome = dataclasses.replace(outcome, metrics={**outcome.metrics, **self._rung_info(rung_run)},
                                          series=_whole_series(rung_run, outcome))
            return [_record(self.store, run_id, task, outcome)]
        out = []
        if outcome.status == "finished":  # reached its rung
            acc = outcome.metrics.get("val_acc")
            self.at_rung[index] = outcome
        else:  # exploded, diverged or failed before its rung: recorded as it ended
            acc = None
            self._drop_state(index)
            out.append(_record(self.store, run_id, task, outcome))
        self.rung_acc.setdefault(bracket, {})[index] = acc
        results = self.rung_acc[bracket]
        if len(results) < len(self.members[bracket]):
            return out
        going_on = self.rungs.promoted(results)
        threshold = min((results[i] for i in going_on), default=None)
        for i in self.members[bracket]:
            if i not in self.at_rung:
                continue
            if i in going_on:
                self.promoted.append(i)
            else:
                reason = stop_reason(self.rung, self.epochs, results[i], threshold)
                out.append(self._stop(i, reason))
        return out

    def state_path(self, index: int) -> str | None:
        """The file where trial ``index``'s rung run leaves its training state (None: no state folder)."""
        if self.states is None:
            return None
        return str(Path(self.states) / f"stage{self.stage}-trial{index}.safetensors")

    def _drop_state(self, index: int) -> None:
        """Delete trial ``index``'s rung state: it has been continued, or never will be."""
        path = self.state_path(index)
        if path is not None:
            try:
                Path(path).unlink(missing_ok=True)
            except OSError:  # its folder could not be made (a save that failed): nothing to delete
                pass

    def _rung_info(self, rung_run: RunRecord) -> dict:
        return {"rung": 1, "rung_epochs": self.rung, "rung_val_acc": rung_run.metrics.get("val_acc"),
                "rung_seconds": rung_run.metrics.get("seconds")}

    def _stop(self, index: int, reason: str) -> TrialRecord:
        self._drop_state(index)
        rung_run = self.at_rung.pop(index)
        metrics = {**rung_run.metrics, "stop_reason": reason, "rung": 1, "rung_epochs": self.rung,
                   "rung_val_acc": rung_run.metrics.get("val_acc")}
        record = dataclasses.replace(rung_run, status=STOPPED, metrics=metrics)
        return _record(self.store, self.run_ids[index], self.task(index, self.rung), record)

    def unfinished(self) -> list[TrialRecord]:
        """The time ran out: trials past their rung whose full run never started are recorded 'stopped'."""
        waiting = set(self.promoted)
        return [self._stop(i, f"reached its rung (epoch {self.rung} of {self.epochs}), "
                              + ("promoted, but" if i in waiting else "but its bracket was not complete when")
                              + " the stage's time ran out")
                for i in sorted(self.at_rung)]


RUN_SERIES = ("loss", "train_acc", "val_acc", "lr")  # the Solver's own series: a continued run holds them whole


def _whole_series(rung_run: RunRecord, continued: RunRecord) -> dict:
    """The series of a promoted trial from its first epoch: the Solver's own come whole with the restored
    state; the training monitors' start again at the resume, so the rung run's come first."""
    series = dict(continued.series)
    for name, (steps, values) in rung_run.series.items():
        if name in RUN_SERIES and name in series:  # (a failed continuation has none: the rung's stay)
            continue
        later_steps, later_values = series.get(name, ([], []))
        series[name] = (list(steps) + list(later_steps), list(values) + list(later_values))
    return series


def _record(store, run_id: int, task: TrialTask, record: RunRecord) -> TrialRecord:
    """Write one trial's record (series first, then its final status: a run marked finished has all its series)."""
    from babysit.store.recording import record_run  # here, not at the top: workers import this package, never the store

    record_run(store, run_id, record)
    m = record.metrics
    return TrialRecord(
        run_id=run_id, stage=task.stage, index=task.index, params=dict(task.params), status=record.status,
        val_acc=m.get("val_acc"), train_acc=m.get("train_acc"), loss=m.get("loss"), epochs=m.get("epochs"),
        seconds=m.get("seconds"), error=record.error, stop_reason=m.get("stop_reason"),
        extra={k: m[k] for k in ("final_val_acc", "iterations", "host", "pid", "rung", "rung_epochs", "rung_val_acc",
                                 "rung_seconds", "resumed_at_epoch", "resume_note", "train_examples", "val_examples")
               if m.get(k) is not None},
    )
