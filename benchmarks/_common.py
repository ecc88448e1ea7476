"""Shared helpers for the benchmarks: machine description, interleaved timing, memory, GEMM rate.

Benchmarks are run by hand (never from the tests) and their figures go to docs/benchmarks.md
together with the machine they were measured on.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TARBALL = REPO.parent / "shared" / "data" / "cifar10-train-jpeg.tar.gz"


def prepared_tarball(tarball: Path):
    """(DataRef, prepared data) of the CIFAR-10 JPEG tarball, standardized, as a search's trials see it;
    None, with a message, when the file is missing."""
    from babysit.search.trial import DataRef, prepared

    if not tarball.exists():
        print(f"CIFAR-10 tarball not found at {tarball}; pass --tarball", file=sys.stderr)
        return None
    ref = DataRef(f"folder:{tarball.resolve()}", 0, "standardize")
    return ref, prepared(ref)


# -- the machine -------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` prints it (or platform.processor() without lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def blas_info() -> list[dict]:
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries (kernel, version, threads)."""
    from threadpoolctl import threadpool_info

    return [{k: v for k, v in d.items() if k in ("internal_api", "prefix", "version", "architecture",
                                                   "num_threads", "threading_layer")}
            for d in threadpool_info()]


def machine_info() -> dict:
    """Everything a figure needs next to it: CPU, cores, library versions, BLAS kernel, date, load."""
    info = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "load_average": os.getloadavg(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                               "OMP_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
                                               "MALLOC_TRIM_THRESHOLD_") if os.environ.get(k) is not None},
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def openblas_kernel() -> str:
    """'OpenBLAS <version> <kernel>, <n> threads' for the BLAS NumPy uses (threadpoolctl's report)."""
    for d in blas_info():
        if d.get("internal_api") == "openblas":
            return f"OpenBLAS {d.get('version')} {d.get('architecture')}, {d.get('num_threads')} threads"
    return "no OpenBLAS found by threadpoolctl"


# -- timing ------------------------------------------------------------------
def _busy_ticks() -> tuple[int, int]:
    """(CPU ticks all cores spent busy, ticks this process spent), both from /proc, in USER_HZ."""
    with open("/proc/stat") as f:
        v = [int(t) for t in f.readline().split()[1:9]]
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(v) - v[3] - v[4], int(fields[11]) + int(fields[12])  # minus idle, iowait; utime + stime


def foreign_load(seconds: float = 1.0) -> float:
    """Cores that other processes kept busy over the next ``seconds`` (from /proc/stat)."""
    busy0, own0 = _busy_ticks()
    time.sleep(seconds)
    busy1, own1 = _busy_ticks()
    return ((busy1 - busy0) - (own1 - own0)) / os.sysconf("SC_CLK_TCK") / seconds


def wait_until_quiet(max_seconds: float, max_foreign: float = 0.15) -> float:
    """Wait (up to ``max_seconds``) until other processes use less than ``max_foreign`` cores; returns their load."""
    deadline = time.monotonic() + max_seconds
    load = foreign_load(1.0)
    while load > max_foreign and time.monotonic() < deadline:
        load = foreign_load(2.0)
    return load


