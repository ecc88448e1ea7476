"""What a search prints: the lecture's line per trial, the ranked table, warnings, the progress bar on terminals."""

from __future__ import annotations

import io
import re

from babysit.search import SearchSpace
from babysit.search.console import SearchPrinter, ranked_table, trial_line
from babysit.search.driver import SearchSpec, run_search
from babysit.search.executors import InlineExecutor
from babysit.search.records import TrialRecord
from babysit.search.trial import DataRef
from babysit.store import RunStore


def test_the_lecture_line_exactly():
    r = TrialRecord(1, 1, 0, {"lr": 1.405206e-04, "reg": 4.793564e-01}, "finished", val_acc=0.412)
    assert trial_line(r, 1, 100, ["lr", "reg"]) == "val_acc: 0.412000, lr: 1.405206e-04, reg: 4.793564e-01, (1 / 100)"
    hidden = TrialRecord(2, 1, 1, {"lr": 1e-3, "hidden": 100}, "finished", val_acc=0.5)
    assert trial_line(hidden, 2, 3, ["lr", "hidden"]) == "val_acc: 0.500000, lr: 1.000000e-03, hidden: 100, (2 / 3)"


def test_trials_that_did_not_finish_say_how_they_ended():
    exploded = TrialRecord(1, 1, 0, {"lr": 1e3}, "exploded", stop_reason="the loss 9 at iteration 2 exceeds 3 x")
    assert trial_line(exploded, 1, 2, ["lr"]) == (
        "val_acc: -, lr: 1.000000e+03, (1 / 2) exploded: the loss 9 at iteration 2 exceeds 3 x")
    failed = TrialRecord(2, 1, 1, {"lr": 1e-3}, "failed", error="ConfigError: bad")
    assert trial_line(failed, 2, 2, ["lr"]).endswith("(2 / 2) failed: ConfigError: bad")


def test_the_ranked_table_puts_the_best_first():
    from rich.console import Console

    records = [TrialRecord(i + 1, 1, i, {"lr": lr}, "finished", val_acc=acc, train_acc=acc, epochs=5, seconds=1.0)
               for i, (lr, acc) in enumerate([(1e-4, 0.3), (1e-3, 0.5), (1e-2, 0.4)])]
    console = Console(file=io.StringIO(), width=200)
    console.print(ranked_table(records, ["lr"], top=2))
    text = console.file.getvalue()
    rows = [line for line in text.splitlines() if re.search(r"\d\.\d{6}", line)]
    assert len(rows) == 2 and "0.500000" in rows[0] and "1.000000e-03" in rows[0] and "0.400000" in rows[1]


def run_printed(tmp_path, terminal):
    out = io.StringIO()
    spec = SearchSpec(DataRef("digits"), "fc:8", SearchSpace.parse({"lr": "1e-2:1e-1:log", "reg": "1e-5:1e-3:log"}),
                      (3, 2), (1, 1))
    with RunStore(tmp_path / f"{terminal}.sqlite") as store:
        run_search(spec, store, InlineExecutor(), observer=SearchPrinter(out=out, terminal=terminal))
    return out.getvalue()


def test_the_header_names_the_numba_kernels_when_they_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BABYSIT_KERNELS", "numba")  # read, not imported: an fc model never calls them
    assert run_printed(tmp_path, terminal=False).splitlines()[0].endswith("trials on this process, numba kernels")


def test_a_search_prints_stages_lines_table_and_summary(tmp_path):
    text = run_printed(tmp_path, terminal=False)
    lines = text.splitlines()
    assert lines[0] == "search: 2 stage(s), model fc:8, data digits, seed 0, trials on this process"
    assert lines[1] == "stage 1: 3 trials x 1 epoch(s); lr 1.00e-02 .. 1.00e-01 (log), reg 1.00e-05 .. 1.00e-03 (log)"
    assert [re.sub(r"val_acc: \S+, lr: \S+, reg: \S+, ", "", l) for l in lines[2:5]] == ["(1 / 3)", "(2 / 3)", "(3 / 3)"]
    assert lines[5].startswith("stage 1 done: 3 finished; best val_acc ")
    assert "best 10 of 5 trials" in text and re.search(r"^best: val_acc \d\.\d{6} \(stage 2", text, re.M)
    assert "\x1b[" not in text  # no terminal codes in a pipe


def test_on_a_terminal_a_progress_bar_runs_beside_the_lines(tmp_path):
    text = run_printed(tmp_path, terminal=True)
    assert "\x1b[" in text  # the live bar (cursor movement) was drawn
    assert re.search(r"val_acc: \d\.\d{6}, lr: \S+, reg: \S+, \(3 / 3\)", text)


def test_a_stage_line_says_where_its_rung_is_and_how_big_its_brackets_are(tmp_path):
    from babysit.search.rungs import Rungs

    out = io.StringIO()
    rungs = Rungs(eta=3, bracket=6, fraction=0.34).sized_to((3, 3, 1), (100, 5, 100), 1)  # stage 2: bracket 3
    assert rungs.stage_brackets == (6, 3, 6)
    spec = SearchSpec(DataRef("digits"), "fc:8", SearchSpace.parse({"lr": "1e-2:1e-1:log", "reg": "1e-5:1e-3:log"}),
                      (6, 3, 2), (3, 3, 1), rungs=rungs)
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_search(spec, store, InlineExecutor(), observer=SearchPrinter(out=out, terminal=False))
    stages = [line for line in out.getvalue().splitlines() if re.match(r"stage \d: \d+ trials", line)]
    assert stages[0].startswith("stage 1: 6 trials x 3 epoch(s), stopped at epoch 1 unless in the best 1/3 of their "
                                "bracket of 6; lr ")
    assert stages[1].startswith("stage 2: 3 trials x 3 epoch(s), stopped at epoch 1 unless in the best 1/3 of their "
                                "bracket of 3; ")
    assert stages[2].startswith("stage 3: 2 trials x 1 epoch(s); ")  # one-epoch trials have no rung
