"""A Dask worker process killed (SIGKILL) mid-trial on a real LocalCluster: the scheduler runs the trial
again on a worker that is alive, the search finishes, and every trial's result equals the same search
run on local processes (same configurations, same accuracies)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from babysit.search.driver import SearchSpec, run_search
from babysit.search.executors import DaskExecutor, ProcessExecutor
from babysit.search.search_space import SearchSpace
from babysit.search.trial import DataRef
from babysit.store import RunStore

from .kills import duplicated_trials, integrity

distributed = pytest.importorskip("distributed")

SPEC = SearchSpec(DataRef("digits"), "fc:128,128", SearchSpace.parse({"lr": "1e-2:2e-1:log", "reg": "1e-5:1e-2:log"}),
                  stage_trials=(6,), stage_epochs=(40,), seed=7)  # trials long enough (~1 s) to be caught busy


def _results(store) -> dict:
    return {(r["stage"], r["trial_index"]): (r["params"], r["status"], r["val_acc"]) for r in store.runs()
            if r["status"] != "interrupted"}


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_replaced_and_the_search_equals_the_local_one(tmp_path):
    with RunStore(tmp_path / "local.sqlite") as store, ProcessExecutor(2, threads=1) as local:
        run_search(SPEC, store, local)
        expected = _results(store)
    assert len(expected) == 6

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    killed = []
    try:
        with RunStore(tmp_path / "dask.sqlite") as store, DaskExecutor(cluster.scheduler_address) as executor:
            client = executor.client
            pids = client.run(os.getpid)

            def kill_a_busy_worker():
                end = time.monotonic() + 120
                while time.monotonic() < end and not killed:
                    busy = [(addr, keys) for addr, keys in client.processing().items() if keys]
                    if busy:
                        time.sleep(0.1)  # inside the trial, not at its start
                        addr, keys = busy[0]
                        if client.processing().get(addr) == keys:  # still on that trial
                            os.kill(pids[addr], signal.SIGKILL)
                            killed.extend(keys)
                    time.sleep(0.02)

            killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
            killer.start()
            outcome = run_search(SPEC, store, executor)
            killer.join(5)
            got = _results(store)
            assert duplicated_trials(store.path) == []
        assert killed, "no worker was busy long enough to be killed"
        # the scheduler's own log: the trial the dead worker held was processing twice (there, then elsewhere)
        runs_of = [sum(1 for event in cluster.scheduler.story(key) if event[2] == "processing") for key in killed]
        assert max(runs_of) >= 2, runs_of
        assert len(outcome.records) == 6 and got == expected  # the lost trial ran again elsewhere, same result
        assert integrity(tmp_path / "dask.sqlite") == "ok"
    finally:
        cluster.close()
