"""`babysit run` end to end as a real subprocess on digits, then `babysit eval` on what it wrote."""

from __future__ import annotations

import json
import re

import pytest

from babysit.search.executors import default_workers
from babysit.store import RunStore

from .helpers import assert_one_line_error, babysit


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("run")
    proc = babysit("run", "--budget-minutes", "0.2", "--model", "fc:32", "--seed", "1", "--out", "job", cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return cwd, proc


def test_run_prints_each_step_and_where_things_were_written(ran):
    cwd, proc = ran
    out = proc.stdout
    assert out.startswith("data: digits: 1437 train / 180 val / 180 test examples")
    assert re.search(r"^doctor: lr_range: pass: the loss goes down for lr in", out, re.M)
    assert re.search(rf"^plan \(12 s budget, {default_workers()} worker\(s\)\): stage 1: ~\d+ \(up to \d+\) trials x "
                     r"\d+ epoch\(s\)", out, re.M)  # --workers defaults to one per core
    assert re.search(r"^val_acc: \d\.\d{6}, lr: \d\.\d{6}e-\d\d, reg: \d\.\d{6}e[+-]\d\d, \(1 / \d+\)( .*)?$", out, re.M)
    assert re.search(r"^test: accuracy \d\.\d{4} on 180 held-out examples$", out, re.M)
    assert "Wrote job/:" in out and "job/model.safetensors + model.json" in out and "job/report.html" in out
    assert sorted(p.name for p in (cwd / "job").iterdir()) == [  # no runs.sqlite.lock left after a clean run
        "model.json", "model.safetensors", "plots", "report.html", "report.md", "runs.sqlite"]


def test_eval_on_the_checkpoint_gives_the_reported_test_accuracy(ran):
    cwd, proc = ran
    reported = float(re.search(r"^test: accuracy (\d\.\d{4})", proc.stdout, re.M).group(1))
    ev = babysit("eval", "--checkpoint", "job/model.safetensors", "--data", "digits", "--json", cwd=cwd)
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["accuracy"] == pytest.approx(reported, abs=5e-5)  # same split, same preprocessing


def test_eval_takes_the_out_folder_as_its_checkpoint_and_names_what_it_looked_for(ran):
    cwd, proc = ran
    by_file = babysit("eval", "--checkpoint", "job/model.safetensors", "--data", "digits", "--json", cwd=cwd)
    by_dir = babysit("eval", "--checkpoint", "job", "--data", "digits", "--json", cwd=cwd)
    assert by_dir.returncode == 0, by_dir.stderr
    assert json.loads(by_dir.stdout) == json.loads(by_file.stdout)
    (cwd / "empty").mkdir()
    assert_one_line_error(babysit("eval", "--checkpoint", "empty", "--data", "digits", cwd=cwd),
                          "checkpoint empty/model.safetensors not found (empty is a folder")


def test_runs_lists_the_search_and_the_final_run(ran):
    cwd, _ = ran
    listed = babysit("runs", "--store", "job/runs.sqlite", "--json", cwd=cwd)
    runs = json.loads(listed.stdout)
    assert {r["search"] for r in runs} == {"run 1", None}
    final = [r for r in runs if r["search"] is None]
    assert len(final) == 1 and final[0]["status"] == "finished"
    # the final training is planned to repeat the best trial at least as long; only the time budget
    # (train.callbacks.Deadline, its stop_reason in the store) cuts it shorter. How long it gets depends on the
    # machine's pace: on a fast VM a 12 s job's final was cut (12 of 20 epochs).
    best = max((r for r in runs if r["search"] == "run 1" and r["val_acc"] is not None), key=lambda r: r["val_acc"])
    assert final[0]["params"]["epochs"] >= best["epochs"] >= 1 and final[0]["epochs"] >= 1
    with RunStore(cwd / "job" / "runs.sqlite", readonly=True) as store:
        reason = next(r for r in store.runs() if r["id"] == final[0]["id"])["extra"]["stop_reason"]
    if final[0]["epochs"] < final[0]["params"]["epochs"]:
        assert reason.startswith("the time budget ran out"), reason
    else:
        assert reason is None


def test_bad_options_are_one_line_errors(tmp_path):
    for args, fragment in ((("--budget-minutes", "-1"), "--budget-minutes must be a float in (0, inf). Got -1.0 instead."),
                           (("--model", "mlp:3"), "--model: expected"),
                           (("--data", "folder:/no/such/dir"), "/no/such/dir"),
                           (("--workers", "0"), "--workers must be an int in [1, inf). Got 0 instead.")):
        assert_one_line_error(babysit("run", *args, "--out", "o", cwd=tmp_path), fragment)
