"""Executors on real processes and a real Dask LocalCluster: thread caps, worker deaths, budgets, determinism."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from babysit.search.executors import DaskExecutor, InlineExecutor, ProcessExecutor, make_executor, threads_per_worker
from babysit.search.trial import DataRef, TrialTask, run_trial


# -- picklable task functions (spawned workers import this module by name) ---------------------


def worker_facts(task):
    """What a worker sees: its BLAS thread limits, environment caps, whether SQLite/store were imported."""
    import sys

    from threadpoolctl import threadpool_info

    return {
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "blas_threads": sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}),
        "pid": os.getpid(), "ppid": os.getppid(), "task": task,
        "start_method": multiprocessing.get_start_method(allow_none=True),
        "store_imported": "babysit.store.run_store" in sys.modules,
    }


def die_on_three(task):
    """Kills its worker process for task 3 (as the OOM killer would); other tasks return their number."""
    if task == 3:
        os._exit(9)
    time.sleep(0.2)
    return {"status": "finished", "task": task}


def raise_on_two(task):
    if task == 2:
        raise RuntimeError("boom in task 2")
    return {"status": "finished", "task": task}


# -- tests ---------------------------------------------------------------------------------------


def test_threads_per_worker_divides_the_cores():
    assert threads_per_worker(1, cores=2) == 2
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(3, cores=2) == 1
    assert threads_per_worker(2, cores=16) == 8


def test_spawned_workers_get_capped_blas_threads_and_no_store():
    before = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    with ProcessExecutor(2, threads=1) as executor:
        facts = [r for _, r in executor.run(worker_facts, range(4))]
    assert sorted(f["task"] for f in facts) == [0, 1, 2, 3]
    assert {f["ppid"] for f in facts} == {os.getpid()} and os.getpid() not in {f["pid"] for f in facts}
    for f in facts:
        assert f["env"] == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        assert f["blas_threads"] == [1]
        assert f["start_method"] == "spawn"  # never fork: nothing of the driver's SQLite connection
        assert not f["store_imported"]
    # the driver's own environment is restored once the pool is gone
    assert {k: os.environ.get(k) for k in before} == before


def test_a_dead_worker_fails_only_its_trial_and_the_pool_recovers():
    with ProcessExecutor(2, threads=1) as executor:
        results = {task: r for task, r in executor.run(die_on_three, range(6))}
    assert sorted(results) == [0, 1, 2, 3, 4, 5]
    assert results[3].status == "failed" and "worker process died" in results[3].error
    assert all(results[t] == {"status": "finished", "task": t} for t in (0, 1, 2, 4, 5))


def test_a_raising_function_becomes_a_failed_result():
    for executor in (InlineExecutor(), ProcessExecutor(2, threads=1)):
        with executor:
            results = {task: r for task, r in executor.run(raise_on_two, range(4))}
        assert results[2].status == "failed" and results[2].error == "RuntimeError: boom in task 2"
        assert [results[t]["task"] for t in (0, 1, 3)] == [0, 1, 3]


def test_no_task_is_pulled_once_the_budget_says_stop():
    pulled = []

    def tasks():
        for i in range(10):
            pulled.append(i)
            yield i

    launched = iter([True, True, True, False])
    with ProcessExecutor(2, threads=1) as executor:
        done = [t for t, _ in executor.run(raise_on_two, tasks(), lambda: next(launched, False))]
    assert pulled == [0, 1, 2] and sorted(done) == [0, 1, 2]


def test_make_executor_picks_by_workers_and_cluster():
    assert isinstance(make_executor(1), InlineExecutor) and isinstance(make_executor(None), InlineExecutor)
    executor = make_executor(2)
    assert isinstance(executor, ProcessExecutor) and executor.slots == 2


@pytest.mark.parametrize(
    "make, owner, parameter, expected",
    [
        (lambda: make_executor(0), "make_executor", "workers", r"an int in \[1, inf\)"),
        (lambda: make_executor(2.0), "make_executor", "workers", r"an int in \[1, inf\)"),
        (lambda: make_executor(2, "tcp://127.0.0.1:9"), "make_executor", "workers", "1 or None when a cluster is given"),
        (lambda: ProcessExecutor(0), "ProcessExecutor", "workers", r"an int in \[1, inf\)"),
        (lambda: ProcessExecutor(2, threads=0), "ProcessExecutor", "threads", r"an int in \[1, inf\)"),
        (lambda: ProcessExecutor(2, start_method="fork"), "ProcessExecutor", "start_method", "never 'fork'"),
    ],
)
def test_bad_executor_arguments_name_the_parameter(config_error, make, owner, parameter, expected):
    with config_error(owner, parameter, expected):
        make()


def test_an_unreachable_cluster_is_a_config_error_within_the_timeout(config_error):
    start = time.monotonic()
    with config_error("DaskExecutor", "address", "the tcp://HOST:PORT address of a running Dask scheduler") as err:
        DaskExecutor("tcp://127.0.0.1:9", timeout=2)
    assert "none answered within 2 s" in str(err.value) and err.value.got == "'tcp://127.0.0.1:9'"
    assert time.monotonic() - start < 15


@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    yield cluster
    cluster.close()


def test_trials_on_a_dask_cluster_match_local_processes(local_cluster):
    tasks = [TrialTask(DataRef("digits"), "fc:16", {"lr": lr, "reg": 1e-3}, 2, seed=10 + i, stage=1, index=i)
             for i, lr in enumerate([1e-3, 1e-2, 5e-2, 1e3])]
    with DaskExecutor(local_cluster.scheduler_address) as dask_executor:
        assert dask_executor.slots == 2
        on_dask = {t.index: r for t, r in dask_executor.run(run_trial, tasks)}
    with ProcessExecutor(2, threads=1) as local:
        on_local = {t.index: r for t, r in local.run(run_trial, tasks)}
    assert sorted(on_dask) == [0, 1, 2, 3]
    assert on_dask[3].status in ("exploded", "diverged")
    for i in range(4):
        assert on_dask[i].status == on_local[i].status
        assert on_dask[i].metrics["val_acc"] == on_local[i].metrics["val_acc"]
        assert on_dask[i].series["loss"] == on_local[i].series["loss"]
    assert {r.metrics["pid"] for r in on_dask.values()} != {os.getpid()}  # ran in the cluster's worker processes


def test_worker_processes_run_the_kernels_chosen_and_give_the_same_trials(monkeypatch):
    """The choice of kernels (babysit.nn.kernels, an environment variable) reaches the worker processes, each trial
    records it, and the numba kernels give the NumPy kernels' trials, bit for bit."""
    pytest.importorskip("numba", reason="the numba kernels are optional: pip install 'babysit[numba]'")
    tasks = [TrialTask(DataRef("digits"), model, {"lr": 1e-2, "reg": 1e-3, "update": update}, 2, seed=3 + i, stage=1,
                       index=i) for i, (model, update) in enumerate([("fc:16", "momentum"), ("conv:4", "adam")])]
    runs = {}
    for kernels in ("numpy", "numba"):
        monkeypatch.setenv("BABYSIT_KERNELS", kernels)
        with ProcessExecutor(2, threads=1) as workers:
            runs[kernels] = {t.index: r for t, r in workers.run(run_trial, tasks)}
    for i in range(len(tasks)):
        a, b = runs["numpy"][i], runs["numba"][i]
        assert a.status == b.status == "finished"
        assert (a.metrics["kernels"], b.metrics["kernels"]) == ("numpy", "numba")
        assert a.metrics["pid"] != os.getpid() and a.series["loss"] == b.series["loss"]
        assert a.metrics["val_acc"] == b.metrics["val_acc"]


