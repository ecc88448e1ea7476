"""Executors: where trials run. In the driver's process, in local worker processes, or on a Dask cluster.

Every executor has one method, ``run(fn, tasks, may_launch)``: it pulls a task from the
``tasks`` iterator only when a slot is free and ``may_launch()`` says yes (the driver's
budget), runs ``fn(task)`` and yields ``(task, result)`` as trials complete. The iterator may
give ``WAIT`` instead of a task while some of its tasks are running: nothing can start until
one of them completes (a stage with rungs decides what runs next from their results). Results come
back to the caller; executors never touch the run store. A task whose worker dies, or
whose function raises, yields a 'failed' result instead of stopping the others.

Threads: N trials at once on C cores must not each start C BLAS threads (two processes with
two threads each on two cores run 3.7x slower than one; see ../shared/PERFORMANCE.md). Local workers
get ``OMP/OPENBLAS/MKL_NUM_THREADS = C // N`` in their environment before they start (NumPy
reads it once, at import), and threadpoolctl limits in the process as well; Dask trials run
under threadpoolctl limits of ``C // (trials running on that host)``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator

from babysit.errors import ConfigError
from babysit.search.trial import failed_result
from babysit.validation import AT_LEAST_ONE, check_int, check_optional_int, invalid

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class _Wait:
    def __repr__(self) -> str:
        return "WAIT"


WAIT = _Wait()  # what a task iterator gives when its next task depends on running ones
CLUSTER_TIMEOUT_S = 5.0


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cores: int | None = None) -> int:
    """Worker processes a search runs when the user does not say: one per core, each with one BLAS
    thread (on 2 cores, two 1-thread workers ran 1.6-1.9x the trials per minute of one 2-thread
    process; docs/benchmarks.md)."""
    return max(1, available_cores() if cores is None else cores)


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """BLAS threads for each of ``workers`` processes sharing ``cores`` (at least 1)."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def _always() -> bool:
    return True


class _Executor:
    """What every executor shares: a context manager that closes it on exit."""

    def close(self) -> None:
        """Let go of workers and connections (the inline executor holds none)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InlineExecutor(_Executor):
    """Runs trials one after another in the calling process (``make_executor(1)``): no start-up cost,
    the data stays loaded between trials, every core serves the one trial."""

    slots = 1
    description = "this process"

    def run(self, fn: Callable, tasks: Iterable, may_launch: Callable[[], bool] = _always) -> Iterator:
        tasks = iter(tasks)
        while may_launch():
            task = next(tasks, None)
            if task is None:
                return
            if task is WAIT:  # one trial at a time: nothing of the iterator's is running now
                raise RuntimeError("the task iterator waits for running tasks, but none is running")
            try:
                result = fn(task)
            except Exception as exc:  # fn is meant not to raise; a result is owed anyway
                result = failed_result(exc)
            yield task, result


def _worker_init(threads: int, parent_pid: int) -> None:
    """Initializer of a local worker: cap BLAS threads, and exit if the driver dies (kill -9)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except Exception:  # threadpoolctl missing or no BLAS found: the environment caps already apply
        pass
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    # A worker holds no store connection and no finished work of its own: once its driver is
    # gone (killed), the trial it is running has no one to report to.
    import time

    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


