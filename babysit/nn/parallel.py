"""A training batch in fixed parts, each through its own copy of the layers, on threads when BLAS has them.

Why: with two cores, a 2-thread BLAS runs only the GEMMs on both; every memory-bound pass between
them (padding, im2col, col2im, pooling, ReLU, bias) runs on one core, and OpenBLAS's worker spins on
the other right after each GEMM. Running whole forward + backward passes of batch parts side by side,
each with a 1-thread BLAS, puts *all* the work on both cores; NumPy releases the GIL inside its big
ufunc, copy and BLAS calls, so Python threads suffice.

Determinism: how a batch is split depends only on its size and the model (``batch_parts``), never
on how many threads run the parts, and the parts' parameter gradients are added in part order. So a
step gives the same bits on one thread (the parts in turn) or several, run to run; it differs from
the unsplit step only by float rounding (sums taken in another order).

A part's copy of a layer (``replicate``) shares the layer's parameter arrays and has its own
gradients, work buffers and cache; a layer's class says whether it may be split (``per_sample``:
each output sample depends only on its input sample, and the parameter gradients are sums over the
samples; not BatchNorm, whose statistics span the batch, nor Dropout, whose draws would depend on
which part draws first).
"""

from __future__ import annotations

import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from babysit.nn.buffers import BufferPool

MIN_PART_SAMPLES = 32  # smaller parts: the per-call overhead of a second pass outweighs the second core
# the layer attributes a copy takes from its layer before every step (freeze, train/eval, the model's wiring)
SYNCED = ("training", "input_grad", "param_grad", "frozen", "params", "fuses_next")


def part_slices(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices of range(n), sizes differing by at most one (fewer when n is small)."""
    parts = max(1, min(parts, n // MIN_PART_SAMPLES))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def replicate(layer):
    """A copy of ``layer`` for one batch part: the same parameter arrays, its own gradients, buffers and cache."""
    twin = copy.copy(layer)
    twin.grads = {name: np.zeros_like(g) for name, g in layer.grads.items()}
    if isinstance(getattr(layer, "alloc", None), BufferPool):  # as the layer: the last one keeps fresh arrays
        twin.alloc = BufferPool()
    twin._cache = None
    twin.last_output = None
    return twin


def sync(twin, layer) -> None:
    """Give the part's copy the layer's current flags and parameter dict (``SYNCED``)."""
    for name in SYNCED:
        setattr(twin, name, getattr(layer, name))


def add_in_order(arrays, out) -> None:
    """``out = arrays[0] + arrays[1] + ...``, always in that order (the same bits on any number of threads)."""
    np.add(arrays[0], arrays[1], out=out) if len(arrays) > 1 else np.copyto(out, arrays[0])
    for a in arrays[2:]:
        out += a


# -- running the parts -----------------------------------------------------------
_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_pid = 0  # a forked child has none of its parent's threads: it makes its own pool
_blas = None  # threadpoolctl's controllers of the loaded BLAS libraries, found once


def _blas_controllers():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


def blas_threads() -> int:
    """How many threads the BLAS may use now (1 under ``threadpool_limits(1)``, e.g. in a search worker)."""
    controllers = _blas_controllers()
    return min((c.num_threads for c in controllers), default=1)


def run_parts(fn, count: int) -> list:
    """``[fn(0), ..., fn(count - 1)]``: on up to ``count`` threads, as many as the BLAS may use, each with a
    1-thread BLAS meanwhile; in turn on this thread when the BLAS has one thread. Thread t runs parts
    t, t + threads, ...; the first exception (by part index) is raised once every part has ended."""
    threads = min(count, blas_threads(), os.cpu_count() or 1)
    if threads < 2:
        return [fn(i) for i in range(count)]
    global _executor, _executor_pid
    with _lock:  # one parallel step at a time: the BLAS thread setting is process-wide
        if _executor is None or _executor_pid != os.getpid() or _executor._max_workers < threads - 1:
            _executor = ThreadPoolExecutor(threads - 1, thread_name_prefix="babysit-part")
            _executor_pid = os.getpid()
        controllers = _blas_controllers()
        saved = [c.num_threads for c in controllers]
        for c in controllers:
            c.set_num_threads(1)
        results, errors = [None] * count, [None] * count
        errstate = np.geterr()  # NumPy's error handling is per thread: every lane takes the caller's

        def lane(t):
            with np.errstate(**errstate):
                for i in range(t, count, threads):
                    try:
                        results[i] = fn(i)
                    except BaseException as exc:  # re-raised below, on the caller's thread
                        errors[i] = exc

        try:
            futures = [_executor.submit(lane, t) for t in range(1, threads)]
            lane(0)
            for f in futures:
                f.result()
        finally:
            for c, n in zip(controllers, saved):
                c.set_num_threads(n)
    for exc in errors:
        if exc is not None:
            raise exc
    return results
