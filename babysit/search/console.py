"""What a search shows while it runs: the lecture's line per trial, a progress bar, a ranked table, warnings.

    val_acc: 0.412000, lr: 1.405206e-04, reg: 4.793564e-01, (1 / 100)

Everything goes to stdout; the rich progress bar only when stdout is a terminal (piped output
and logs get the plain lines).
"""

from __future__ import annotations

import sys

from babysit.nn.kernels import active_kernels
from babysit.search.driver import Observer, SearchOutcome, StageOutcome, varying
from babysit.search.records import TrialRecord, ranked
from babysit.search.stages import NothingLearned, describe, describe_space, format_value

TABLE_WIDTH = 160


def trial_line(record: TrialRecord, done: int, total: int, names: list[str]) -> str:
    """The lecture's line: ``val_acc: 0.412000, lr: 1.405206e-04, reg: 4.793564e-01, (1 / 100)``;
    trials that did not finish say how they ended."""
    acc = f"{record.val_acc:f}" if record.val_acc is not None else "-"
    parts = [f"val_acc: {acc}"] + [f"{n}: {format_value(record.params.get(n))}" for n in names]
    line = ", ".join(parts) + f", ({done} / {total})"
    if record.status == "failed":
        line += f" failed: {record.error}"
    elif record.status != "finished":
        line += f" {record.status}" + (f": {record.stop_reason}" if record.stop_reason else "")
    if record.resumed:
        line += " [from the store]"
    return line


def trial_number(record: TrialRecord) -> int:
    """The trial's number as every line shows it: 1-based within its stage, like the '(1 / 5)' counter."""
    return record.index + 1


def final_ranking(records) -> list[TrialRecord]:
    """The trials best first, the latest stage (trained longest) before earlier ones: rank 1 is the search's best."""
    latest = max((r.stage for r in records if r.ok), default=None)
    good = ranked(records)
    return [r for r in good if r.stage == latest] + [r for r in good if r.stage != latest]


def ranked_table(records, names: list[str], top: int = 10, title: str = "best trials"):
    """A rich Table of the ``top`` trials: the latest stage's by validation accuracy, then earlier stages'."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("rank", "stage", "trial", "val_acc", "train_acc", *names, "epochs", "seconds", "run"):
        table.add_column(column, justify="right")
    for rank, r in enumerate(final_ranking(records)[:top], start=1):
        table.add_row(
            str(rank), str(r.stage), str(trial_number(r)), f"{r.val_acc:f}",
            "-" if r.train_acc is None else f"{r.train_acc:f}",
            *(format_value(r.params.get(n)) for n in names),
            "-" if r.epochs is None else f"{r.epochs:g}", "-" if r.seconds is None else f"{r.seconds:.1f}",
            "-" if r.run_id is None else str(r.run_id),
        )
    return table


def status_counts(records) -> str:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


class SearchPrinter(Observer):
    """Prints a search as it runs: stage headers, one lecture line per trial, a progress bar
    (terminals only), and at the end the ranked table and the edge warnings.

    Inputs: out, the file to write (default stdout); top, rows of the ranked table; terminal,
    force (True) or forbid (False) terminal output such as the bar (default: ask the file).
    """

    def __init__(self, out=None, top: int = 10, terminal: bool | None = None):
        from rich.console import Console

        self.console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True, force_terminal=terminal)
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, TABLE_WIDTH)  # pipes and logs: don't squeeze the table
        self.top = top
        self._rungs = None
        self._progress = None
        self._task = None

    def print(self, text: str = "") -> None:
        # the live progress bar shares this console, which keeps the bar below the lines
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def on_search_start(self, spec, executor, resumed):
        self._rungs = spec.rungs  # the stage lines say where each stage's rung and brackets are
        model = spec.model
        if "hidden" in spec.space:  # the header says what varies, not the spec's own width
            model = f"{spec.model} with hidden {describe_space(spec.space['hidden'])}"
        kernels = active_kernels()  # the same results either way; said because it sets the pace
        kernels = "" if kernels == "numpy" else f", {kernels} kernels"
        self.print(f"search: {spec.stages} stage(s), model {model}, data {spec.data.source}, "
                   f"seed {spec.seed}, trials on {executor.description}{kernels}")
        if resumed:
            self.print(f"resuming: {resumed} trial(s) already finished in the store are not run again")

    def on_stage_start(self, stage, space, trials, epochs, done):
        rungs = self._rungs
        rung = rungs.stage_rung(stage, trials, epochs) if rungs is not None else None
        halving = "" if rung is None else (f", stopped at epoch {rung} unless in the best 1/{rungs.eta} of their "
                                           f"bracket of {rungs.in_stage(stage).bracket}")
        self.print(f"stage {stage}: {trials} trials x {epochs} epoch(s){halving}; {describe(space)}")
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn(f"stage {stage}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("trials", total=trials, completed=done)

    def on_trial(self, record, done, total, names):
        self.print(trial_line(record, done, total, names))
        if self._progress is not None:
            self._progress.update(self._task, completed=done)

    def on_stage_end(self, outcome: StageOutcome):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        best = outcome.best
        summary = f"stage {outcome.stage} done: {status_counts(outcome.records)}"
        if outcome.train_examples is not None:
            summary += f", each on a stratified subset of {outcome.train_examples:,} training examples"
        if outcome.stopped_by_budget:
            summary += f" ({len(outcome.records)} of {outcome.planned} trials: the time budget ran out)"
        if best is not None:
            summary += f"; best val_acc {best.val_acc:f} (trial {trial_number(best)})"
        self.print(summary)
        for warning in outcome.warnings:
            if isinstance(warning, NothingLearned) or warning.extended is not None:
                self.print("warning: " + warning.message())  # the last stage's edge warnings close the search

    def on_search_end(self, outcome: SearchOutcome):
        if not outcome.stages:
            return
        names = varying(outcome.stages[0].space)
        self.console.print(ranked_table(outcome.records, names, self.top,
                                        title=f"best {self.top} of {len(outcome.records)} trials"))
        ranking = final_ranking(outcome.records)
        best = ranking[0] if ranking else None  # the table's rank 1 (= outcome.best: the latest stage's best)
        if best is None:
            self.print("no trial finished: every one exploded, diverged or failed; see the lines above")
        else:
            params = ", ".join(f"{k}: {format_value(v)}" for k, v in best.params.items())
            self.print(f"best: val_acc {best.val_acc:f} (stage {best.stage}, trial {trial_number(best)}, "
                       f"run {best.run_id}); {params}")
        edges = [w for w in outcome.warnings if not isinstance(w, NothingLearned)]
        if edges:
            self.print("edge warnings:")
        for warning in edges:
            self.print("warning: " + warning.message())
