"""`babysit search` and `babysit runs` as real subprocesses: the lecture's lines, kill -9 and resume, one-line errors."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babysit.store import RunStore

from .helpers import assert_one_line_error, babysit

LINE = re.compile(r"^val_acc: \d\.\d{6}, lr: \d\.\d{6}e[+-]\d\d, reg: \d\.\d{6}e[+-]\d\d, \((\d+) / (\d+)\)$")


SEARCH = ("search", "--data", "digits", "--model", "fc:16", "--lr", "1e-3:1e0:log", "--reg", "1e-5:1e-1:log",
          "--stages", "2", "--trials", "5", "--epochs", "1", "--seed", "3")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("search")
    proc = babysit(*SEARCH, "--store", "runs.sqlite", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc


def test_one_lecture_line_per_trial_then_the_ranked_table(searched):
    cwd, proc = searched
    out = proc.stdout.splitlines()
    trial_lines = [m for m in map(LINE.match, out) if m]
    assert [(int(m[1]), int(m[2])) for m in trial_lines] == [(i, 5) for i in range(1, 6)] * 2
    assert out[1].startswith("stage 1: 5 trials x 1 epoch(s); lr 1.00e-03 .. 1.00e+00 (log), reg 1.00e-05 .. 1.00e-01")
    stage2 = next(line for line in out if line.startswith("stage 2:"))
    assert "5 trials x 2 epoch(s)" in stage2
    assert any(line.startswith("best 10 of 10 trials") for line in out)
    header = next(line for line in out if "rank" in line and "val_acc" in line)
    assert all(col in header for col in ("stage", "trial", "train_acc", "lr", "reg", "epochs", "seconds"))
    assert re.search(r"^best: val_acc \d\.\d{6} \(stage \d, trial \d, run \d+\)", proc.stdout, re.M)
    assert proc.stdout.rstrip().endswith("list them with `babysit runs --store runs.sqlite`")


def test_runs_json_lists_every_trial_with_its_metrics(searched):
    cwd, proc = searched
    listed = babysit("runs", "--store", "runs.sqlite", "--json", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert len(runs) == 10
    assert set(runs[0]) == {"id", "search", "stage", "status", "params", "val_acc", "train_acc", "loss", "epochs",
                            "seconds"}
    assert [r["stage"] for r in runs] == [1] * 5 + [2] * 5 and {r["search"] for r in runs} == {"search"}
    printed = sorted(float(m[0].split(",")[0].split()[1]) for m in map(LINE.match, proc.stdout.splitlines()) if m)
    assert sorted(round(r["val_acc"], 6) for r in runs) == pytest.approx(printed, abs=1e-6)
    table = babysit("runs", "--store", "runs.sqlite", cwd=cwd)
    assert table.returncode == 0 and "10 run(s) in runs.sqlite" in table.stdout and "finished" in table.stdout


def test_the_same_command_again_resumes_without_running_anything(searched):
    cwd, _ = searched
    again = babysit(*SEARCH, "--store", "runs.sqlite", cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert "resuming: 10 trial(s) already finished in the store are not run again" in again.stdout
    assert not any(LINE.match(line) for line in again.stdout.splitlines())
    with RunStore(cwd / "runs.sqlite", readonly=True) as store:
        assert len(store.runs()) == 10


def _children(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def _finished(path: Path) -> dict:
    """(stage, index) -> (run id, val_acc) of finished trials, read without taking the writer lock."""
    try:
        with RunStore(path, readonly=True) as store:
            return {(r["stage"], r["trial_index"]): (r["id"], r["val_acc"])
                    for r in store.runs() if r["status"] != "failed" and r["status"] != "running"}
    except Exception:  # not created yet
        return {}


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_mid_search_then_resume_loses_and_redoes_nothing(tmp_path, workers):
    args = ("search", "--data", "digits", "--model", "fc:128,128", "--lr", "1e-2:1e-1:log", "--reg", "1e-5:1e-2:log",
            "--stages", "1", "--trials", "16", "--epochs", "6", "--workers", workers, "--store", "runs.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "babysit", *map(str, args)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers_seen = set()
    while len(_finished(tmp_path / "runs.sqlite")) < 3:
        assert proc.poll() is None, "the search ended before it could be killed; make the trials slower"
        assert time.monotonic() < deadline
        workers_seen |= _children(proc.pid)
        time.sleep(0.02)
    workers_seen |= _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(tmp_path / "runs.sqlite")
    assert 3 <= len(before) < 16, "killed too late to test a resume"
    # the driver's worker processes notice the driver is gone and exit
    time.sleep(2.5)
    alive = [pid for pid in workers_seen if Path(f"/proc/{pid}").exists()
             and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
    assert alive == []

    resumed = babysit(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {len(before)} trial(s) already finished" in resumed.stdout
    after = _finished(tmp_path / "runs.sqlite")
    assert sorted(after) == [(1, i) for i in range(16)]
    assert {k: after[k] for k in before} == before  # nothing finished was lost or redone
    new_lines = [line for line in resumed.stdout.splitlines() if line.startswith("val_acc:")]
    assert len(new_lines) == 16 - len(before)  # only the rest ran
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        interrupted = db.execute("SELECT COUNT(*) FROM runs WHERE error = 'interrupted'").fetchone()[0]
    assert statuses.get("running") is None
    assert sum(statuses.values()) == 16 + interrupted  # every trial once, plus the ones running at the kill


def test_bad_ranges_are_one_line_errors(tmp_path):
    store = tmp_path / "s.sqlite"
    assert_one_line_error(babysit("search", "--lr", "1e-3:1e-6:log", "--store", store, cwd=tmp_path),
                          "--lr must be LOW:HIGH:log", "(a log range needs 0 < low < high). Got '1e-3:1e-6:log' instead.")
    assert_one_line_error(babysit("search", "--reg=-1:10:log", "--store", store, cwd=tmp_path),
                          "--reg must be", "(a log range needs 0 < low < high). Got '-1:10:log' instead.")
    assert_one_line_error(babysit("search", "--reg", "-1:10:log", "--store", store, cwd=tmp_path),
                          "argument --reg: expected one argument", "needs the = form: --reg=VALUE")
    assert_one_line_error(babysit("search", "--lr", "1e-3:abc:log", "--store", store, cwd=tmp_path),
                          "--lr must be", "('abc' is not a number). Got '1e-3:abc:log' instead.")
    assert_one_line_error(babysit("search", "--param", "lrr=1e-3:1e-1:log", "--store", store, cwd=tmp_path),
                          "--param must be the name of a hyperparameter", "(did you mean 'lr'?). Got 'lrr' instead.")
    assert_one_line_error(babysit("search", "--momentum-rate", "0.9", "--store", store, cwd=tmp_path),
                          "unrecognized arguments: --momentum-rate")
    assert_one_line_error(babysit("search", "--trials", "0", "--store", store, cwd=tmp_path),
                          "--trials must be an int in [1, inf). Got 0 instead.")
    assert_one_line_error(babysit("search", "--model", "fc", "--hidden", "10,20", "--store", store, cwd=tmp_path),
                          "--hidden: The model fc has no hidden affine layer")
    assert not store.exists()  # nothing was started


def test_a_store_written_by_another_search_spec_is_refused_and_kept(searched, tmp_path):
    cwd, _ = searched
    path = cwd / "runs.sqlite"
    before = path.read_bytes()
    with RunStore(path, readonly=True) as store:
        runs_before = store.runs()
    other = list(SEARCH)
    other[other.index("--trials") + 1] = "7"
    line = assert_one_line_error(babysit(*other, "--store", "runs.sqlite", cwd=cwd),
                                 "holds search search with a different spec (differs in: stage_trials)")
    assert "use another --store or the same arguments" in line
    with RunStore(path, readonly=True) as store:
        assert store.runs() == runs_before
    assert len(path.read_bytes()) == len(before)


def test_not_a_store_and_a_missing_store_are_one_line_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, not a database\n" * 100)
    assert_one_line_error(babysit(*SEARCH, "--store", "notes.txt", cwd=tmp_path), "is not a babysit run store")
    assert (tmp_path / "notes.txt").read_text() == "hello, not a database\n" * 100
    assert_one_line_error(babysit("runs", "--store", "nothing.sqlite", cwd=tmp_path), "no run store at nothing.sqlite")


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path):
    # it gives up after its connect timeout instead of hanging: a hang fails as the subprocess's timeout
    assert_one_line_error(babysit(*SEARCH, "--cluster", "tcp://127.0.0.1:9", "--store", "s.sqlite", cwd=tmp_path,
                                  timeout=120),
                          "--cluster must be the tcp://HOST:PORT address of a running Dask scheduler", "none answered within 5 s",
                          "Got 'tcp://127.0.0.1:9' instead.")
    assert not (tmp_path / "s.sqlite").exists()
    assert_one_line_error(babysit(*SEARCH, "--cluster", "tcp://h:1", "--workers", "2", "--store", "s", cwd=tmp_path),
                          "not allowed with argument")


def test_lecture_ranges_on_standardized_he_data_say_nothing_was_learned_not_an_edge(tmp_path):
    # issue 10: --lr 1e-6:1e-3:log --reg 1e-5:1e5:log on standardized digits + He init learns nothing; the search
    # said nothing about it and its edge warning pointed lower
    proc = babysit("search", "--lr", "1e-6:1e-4:log", "--reg", "1e-5:1e5:log", "--stages", "1", "--trials", "3",
                   "--epochs", "1", "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert "learned nothing" in proc.stdout and "higher rates" in proc.stdout, proc.stdout
    assert "search again with --lr" not in proc.stdout and "edge warnings" not in proc.stdout
    # one numbering: trials are 1-based in the lines, the stage summary, the table and the best line
    best = re.search(r"^best: val_acc \S+ \(stage 1, trial (\d), run \d+\)", proc.stdout, re.M)
    assert best and 1 <= int(best.group(1)) <= 3


def test_search_without_lr_takes_the_doctors_range_and_the_header_shows_what_varies(tmp_path):
    proc = babysit("search", "--hidden", "8,16", "--stages", "1", "--trials", "2", "--epochs", "1",
                   "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "lr range: the doctor's lr_range probe recommends" in proc.stdout
    assert "model fc:100 with hidden 8, 16" in proc.stdout
    stage = next(l for l in proc.stdout.splitlines() if l.startswith("stage 1:"))
    low, high = map(float, re.search(r"lr (\S+) \.\. (\S+) \(log\)", stage).groups())
    assert low >= 1e-4 and high <= 10  # where the loss goes down, not the lecture's 1e-6 .. 1e-3


BUDGET = ("search", "--data", "digits", "--model", "fc:16", "--lr", "1e-3:1e0:log", "--reg", "1e-5:1e-1:log",
          "--stages", "2", "--trials", "9", "--epochs", "5", "--seed", "4", "--stage-examples", "400,all")


def _trials(path: Path) -> list:
    with RunStore(path, readonly=True) as store:
        return [(r["stage"], r["trial_index"], r["status"], r["val_acc"], r["epochs"], r["extra"].get("train_examples"))
                for r in store.runs()]


def test_search_has_runs_budget_tools_rungs_subsets_and_workers_from_the_cores(tmp_path):
    from babysit.search.executors import default_workers

    proc = babysit(*BUDGET, "--store", "default.sqlite", cwd=tmp_path)  # workers from the cores, rungs on
    assert proc.returncode == 0, proc.stderr
    assert default_workers() == 1 or f"trials on {default_workers()} local processes" in proc.stdout, proc.stdout
    found = _trials(tmp_path / "default.sqlite")
    with RunStore(tmp_path / "default.sqlite", readonly=True) as store:
        spec = store.searches()[0]["spec"]
    assert spec["rungs"] == {"eta": 3, "bracket": 9, "fraction": 0.2} and spec["stage_examples"] == [400, None]
    assert {t[5] for t in found if t[0] == 1} == {400} and {t[5] for t in found if t[0] == 2} - {None} != {400}
    assert sum(t[2] == "stopped" for t in found if t[0] == 1) >= 5  # 9 trials, eta 3: at most 3 go on
    # the user's --workers is obeyed, and the results do not depend on it
    one = babysit(*BUDGET, "--workers", "1", "--store", "one.sqlite", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert _trials(tmp_path / "one.sqlite") == found
    plain = babysit(*BUDGET, "--workers", "1", "--no-rungs", "--store", "plain.sqlite", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    stored = _trials(tmp_path / "plain.sqlite")
    assert not any(t[2] == "stopped" for t in stored)
    # the same command without --no-rungs resumes that search as it was stored (no rungs), not a refusal
    again = babysit(*BUDGET, "--workers", "1", "--store", "plain.sqlite", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "was stored without rungs: it goes on without them" in again.stdout
    assert _trials(tmp_path / "plain.sqlite") == stored  # finished: nothing trained again


@pytest.mark.parametrize("value", ["400", "400,all,all", "0,all", "abc,all", "400,-1"])
def test_bad_stage_examples_are_one_line_errors(tmp_path, value):
    assert_one_line_error(babysit(*BUDGET[:-2], "--stage-examples", value, "--store", "s.sqlite", cwd=tmp_path),
                          "--stage-examples: expected one count >= 1 or 'all' per stage (2 with --stages 2), as in "
                          f"5000,all; got '{value}'")
    assert not (tmp_path / "s.sqlite").exists()


def test_a_bad_workers_count_is_a_one_line_error(tmp_path):
    assert_one_line_error(babysit(*BUDGET, "--workers", "0", "--store", "s.sqlite", cwd=tmp_path),
                          "--workers must be")


LONG = ("search", "--data", "digits", "--model", "fc:16", "--lr", "1e-3:1e-1:log", "--reg", "1e-5:1e-2:log",
        "--stages", "1", "--trials", "9", "--epochs", "40", "--seed", "2", "--workers", "1")


def test_kill_9_mid_continuation_then_resume_goes_on_from_its_state_not_its_rung(tmp_path):
    """Killed after its bracket was decided (epoch 8 of 40 is the rung), while the promoted trials continue: the
    resumed search trains no rung again (their rung results are read from their saved states), the promoted
    trials go on from there, and it ends with the uncut search's results."""
    from tests.faults.kills import Child, runs

    reference = babysit(*LONG, "--store", "ref.sqlite", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    def continuing() -> bool:  # the bracket is decided (6 of 9 stopped), not every promoted trial is done
        statuses = [r["status"] for r in runs(tmp_path / "runs.sqlite")]
        return statuses.count("stopped") >= 6 and statuses.count("finished") < 3

    child = Child(*LONG, "--store", "runs.sqlite", cwd=tmp_path)
    assert child.wait_until(continuing), "the search ended before its promoted trials were seen continuing"
    assert child.kill9()
    again = babysit(*LONG, "--store", "runs.sqlite", cwd=tmp_path)
    assert again.returncode == 0, again.stderr

    def final(path):
        with RunStore(path, readonly=True) as store:
            return {(r["stage"], r["trial_index"]): r for r in store.runs() if r["status"] != "interrupted"}

    got, want = final(tmp_path / "runs.sqlite"), final(tmp_path / "ref.sqlite")
    assert {k: (r["params"], r["val_acc"], r["status"]) for k, r in got.items()} == \
           {k: (r["params"], r["val_acc"], r["status"]) for k, r in want.items()}
    resumed = [r for r in got.values() if r["status"] == "finished" and r["extra"].get("rung_seconds") is None]
    assert resumed and all(r["extra"]["resumed_at_epoch"] == 8 for r in resumed)  # from the state, no rung rerun
    assert not (tmp_path / "runs.states").exists()
