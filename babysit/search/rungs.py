"""Early stopping of clearly lost trials inside a stage: synchronous successive halving by epoch.

The lecture's search gives every trial of a stage the same epochs, though after the first few
most trials are plainly behind. With ``Rungs(eta=3, bracket=9, fraction=0.2)`` a stage of
E-epoch trials runs each trial first to its *rung*, ``max(1, round(0.2 E))`` epochs (the same
training as the full trial's first epochs: same seed, same E-epoch schedule, just cut there).
The trials are grouped by index into brackets of 9; once every trial of a bracket has its rung
result, the best ceil(9 / 3) = 3 by validation accuracy (ties: lower index) are *promoted*: each
goes on from its rung to the full E epochs, continuing from the training state its rung run
saved (``babysit.train.training_state``: a file in the search's state folder, so any worker of
any executor picks it up; bit-identical to a run never cut). A state that is missing or
unreadable costs only time: that trial trains again from epoch 0, to the same result, and its
``resume_note`` says so. A continuation saves its state as it goes too (after an epoch, once
``driver.CONTINUATION_SAVE_SECONDS`` have passed), so a search killed while a promoted trial
continues resumes that trial from its last saved epoch, the rung at the earliest (its
bracket's decision is remade from the stored and saved rung results; a bracket whose rung results
are not all known trains its unfinished rungs again, to the same results); the trial's state is
deleted once it is decided. The others are recorded with status 'stopped', their curve up to the
rung, and the rung in their metrics. A trial that explodes or fails at its rung is recorded as
it ended.

Cost per bracket of b trials: b * r + (b / eta) * (E - r) epochs instead of b * E: with r = E / 5
and eta = 3, 47%, i.e. the stage's time buys ~2.1x the trials (``trial_gain``; E = 2, r = 1: 1.5x).
The best trials of a stage are still
full-length trials, so the coarse-to-fine narrowing and edge widening (search.stages) see the
same kind of results as without rungs (stopped trials have no full-length result and rank by
their rung accuracy, below every promoted trial of a similar configuration).

A stage of fewer trials than a bracket runs without a rung (its one bracket would wait for trials
that a short budget may never launch). Where the time of a stage affords fewer trials than a bracket,
though its trial ceiling is higher (the ceilings leave headroom: a quieter machine runs more), the
bracket is made to fit: ``Rungs.sized_to(epochs, time, workers per stage)`` gives each stage its own
``stage_brackets``, the largest multiple of eta up to ``bracket`` whose rung runs and promoted trials
end within the stage's time on its workers (``makespan``; no rungs where not even eta trials' would). An 8-minute ConvNet job on the Intel VM (2026-12-02) planned ~6-7 two-epoch trials
for its stage 2 with a bracket of 9: the deadline came before the bracket was complete, so no trial
ever went on past its rung.

Deterministic whatever the number of workers: which trials share a bracket depends only on their
indexes, a promotion only on the bracket's complete rung results, so any order of arrival gives
the same decisions. The time budget (the stage deadline) can end a stage between the two phases
of a bracket: its promoted trials are then recorded 'stopped' too (stop_reason says so).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from babysit.train.callbacks import Callback
from babysit.validation import AT_LEAST_ONE, Interval, check_float, check_int, invalid

STOPPED = "stopped"  # the run store's status (schema version 3)


@dataclass(frozen=True)
class Rungs:
    """Successive-halving settings of a search (see the module docstring).

    eta: keep the best 1/eta of a bracket (>= 2); bracket: trials decided together (>= eta);
    fraction: the rung's share of the stage's epochs, in (0, 1); stage_brackets: per stage, its own
    bracket (>= eta; None: that stage runs without rungs), or None: ``bracket`` in every stage (a stage
    past the tuple's end too).
    """

    eta: int = 3
    bracket: int = 9
    fraction: float = 0.2
    stage_brackets: tuple[int | None, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "eta", check_int("Rungs", "eta", self.eta, Interval(2, math.inf)))
        object.__setattr__(self, "bracket", check_int("Rungs", "bracket", self.bracket, Interval(self.eta, math.inf)))
        object.__setattr__(self, "fraction", check_float("Rungs", "fraction", self.fraction, Interval(0.0, 1.0, "neither")))
        if self.stage_brackets is not None:
            if isinstance(self.stage_brackets, (str, bytes)) or not hasattr(self.stage_brackets, "__iter__"):
                raise invalid("Rungs", "stage_brackets", "a sequence of brackets (int or None) per stage",
                              self.stage_brackets)
            object.__setattr__(self, "stage_brackets", tuple(
                None if b is None else check_int("Rungs", f"stage_brackets[{k}]", b, Interval(self.eta, math.inf))
                for k, b in enumerate(self.stage_brackets)))

    def makespan(self, bracket: int, epochs: int, slots: int) -> int:
        """Epochs (of one trial, end to end) a bracket of ``bracket`` trials of ``epochs`` epochs takes on ``slots``
        workers until its promoted trials end: its rung runs in ceil(b / slots) rounds, then its ceil(b / eta)
        promoted trials' remaining epochs in ceil(that / slots) rounds (0 for a stage without a rung)."""
        rung = self.rung_epochs(epochs)
        if rung is None:
            return 0
        slots = max(1, int(slots))
        return (-(-bracket // slots) * rung
                + -(-math.ceil(bracket / self.eta) // slots) * (epochs - rung))

    def bracket_fitting(self, epochs: int, epoch_times: float, slots: int) -> int | None:
        """The bracket of a stage of ``epochs``-epoch trials with time for ``epoch_times`` trial epochs end to end on
        ``slots`` workers: ``bracket``, or the largest multiple of eta below it whose ``makespan`` fits; None (no
        rungs) when not even eta trials' would."""
        candidates = [self.bracket, *range(self.bracket // self.eta * self.eta, self.eta - 1, -self.eta)]
        return next((b for b in candidates if self.makespan(b, epochs, slots) <= epoch_times), None)

    def sized_to(self, stage_epochs, stage_epoch_times, slots: int) -> Rungs:
        """These rungs with each stage's bracket sized to the time it has (``bracket_fitting``)."""
        return dataclasses.replace(self, stage_brackets=tuple(
            self.bracket_for_stage(e, t, slots) for e, t in zip(stage_epochs, stage_epoch_times)))

    def bracket_for_stage(self, epochs: int, epoch_times: float, slots: int) -> int | None:
        """``bracket_fitting``, but ``bracket`` where the stage has no rung (nothing to fit)."""
        return self.bracket if self.rung_epochs(epochs) is None else self.bracket_fitting(epochs, epoch_times, slots)

    def stage_rung(self, stage: int, trials: int, epochs: int) -> int | None:
        """The rung epoch stage ``stage`` of ``trials`` trials of ``epochs`` epochs stops at; None: it runs without
        (no bracket there, fewer trials than its bracket: that bracket would wait for trials a short budget may
        never launch, or trials too short for a rung)."""
        rungs = self.in_stage(stage)
        return rungs.rung_epochs(epochs) if rungs is not None and trials >= rungs.bracket else None

    def in_stage(self, stage: int) -> Rungs | None:
        """The rungs stage ``stage`` (1-based) runs with: these, with its own bracket; None: none there."""
        if self.stage_brackets is None or stage > len(self.stage_brackets):
            return dataclasses.replace(self, stage_brackets=None)
        bracket = self.stage_brackets[stage - 1]
        return None if bracket is None else dataclasses.replace(self, bracket=bracket, stage_brackets=None)

    def rung_epochs(self, epochs: int) -> int | None:
        """The rung of a stage of ``epochs``-epoch trials, or None when that stage is too short for one."""
        epochs = check_int("Rungs.rung_epochs", "epochs", epochs, AT_LEAST_ONE)
        rung = max(1, round(self.fraction * epochs))
        return rung if rung < epochs else None

    def trial_gain(self, epochs: int) -> float:
        """Trials of ``epochs`` epochs per full trial's time: E / (rung + (E - rung) / eta), a promoted trial
        going on from its rung (1 without a rung)."""
        rung = self.rung_epochs(epochs)
        return 1.0 if rung is None else epochs / (rung + (epochs - rung) / self.eta)

    def bracket_of(self, index: int) -> int:
        return index // self.bracket

    def promoted(self, rung_results: Mapping[int, float | None]) -> set[int]:
        """The trial indexes of one complete bracket that go on: the best ceil(len / eta) by rung
        accuracy (higher first, then lower index); a trial without one (exploded, failed) never does."""
        keep = math.ceil(len(rung_results) / self.eta)
        good = sorted((i for i, acc in rung_results.items() if acc is not None and math.isfinite(acc)),
                      key=lambda i: (-rung_results[i], i))
        return set(good[:keep])

    def to_json(self) -> dict:
        """The stored form (no 'stage_brackets' key without them: searches stored before them resume unchanged)."""
        obj = {"eta": self.eta, "bracket": self.bracket, "fraction": self.fraction}
        if self.stage_brackets is not None:
            obj["stage_brackets"] = list(self.stage_brackets)
        return obj

    @classmethod
    def from_json(cls, obj: Mapping | None) -> Rungs | None:
        if obj is None:
            return None
        brackets = obj.get("stage_brackets")
        return cls(int(obj["eta"]), int(obj["bracket"]), float(obj["fraction"]),
                   None if brackets is None else tuple(None if b is None else int(b) for b in brackets))


def stop_reason(rung: int, epochs: int, accuracy: float | None, threshold: float | None) -> str:
    """Why a trial was stopped at its rung, in one line (the run store's stop_reason)."""
    acc = "no validation accuracy" if accuracy is None else f"val_acc {accuracy:.4f}"
    best = "" if threshold is None else f" (its bracket promoted trials at >= {threshold:.4f})"
    return f"stopped at rung 1 (epoch {rung} of {epochs}): {acc}{best}"


class StopAfter(Callback):
    """Ends a trial after ``epochs`` epochs (its rung) with status 'stopped', keeping its schedule."""

    def __init__(self, epochs: int):
        self.epochs = check_int("StopAfter", "epochs", epochs, AT_LEAST_ONE)

    def on_epoch_end(self, solver) -> None:
        if self.epochs <= solver.epoch < solver.num_epochs:
            solver.request_stop("stopped", f"rung: epoch {self.epochs} of {solver.num_epochs}")
