"""`babysit run` killed with SIGKILL during its search, then run again into the same --out: it resumes that
search (one search in the store, no finished trial run twice) and finishes the job."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

from babysit.store import RunStore

from .helpers import babysit

ARGS = ("run", "--budget-minutes", "0.4", "--model", "fc:32", "--seed", "4", "--out", "job")


def _finished_trials(store_path) -> dict:
    """(stage, index) -> run id of the search's trials with a final status, read without the writer lock."""
    try:
        with RunStore(store_path, readonly=True) as store:
            return {(r["stage"], r["trial_index"]): r["id"] for r in store.runs()
                    if r["search"] is not None and r["status"] not in ("running", "interrupted")}
    except Exception:  # not created yet
        return {}


def test_a_run_killed_mid_search_resumes_its_search_when_run_again(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "babysit", *ARGS], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store_path = tmp_path / "job" / "runs.sqlite"
    deadline = time.monotonic() + 180
    while len(_finished_trials(store_path)) < 3:
        assert proc.poll() is None, "the job ended before it could be killed mid-search"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished_trials(store_path)
    with RunStore(store_path, readonly=True) as store:
        spec_before = store.searches()[0]["spec"]
        assert not any(r["search"] is None for r in store.runs())  # killed before the final training

    again = babysit(*ARGS, cwd=tmp_path)
    # 0, or 1 when the final training exploded before its first epoch (no checkpoint): the pace decides
    assert again.returncode in (0, 1) and "Traceback" not in again.stderr, again.stdout[-2000:] + again.stderr
    assert f"resuming search 'run 1': {len(before)} trials already done" in again.stdout

    with RunStore(store_path, readonly=True) as store:
        searches = store.searches()
        assert [s["name"] for s in searches] == ["run 1"]  # one search, not a second one
        assert searches[0]["spec"] == spec_before  # resumed with its stored spec
        runs = store.runs()
    counted = Counter((r["search"], r["stage"], r["trial_index"]) for r in runs
                      if r["search"] is not None and r["status"] != "interrupted")
    assert counted and max(counted.values()) == 1  # no trial ran twice
    after = {(r["stage"], r["trial_index"]): r["id"] for r in runs if r["search"] is not None
             and r["status"] != "interrupted"}
    assert {k: after[k] for k in before} == before  # every trial finished before the kill kept, none redone
    finals = [r for r in runs if r["extra"].get("role") == "final"]
    # one final training, of the resumed search's best trial; whether it finished or exploded depends on which
    # trials the deadlines let run on this machine (the best short trial's rate can blow up over more epochs)
    assert len(finals) == 1 and finals[0]["extra"]["search"] == "run 1"
    assert finals[0]["status"] in ("finished", "exploded", "diverged")
    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