def test_a_whole_search_on_the_cluster_matches_local_workers(local_cluster, tmp_path):
    from babysit.search import SearchSpace, SearchSpec, run_search
    from babysit.search.rungs import Rungs
    from babysit.store import RunStore

    # with rungs in stage 2 (3 epochs, rung at 1): its promoted trials go on from states the cluster's workers saved
    spec = SearchSpec(DataRef("digits"), "fc:16", SearchSpace.parse({"lr": "1e-3:1e0:log", "reg": "1e-5:1e-1:log"}),
                      (5, 4), (1, 3), seed=4, rungs=Rungs(eta=2, bracket=4, fraction=0.34))
    outcomes = {}
    for name, executor in (("dask", DaskExecutor(local_cluster.scheduler_address)), ("local", ProcessExecutor(2, 1))):
        with executor, RunStore(tmp_path / f"{name}.sqlite") as store:
            outcomes[name] = run_search(spec, store, executor)
    dask, local = ([(r.stage, r.index, r.params, r.status, r.val_acc, r.epochs) for r in outcomes[k].records]
                   for k in ("dask", "local"))
    assert len(dask) == 9 and dask == local
    assert str(outcomes["dask"].stages[1].space) == str(outcomes["local"].stages[1].space)
    continued = [r for r in outcomes["dask"].stages[1].records
                 if r.extra.get("resumed_at_epoch") == 1 and r.status == "finished"]
    assert continued and [r.epochs for r in continued] == [3] * len(continued)
    assert os.getpid() not in {r.extra["pid"] for r in continued}
    assert not (tmp_path / "dask.states").exists()
