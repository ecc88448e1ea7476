"""What a search shows while it runs: the lecture's line per trial, a progress bar, a ranked table, warnings.

    val_acc: 0.412000, lr: 1.405206e-04, reg: 4.793564e-01, (1 / 100)

Everything goes to stdout; the rich progress bar only when stdout is a terminal (piped output
and logs get the plain lines).
"""

from __future__ import annotations

import sys

from babysit.search.driver import Observer, SearchOutcome, StageOutcome, varying
from babysit.search.records import TrialRecord, ranked
from babysit.search.stages import describe, format_value

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


def ranked_table(records, names: list[str], top: int = 10, title: str = "best trials"):
    """A rich Table of the ``top`` trials by validation accuracy."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("rank", "stage", "trial", "val_acc", "train_acc", *names, "epochs", "seconds", "run"):
        table.add_column(column, justify="right")
    for rank, r in enumerate(ranked(records)[:top], start=1):
        table.add_row(
            str(rank), str(r.stage), str(r.index), f"{r.val_acc:f}",
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
        self._progress = None
        self._task = None

    def print(self, text: str = "") -> None:
        # the live progress bar shares this console, which keeps the bar below the lines
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def on_search_start(self, spec, executor, resumed):
        self.print(f"search: {spec.stages} stage(s), model {spec.model}, data {spec.data.source}, "
                   f"seed {spec.seed}, trials on {executor.description}")
        if resumed:
            self.print(f"resuming: {resumed} trial(s) already finished in the store are not run again")

    def on_stage_start(self, stage, space, trials, epochs, done):
        self.print(f"stage {stage}: {trials} trials x {epochs} epoch(s); {describe(space)}")
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
        if outcome.stopped_by_budget:
            summary += f" ({len(outcome.records)} of {outcome.planned} trials: the time budget ran out)"
        if best is not None:
            summary += f"; best val_acc {best.val_acc:f} (trial {best.index})"
        self.print(summary)
        for warning in outcome.warnings:
            if warning.extended is not None:  # the last stage's warnings close the search
                self.print("warning: " + warning.message())

    def on_search_end(self, outcome: SearchOutcome):
        if not outcome.stages:
            return
        names = varying(outcome.stages[0].space)
        self.console.print(ranked_table(outcome.records, names, self.top,
                                        title=f"best {self.top} of {len(outcome.records)} trials"))
        best = outcome.best
        if best is None:
            self.print("no trial finished: every one exploded, diverged or failed; see the lines above")
        else:
            params = ", ".join(f"{k}: {format_value(v)}" for k, v in best.params.items())
            self.print(f"best: val_acc {best.val_acc:f} (stage {best.stage}, trial {best.index}, run {best.run_id}); "
                       f"{params}")
        if outcome.warnings:
            self.print("edge warnings:")
        for warning in outcome.warnings:
            self.print("warning: " + warning.message())
