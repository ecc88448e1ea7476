"""kill -9 and concurrent readers against a real writer subprocess."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from babysit.store import INTERRUPTED, RunStore

# Writes runs as fast as it can: each with a 2000-point loss series logged in 4 batches, so
# a kill most likely lands inside a write. It prints "RUN_ID TRIAL" only after finish_run
# has committed, so every printed run must survive the kill.
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from babysit.store import RunStore

    path, first_trial = sys.argv[1], int(sys.argv[2])
    store = RunStore(path)
    sid = store.create_or_open_search("crash", {"trials": 100000})
    print("ready", flush=True)
    for trial in range(first_trial, first_trial + 100000):
        rid = store.start_run(sid, 1, trial, {"lr": 10.0 ** -(trial % 7), "trial": trial})
        for batch in range(4):
            steps = np.arange(batch * 500, (batch + 1) * 500)
            store.log_metrics(rid, "loss", steps, 1.0 / (1.0 + steps + trial))
        store.finish_run(rid, "finished", {"val_acc": trial / 1000.0, "epochs": trial})
        print(rid, trial, flush=True)
    """
)


def _start_writer(path, first_trial=0):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(first_trial)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def _kill_after(child, n_finished, extra_delay):
    """Read n finished lines, wait a little more, SIGKILL; return every (run_id, trial) reported."""
    reported = []
    for _ in range(n_finished):
        rid, trial = child.stdout.readline().split()
        reported.append((int(rid), int(trial)))
    time.sleep(extra_delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    for line in child.stdout.read().splitlines():  # lines printed before the kill
        rid, trial = line.split()
        reported.append((int(rid), int(trial)))
    assert child.returncode == -signal.SIGKILL
    return reported


def _check_intact(path, reported, kills=1):
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with RunStore(path) as store:
        runs = {r["id"]: r for r in store.runs()}
        for rid, trial in reported:
            run = runs[rid]
            assert (run["status"], run["trial_index"]) == ("finished", trial)
            assert run["val_acc"] == trial / 1000.0 and run["epochs"] == trial
            assert run["params"] == {"lr": 10.0 ** -(trial % 7), "trial": trial}
            steps, values = store.metric_series(rid, "loss")
            np.testing.assert_array_equal(steps, np.arange(2000))
            np.testing.assert_allclose(values, 1.0 / (1.0 + np.arange(2000) + trial))
        # the run being written at each kill (if any) is now interrupted, none left running
        leftovers = [r for r in runs.values() if r["status"] != "finished"]
        assert len(leftovers) <= kills
        assert all(r["status"] == INTERRUPTED for r in leftovers)
        finished_ids = {r["id"] for r in runs.values() if r["status"] == "finished"}
        assert {rid for rid, _ in reported} <= finished_ids
        return store.finished_trials(store.searches()[0]["id"])


@pytest.mark.parametrize("extra_delay", [0.0, 0.013, 0.05])
def test_kill_9_mid_write_loses_no_finished_run(tmp_path, extra_delay):
    path = tmp_path / "runs.sqlite"
    child = _start_writer(path)
    reported = _kill_after(child, 5, extra_delay)
    assert len(reported) >= 5
    done = _check_intact(path, reported)
    assert {trial for (_, trial) in done} >= {trial for _, trial in reported}


def test_repeated_kills_then_resume_keeps_every_finished_run(tmp_path):
    path = tmp_path / "runs.sqlite"
    reported = []
    next_trial = 0
    for kills, delay in enumerate((0.002, 0.021, 0.0), start=1):
        child = _start_writer(path, next_trial)  # the lock of the killed writer is gone
        reported += _kill_after(child, 3, delay)
        next_trial = max(t for _, t in reported) + 1000
        _check_intact(path, reported, kills)
    assert len(reported) >= 9


def test_reader_sees_committed_runs_while_a_process_writes(tmp_path):
    path = tmp_path / "runs.sqlite"
    child = _start_writer(path)
    try:
        seen = []
        deadline = time.monotonic() + 1.5
        with RunStore(path, readonly=True) as reader:
            while time.monotonic() < deadline:
                runs = reader.runs()
                finished = [r for r in runs if r["status"] == "finished"]
                for r in finished:  # a finished run is always complete, never half-written
                    steps, _ = reader.metric_series(r["id"], "loss")
                    assert len(steps) == 2000
                seen.append(len(finished))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert seen == sorted(seen) and seen[-1] > seen[0] >= 0
    assert len(seen) > 5


def test_open_read_transaction_does_not_block_the_writer(tmp_path):
    """WAL: a reader keeps its snapshot while the writer commits (rollback journal mode would block)."""
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as writer:
        first = writer.start_run(None, None, None, {})
        reader = sqlite3.connect(path, isolation_level=None, timeout=0.1)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        writer.finish_run(first, "finished", {"val_acc": 0.5})  # would time out if the reader blocked it
        writer.start_run(None, None, None, {})
        assert reader.execute("SELECT count(*), max(status) FROM runs").fetchone() == (1, "running")
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
        reader.close()