@contextlib.contextmanager
def _thread_caps(threads: int):
    """Set the BLAS/OpenMP thread variables in this process's environment (inherited by children)."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(threads) for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ProcessExecutor(_Executor):
    """``workers`` local processes started with 'spawn' (never fork: a forked child would inherit the
    driver's SQLite connection). Each worker gets ``cores // workers`` BLAS threads.

    A worker that dies (killed, out of memory) breaks the pool: its trial is recorded failed,
    the pool is rebuilt and the trials that were running beside it are run again, once.
    """

    def __init__(self, workers: int, threads: int | None = None, start_method: str = "spawn"):
        workers = check_int("ProcessExecutor", "workers", workers, AT_LEAST_ONE)
        threads = check_optional_int("ProcessExecutor", "threads", threads, AT_LEAST_ONE)
        if start_method not in ("spawn", "forkserver"):
            raise invalid("ProcessExecutor", "start_method", "'spawn' or 'forkserver' (never 'fork')", start_method)
        self.slots = workers
        self.threads = threads_per_worker(workers) if threads is None else threads
        self.start_method = start_method
        self.description = f"{workers} local processes, {self.threads} BLAS thread(s) each"
        self._pool = None
        self._caps = None

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            # The variables stay set while the pool lives: spawn starts workers on demand, and
            # each must see them before it imports NumPy.
            self._caps = _thread_caps(self.threads)
            self._caps.__enter__()
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.slots, mp_context=multiprocessing.get_context(self.start_method),
                initializer=_worker_init, initargs=(self.threads, os.getpid()),
            )
        return self._pool

    def run(self, fn: Callable, tasks: Iterable, may_launch: Callable[[], bool] = _always) -> Iterator:
        tasks = iter(tasks)
        running: dict[cf.Future, tuple] = {}  # future -> (task, ran alone in the pool)
        # Trials that were running when a worker died. Which one killed it is unknown, so they rerun one
        # at a time: a trial that breaks the pool while running alone is the culprit and is failed.
        suspects: list = []
        exhausted = False
        while True:
            if suspects:
                if not running:
                    self._submit(fn, suspects.pop(0), True, running, suspects)
            else:
                while not exhausted and len(running) < self.slots and may_launch():
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    if task is WAIT:
                        break
                    self._submit(fn, task, self.slots == 1, running, suspects)
            if not running:
                return
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in done:
                task, alone = running.pop(future)
                try:
                    result = future.result()
                except cf.process.BrokenProcessPool:
                    broken = True
                    if not alone:
                        suspects.append(task)
                        continue
                    result = failed_result("the worker process died while running this trial (killed, or out of memory)")
                except Exception as exc:  # e.g. the task or its result could not be pickled
                    result = failed_result(exc)
                yield task, result
            if broken:
                suspects.extend(task for task, _ in running.values())  # a broken pool fails them all
                running.clear()
                self._shutdown_pool(broken=True)

    def _submit(self, fn: Callable, task, alone: bool, running: dict, suspects: list) -> None:
        """Submit ``task`` into ``running``. A worker that died since the last wait breaks the pool before any
        future says so: the trials it was running become suspects and ``task`` goes to a fresh pool."""
        try:
            future = self._ensure_pool().submit(fn, task)
        except Exception as exc:
            # Broken before the submit, or breaking during it: a worker that died while this submit spawned
            # another makes the pool close its pipes under the spawn (ValueError: bad value(s) in fds_to_keep).
            if not (isinstance(exc, cf.process.BrokenProcessPool) or getattr(self._pool, "_broken", False)):
                raise
            suspects.extend(t for t, _ in running.values())
            running.clear()
            self._shutdown_pool(broken=True)
            future = self._ensure_pool().submit(fn, task)
        running[future] = (task, alone)

    def _shutdown_pool(self, broken: bool = False) -> None:
        if self._pool is not None:
            if broken:
                # A broken pool's manager thread terminates the workers it knows and joins them all. A worker that
                # a submit spawned while the pool was breaking escapes the terminate and waits for tasks forever,
                # so the join (and this shutdown) never returned (CPython 3.11; 1 run in ~20 of
                # tests/faults/test_kill_search.py's killed worker). Kill every worker first.
                for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                    process.kill()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._caps is not None:
            self._caps.__exit__(None, None, None)
            self._caps = None

    def close(self) -> None:
        self._shutdown_pool()


def _dask_trial(fn: Callable, task, workers_on_host: dict) -> dict:
    """Run ``fn(task)`` on a Dask worker with BLAS capped to the host's cores / its concurrent trials."""
    from threadpoolctl import threadpool_limits

    try:
        from distributed import get_worker

        worker = get_worker()
        host = worker.address.rsplit(":", 1)[0]
        concurrent = workers_on_host.get(host, 1) * max(1, worker.state.nthreads)
    except Exception:  # not inside a worker (a test calling it directly)
        concurrent = 1
    with threadpool_limits(threads_per_worker(concurrent)):
        return fn(task)


class DaskExecutor(_Executor):
    """Trials on the Dask distributed cluster whose scheduler listens at ``address`` (tcp://HOST:PORT).

    Workers must have babysit installed and see the same data paths. As many trials run at once
    as the cluster has worker threads. An unreachable address is a ConfigError after ``timeout`` s.
    """

    def __init__(self, address: str, timeout: float = CLUSTER_TIMEOUT_S):
        self.address = str(address)
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a declared dependency
            raise ConfigError("DaskExecutor needs the 'distributed' package; pip install distributed") from None
        try:
            self.client = Client(self.address, timeout=f"{timeout}s", set_as_default=False)
        except Exception as exc:  # OSError / TimeoutError when nothing listens, ValueError for a bad address
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise invalid(
                "DaskExecutor", "address",
                f"the tcp://HOST:PORT address of a running Dask scheduler (start one with `dask scheduler`); "
                f"none answered within {timeout:g} s ({type(exc).__name__}: {reason[:160]})", self.address,
            ) from None
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        self.slots = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        self.workers_on_host: dict[str, int] = {}
        for address in workers:
            host = address.rsplit(":", 1)[0]
            self.workers_on_host[host] = self.workers_on_host.get(host, 0) + 1
        self.description = f"Dask cluster {self.address} ({len(workers)} workers, {self.slots} threads)"

    def run(self, fn: Callable, tasks: Iterable, may_launch: Callable[[], bool] = _always) -> Iterator:
        tasks = iter(tasks)
        running: dict = {}
        exhausted = False
        while True:
            while not exhausted and len(running) < self.slots and may_launch():
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                if task is WAIT:
                    break
                # pure=False: a trial re-run after a resume must run again, not hit a cached result
                future = self.client.submit(_dask_trial, fn, task, self.workers_on_host, pure=False)
                running[future] = task
            if not running:
                return
            done = _first_done(list(running))
            for future in done:
                task = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # KilledWorker (the trial killed its workers), lost connection...
                    result = failed_result(exc)
                future.release()
                yield task, result

    def close(self) -> None:
        self.client.close()


def _first_done(futures, poll: float = 0.05) -> list:
    """The futures that are done, waiting until there is one (polling: distributed.wait wants a default client)."""
    import time

    while True:
        done = [f for f in futures if f.done()]
        if done:
            return done
        time.sleep(poll)


def make_executor(workers: int | None = 1, cluster: str | None = None):
    """A ``DaskExecutor`` on ``cluster`` (an address) if given, else ``workers`` local processes (1, None: this one)."""
    workers = check_optional_int("make_executor", "workers", workers, AT_LEAST_ONE)
    if cluster:
        if workers not in (None, 1):
            raise invalid("make_executor", "workers", "1 or None when a cluster is given", workers)
        return DaskExecutor(cluster)
    if workers is None or workers == 1:
        return InlineExecutor()
    return ProcessExecutor(workers)
