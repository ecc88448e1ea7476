"""kill -9 of `babysit search` at seeded random moments, then the same command again: the resumed search
ends with the very trials an uninterrupted search with the same seed records (same parameters, same
accuracies), keeps every trial finished before the kill (same run id), runs none twice, and the store
passes `PRAGMA integrity_check`. A local worker process killed mid-trial: its trial runs again, same results."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.cli.helpers import babysit

from .kills import Child, duplicated_trials, integrity, runs, trials

SEARCH = ("search", "--data", "digits", "--model", "fc:32", "--lr", "1e-3:1e0:log", "--reg", "1e-5:1e-1:log",
          "--stages", "2", "--trials", "4", "--epochs", "8", "--seed", "5",
          "--workers", "1")  # the kill moments are drawn for one process (the default: one worker per core)
SLOW_POINTS = 20  # the figure: kills at 20 seeded random moments
FAST_POINTS = 2


def _comparable(found: dict) -> dict:
    """(stage, index) -> (params, val_acc, status): what must equal the uninterrupted search's."""
    return {(stage, index): (params, val_acc, status) for (_, stage, index), (_, params, val_acc, status) in found.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted search: its trials and its wall time (the range the kill moments are drawn from)."""
    cwd = tmp_path_factory.mktemp("reference")
    start = time.monotonic()
    proc = babysit(*SEARCH, "--store", "runs.sqlite", cwd=cwd)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    found = trials(cwd / "runs.sqlite")
    assert len(found) == 8
    return _comparable(found), seconds


def kill_and_resume(tmp_path: Path, reference, point: tuple[int, float]) -> dict:
    """Start the search, kill -9 it at ``point``, run it again; check the promises; return what happened.

    ``point`` = (k, delay): with k = 0, ``delay`` s after the start (start-up, data, the first trials); else
    ``delay`` s after the k-th trial finished (so the kills spread over the search whatever the machine's pace).
    """
    expected, _ = reference
    store = tmp_path / "runs.sqlite"
    child = Child(*SEARCH, "--store", store.name, cwd=tmp_path)
    k, delay = point
    if k:
        child.wait_until(lambda: len(trials(store)) >= k)
    time.sleep(delay)
    killed = child.kill9()
    before = trials(store)
    if store.exists():
        assert integrity(store) == "ok"
    again = babysit(*SEARCH, "--store", store.name, cwd=tmp_path)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stdout[-2000:] + again.stderr
    after = trials(store)
    # bytes of finished results lost: the recorded rows (id, params, accuracy, status) missing or changed
    lost = sum(len(json.dumps(v)) for k, v in before.items() if after.get(k) != v)
    assert lost == 0 and {k: after[k] for k in before} == before  # nothing finished lost, nor redone (same ids)
    assert duplicated_trials(store) == []
    assert _comparable(after) == expected  # the same results as the uninterrupted search
    assert not [r for r in runs(store) if r["status"] == "running"]
    assert integrity(store) == "ok"
    new_lines = [line for line in again.stdout.splitlines() if line.startswith("val_acc:")]
    assert len(new_lines) == len(expected) - len(before)  # only the unfinished trials ran
    return {"killed": killed, "finished_before": len(before), "lost_bytes": lost,
            "redone": len(new_lines) - (len(expected) - len(before))}


def _points(n: int, seconds: float) -> list[tuple[int, float]]:
    """n seeded kill moments: a quarter by time from the start (within the uninterrupted run's duration), the
    rest a random delay after a random number (1..7) of the 8 trials finished. The delay is up to 0.4 s, or up to
    a sixteenth of the uninterrupted run where that is shorter: on a fast machine (the whole search in 0.8 s)
    a fixed 0.4 s after the 6th trial fell after the search had ended, and the kill tested nothing."""
    rng = random.Random(13)  # seeded: the same moments every run
    longest_delay = min(0.4, seconds / 16)
    return [(0, rng.uniform(0.2, max(0.2, seconds))) if i % 4 == 0
            else (rng.randint(1, 7), rng.uniform(0, 1) * longest_delay) for i in range(n)]


def test_kill_9_at_a_few_random_moments_then_resume(reference, tmp_path):
    outcomes = []
    for i, point in enumerate(_points(FAST_POINTS, reference[1])):
        (tmp_path / f"p{i}").mkdir()
        outcomes.append(kill_and_resume(tmp_path / f"p{i}", reference, point))
    assert sum(o["killed"] for o in outcomes) >= 1


@pytest.mark.slow
def test_kill_9_at_20_random_moments_then_resume(reference, tmp_path, record_property):
    outcomes = []
    for i, point in enumerate(_points(SLOW_POINTS, reference[1])):
        (tmp_path / f"p{i}").mkdir()
        outcomes.append(kill_and_resume(tmp_path / f"p{i}", reference, point))
    killed = sum(o["killed"] for o in outcomes)
    mid = sum(1 for o in outcomes if o["killed"] and 0 < o["finished_before"] < 8)
    print(f"kills: {killed} of {SLOW_POINTS} landed while the search ran ({mid} with some trials finished); "
          f"all {SLOW_POINTS} resumed to the uninterrupted results; finished trials kept through a kill: "
          f"{sum(o['finished_before'] for o in outcomes)}; bytes of finished results lost: "
          f"{sum(o['lost_bytes'] for o in outcomes)}; trials redone after a resume: {sum(o['redone'] for o in outcomes)}")
    assert killed >= SLOW_POINTS * 3 // 4 and mid >= SLOW_POINTS // 2


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_a_worker_killed_mid_trial_has_its_trial_run_again(reference, tmp_path):
    """--workers 2: SIGKILL one spawned worker while trials run; the pool is rebuilt, the trials it held run
    again, the search ends with the uninterrupted search's results."""
    expected, _ = reference
    child = Child(*SEARCH, "--store", "runs.sqlite", "--workers", "2", cwd=tmp_path)
    store = tmp_path / "runs.sqlite"
    assert child.wait_until(lambda: any(r["status"] == "running" for r in runs(store)) and _workers(child.proc.pid))
    victims = _workers(child.proc.pid)
    os.kill(victims[0], signal.SIGKILL)
    done = child.finish()
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout[-2000:] + done.stderr
    assert _comparable(trials(store)) == expected
    assert duplicated_trials(store) == [] and integrity(store) == "ok"


def _workers(pid: int) -> list[int]:
    """The driver's spawned pool workers (its python children, the resource tracker left out)."""
    out = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(child)
    return out
