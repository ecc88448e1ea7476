"""The disk filling up under the run store, a checkpoint, the decoded-image cache and the report, on a
real tmpfs the test fills: one line on stderr, exit 2 (the cache: a warning, the run goes on), nothing
recorded before is lost or damaged, no temp file left, and the same command after freeing space
resumes. A store on a file system remounted read-only: readers work, writers get one line."""

from __future__ import annotations

import os

import pytest

from babysit.train import load_checkpoint

from tests.cli.helpers import assert_one_line_error, babysit
from tests.data.imagefiles import write_tree

from .kills import FINAL, Child, duplicated_trials, integrity, runs, trials

SEARCH = ("search", "--data", "digits", "--model", "fc:32", "--lr", "1e-3:1e0:log", "--reg", "1e-5:1e-1:log",
          "--stages", "1", "--trials", "12", "--epochs", "3", "--seed", "5")


def _leftovers(folder) -> list[str]:
    """Temp files an interrupted atomic write would leave (babysit.fileio names them .NAME.tmp-*)."""
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def test_the_store_filling_up_mid_search_then_resume_after_freeing_space(tiny_fs, tmp_path):
    store = tiny_fs.path / "runs.sqlite"
    child = Child(*SEARCH, "--store", store, cwd=tmp_path)
    assert child.wait_until(lambda: len(trials(store)) >= 2, pause=True), "the search ended before the disk was filled"
    tiny_fs.fill()
    child.resume()
    done = child.finish()
    before = trials(store)
    assert done.returncode == 2, done.stdout[-1000:] + done.stderr
    line = assert_one_line_error(done, f"cannot write store {store}", "full")
    assert "everything recorded before it is kept" in line
    assert integrity(store) == "ok" and len(before) >= 2
    tiny_fs.free()
    again = babysit(*SEARCH, "--store", store, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    after = trials(store)
    assert {k: after[k] for k in before} == before and len(after) == 12 and duplicated_trials(store) == []
    assert integrity(store) == "ok"


def test_a_checkpoint_on_a_full_disk_is_one_line_and_the_next_run_writes_it(tiny_fs, tmp_path):
    out = tiny_fs.path / "model"
    args = ("train", "--data", "digits", "--model", "fc:64", "--epochs", "2", "--quiet", "--out", out,
            "--store", tmp_path / "runs.sqlite")
    tiny_fs.fill()
    assert_one_line_error(babysit(*args, cwd=tmp_path), f"cannot write checkpoint {out / 'model.safetensors'}",
                          "No space left on device", "free space")
    assert _leftovers(tiny_fs.path) == [] and not (out / "model.safetensors").exists()
    assert integrity(tmp_path / "runs.sqlite") == "ok"
    tiny_fs.free()
    again = babysit(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    load_checkpoint(out)
    assert [r["status"] for r in runs(tmp_path / "runs.sqlite")] == ["interrupted", "finished"]


@pytest.mark.slow
def test_the_image_cache_on_a_full_disk_costs_a_warning_and_is_written_once_there_is_room(tiny_fs, tmp_path):
    write_tree(tmp_path / "images", {"cat": [(12, 10)] * 12, "dog": [(12, 10)] * 12})
    env = {**os.environ, "BABYSIT_CACHE": str(tiny_fs.path / "cache")}
    args = ("train", "--data", f"folder:{tmp_path / 'images'}", "--model", "fc:8", "--epochs", "1", "--quiet",
            "--out", tmp_path / "model")
    tiny_fs.fill()
    child = Child(*args, cwd=tmp_path, env=env)
    done = child.finish()
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "cannot write cache file" in done.stderr and "continuing without cache" in done.stderr
    assert _leftovers(tiny_fs.path) == []
    tiny_fs.free()
    done = Child(*args, "--fresh", cwd=tmp_path, env=env).finish()
    assert done.returncode == 0 and "cache" not in done.stderr, done.stderr
    assert list((tiny_fs.path / "cache").rglob("*.npz"))  # written now


@pytest.mark.slow
def test_the_report_on_a_full_disk_is_one_line_and_the_same_command_resumes(tiny_fs, tmp_path):
    args = ("run", "--budget-minutes", "0.1", "--model", "fc:16", "--seed", "3", "--out", tiny_fs.path / "job")
    child = Child(*args, cwd=tmp_path)
    store = tiny_fs.path / "job" / "runs.sqlite"
    # the final run is recorded, then the report written: stop the child in between, fill the disk, go on
    assert child.wait_until(lambda: any(r["extra"].get("role") == "final" and r["status"] in FINAL for r in runs(store)),
                            poll=0.002, pause=True), "the job ended before the disk was filled"
    tiny_fs.fill()
    child.resume()
    done = child.finish()
    assert done.returncode == 2, done.stdout[-1500:] + done.stderr
    assert_one_line_error(done, f"cannot write the report into {tiny_fs.path / 'job'}", "No space left on device")
    before = trials(store)
    assert before and integrity(store) == "ok" and not (tiny_fs.path / "job" / "report.html").exists()
    tiny_fs.free()
    again = babysit(*args, cwd=tmp_path)
    assert again.returncode in (0, 1) and "Traceback" not in again.stderr, again.stderr
    assert f"resuming search 'run 1': {len(before)} trials already done" in again.stdout
    after = trials(store)
    assert {k: after[k] for k in before} == before and duplicated_trials(store) == []
    assert (tiny_fs.path / "job" / "report.html").is_file() and _leftovers(tiny_fs.path) == []
    assert integrity(store) == "ok"


def test_a_store_on_a_read_only_file_system_reads_and_refuses_writes_in_one_line(tiny_fs, tmp_path):
    store = tiny_fs.path / "runs.sqlite"
    assert babysit(*SEARCH[:-6], "--trials", "2", "--epochs", "1", "--store", store, cwd=tmp_path).returncode == 0
    before = trials(store)
    tiny_fs.readonly()
    try:
        listed = babysit("runs", "--store", store, cwd=tmp_path)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert_one_line_error(babysit(*SEARCH[:-6], "--trials", "3", "--epochs", "1", "--store", store, cwd=tmp_path),
                              f"store {store}", "Read-only file system")
    finally:
        tiny_fs.writable()
    assert trials(store) == before and integrity(store) == "ok"