def interleaved_timings(steps: dict[str, Callable[[], object]], *, rounds: int, steps_per_round: dict[str, int],
                        warmup_per_round: int = 2, max_foreign: float = 0.15, settle_seconds: float = 0.3,
                        max_rounds: int | None = None, clock: Callable[[], float] = time.perf_counter
                        ) -> tuple[dict[str, list[float]], int]:
    """Seconds per step for each callable, measured in alternating blocks so drift hits all alike.

    Each round times every callable once, as a block of ``steps_per_round[name]`` calls after
    ``warmup_per_round`` untimed ones, and ``settle_seconds`` after the previous block: BLAS
    and OpenMP worker threads spin for a while after their last job (OpenBLAS ~0.1 s), and a
    block started at once would share the cores with the other library's spinning threads.
    The order rotates every round. A round counts only when no block in it saw
    other processes use more than ``max_foreign`` cores (from /proc/stat): the machine is
    shared, and a busy neighbour makes a 2-thread BLAS many times slower. Rounds run until
    ``rounds`` quiet ones are in or ``max_rounds`` (default 4 * rounds) have run; when too
    few were quiet, all rounds are kept. ``clock``: wall time by default; ``time.process_time`` (this
    process's CPU time) for one-thread runs on a shared machine, where waiting for a core is not the
    step's cost. Returns (name -> one figure per kept round, quiet rounds).
    """
    names = list(steps)
    max_rounds = max_rounds or 4 * rounds
    quiet: dict[str, list[float]] = {name: [] for name in names}
    every: dict[str, list[float]] = {name: [] for name in names}
    hz = os.sysconf("SC_CLK_TCK")
    for r in range(max_rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        block, foreign = {}, 0.0
        for name in order:
            fn = steps[name]
            time.sleep(settle_seconds)
            for _ in range(warmup_per_round):
                fn()
            busy0, own0 = _busy_ticks()
            t0 = clock()
            for _ in range(steps_per_round[name]):
                fn()
            elapsed = clock() - t0
            busy1, own1 = _busy_ticks()
            block[name] = elapsed / steps_per_round[name]
            # ticks are 10 ms: only blocks of >= ~0.1 s tell a quiet machine from a busy one
            foreign = max(foreign, ((busy1 - busy0) - (own1 - own0)) / hz / max(elapsed, 1.0 / hz))
        for name in names:
            every[name].append(block[name])
            if foreign <= max_foreign:
                quiet[name].append(block[name])
        if len(quiet[names[0]]) >= rounds:
            break
    n_quiet = len(quiet[names[0]])
    return (quiet if n_quiet >= max(3, rounds // 2) else every), n_quiet


def median(values) -> float:
    return float(statistics.median(values))


def median_ms_per_call(fn: Callable[[], object], calls: int = 400) -> float:
    """Median milliseconds of ``calls`` single calls of ``fn`` (wall time): for parts of a step too unlike each
    other to batch (the profile scripts)."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times) * 1e3


def time_call(fn: Callable[[], object], *, repeat: int = 7, min_seconds: float = 0.05,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` batches of at least ``min_seconds``, read on ``clock``
    (wall time; ``time.process_time`` for CPU time). The batch size is calibrated on wall time."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds / 4:
        fn()
        n += 1
    number = max(1, 4 * n)
    samples = []
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - t0) / number)
    return median(samples)


# -- memory ------------------------------------------------------------------
def tracemalloc_peak(fn: Callable[[], object], calls: int = 3) -> tuple[int, int]:
    """(peak bytes above the starting level during ``calls`` calls, bytes still held after them).

    NumPy reports its array buffers to tracemalloc, so this counts every array a
    NumPy step allocates (temporaries included), and nothing of PyTorch's.
    """
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(calls):
            fn()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, current - base


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_peak_delta(fn: Callable[[], object], calls: int = 5) -> int:
    """Bytes by which the process's peak RSS (VmHWM) rises above its RSS during ``calls`` calls.

    Resets the high-water mark first (Linux: write 5 to /proc/self/clear_refs). Run it in a
    fresh process before any other step so memory freed by earlier work cannot hide the cost.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _proc_status_kib("VmRSS")
    for _ in range(calls):
        fn()
    return (_proc_status_kib("VmHWM") - base) * 1024


# -- GEMM throughput ---------------------------------------------------------
def gemm_operands(m: int, k: int, n: int, trans_a: bool, dtype=np.float32, seed: int = 0):
    """A (m, k) and B (k, n) float arrays; A is a transposed view when ``trans_a`` (as in x.T @ dout)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    return (a.T if trans_a else a), b


def numpy_gemms(shapes) -> Callable[[], None]:
    """A closure computing one NumPy ``matmul(A, B, out=C)`` for each (m, k, n, trans_a) shape."""
    ops = []
    for m, k, n, trans_a in shapes:
        a, b = gemm_operands(m, k, n, trans_a)
        ops.append((a, b, np.empty((m, n), np.float32)))

    def run():
        for a, b, c in ops:
            np.matmul(a, b, out=c)
    return run


def torch_gemms(shapes) -> Callable[[], None]:
    """A closure computing one ``torch.mm(A, B, out=C)`` for each (m, k, n, trans_a) shape."""
    import torch

    ops = []
    for m, k, n, trans_a in shapes:
        a, b = (torch.from_numpy(v) for v in gemm_operands(m, k, n, trans_a))  # keeps the strides
        ops.append((a, b, torch.empty((m, n))))

    def run():
        for a, b, c in ops:
            torch.mm(a, b, out=c)
    return run
