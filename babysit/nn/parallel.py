"""Run a memory-bound NumPy pass on all cores by splitting its outermost axis between threads.

BLAS runs the GEMMs on every core, but NumPy's copies and elementwise passes run on one:
in a conv step the im2col/col2im copies and the pooling passes (memory-bound, over the
(C, H, W, N) layout whose channel axis is outermost) would leave the other cores idle.
``split(fn, n)`` calls ``fn(lo, hi)`` on disjoint parts of range(n), one per thread; NumPy
releases the GIL inside its loops, so the parts run at the same time. Small jobs run inline.

Threads: one per CPU this process may use, capped by OMP_NUM_THREADS / OPENBLAS_NUM_THREADS
when set (parallel trials set them per worker); ``set_num_threads`` overrides. The helpers wait
on a queue, so unlike BLAS threads they burn no CPU while idle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

MIN_PART_BYTES = 1 << 20  # a part smaller than this costs more to hand over than it saves
CACHE_BLOCK_BYTES = 512 << 10  # fits a core's L2 cache with room to spare


def _default_threads() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        try:
            n = min(n, int(os.environ[var]))
        except (KeyError, ValueError):
            pass
    return max(1, n)


_threads = _default_threads()
_executor: ThreadPoolExecutor | None = None
_executor_pid = -1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (>= 1) for the split passes from now on."""
    global _threads, _executor
    _threads = max(1, int(n))
    if _executor is not None:
        _executor.shutdown(wait=True)
        _executor = None


def num_threads() -> int:
    return _threads


def _pool() -> ThreadPoolExecutor:
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():  # threads don't survive a fork
        _executor = ThreadPoolExecutor(_threads - 1, thread_name_prefix="babysit-nn")
        _executor_pid = os.getpid()
    return _executor


def split(fn: Callable[[int, int], object], n: int, nbytes: int, block: int | None = None) -> None:
    """Call ``fn(lo, hi)`` on consecutive ranges covering range(n), in parallel.

    ``nbytes`` is the job's memory traffic. Each thread takes an equal share of range(n); with
    ``block``, a thread walks its share ``block`` items at a time (cache blocking: a function
    making several passes over its range finds the data still in cache).
    """
    parts = min(_threads, n, max(1, nbytes // MIN_PART_BYTES))
    step = n if block is None else max(1, block)

    def run(lo, hi):
        for start in range(lo, hi, step):
            fn(start, min(start + step, hi))

    if parts <= 1:
        run(0, n)
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_pool().submit(run, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    try:
        run(bounds[0], bounds[1])
    finally:  # never return while a helper still writes
        for f in futures:
            f.result()


def cache_block(n: int, nbytes: int) -> int:
    """How many of n items, whose passes move ``nbytes`` in all, fit one cache block."""
    return max(1, CACHE_BLOCK_BYTES * n // max(nbytes, 1))
