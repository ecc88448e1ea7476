"""Where the ConvNet's 2-thread step leaves a core idle: ConvNet([32, 64]), batch 200 in 2 parts, float32.

Per step (medians over the steps): wall and process CPU time; the serial time before and after ``run_parts``;
each part's wall, thread CPU and run-queue wait (``/proc/self/task/TID/schedstat``: runnable but not running,
i.e. other processes); what is left of a part's wall is sleeping, which in this step is waiting for the GIL.
Then the process's voluntary context switches per step (each a sleep: the GIL, the executor hand-off) and
user/system CPU. ``--parts-alone``: one 100-image part on 1 BLAS thread, for the CPU a part costs alone.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_conv_idle.py [--steps 40] [--parts-alone]
"""
import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import babysit.nn.models as models
from babysit.nn import ConvNet, parallel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, median  # noqa: E402


def _run_queue_s() -> float:
    """This thread's time runnable but waiting for a CPU, in seconds (the kernel's schedstat)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        return int(f.read().split()[1]) / 1e9


def _context_switches() -> tuple[int, int]:
    """(voluntary, involuntary) context switches of every thread of this process."""
    vol = invol = 0
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    invol += int(line.split()[1])
    return vol, invol


def _data(n):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, n)


def _stepper(model, X, y):
    def step():
        _, grads = model.loss(X, y)
        for k, g in grads.items():
            model.params[k] -= 1e-3 * g
    return step


def two_threads(steps: int) -> None:
    marks = {}
    real_run_parts = parallel.run_parts

    def timed_run_parts(fn, count):  # each part's wall, thread CPU and run-queue wait
        def part(i):
            q, w, c = _run_queue_s(), time.perf_counter(), time.thread_time()
            result = fn(i)
            marks[i] = (time.perf_counter() - w, time.thread_time() - c, _run_queue_s() - q)
            return result
        marks["in"] = time.perf_counter()
        results = real_run_parts(part, count)
        marks["out"] = time.perf_counter()
        return results

    models.run_parts = timed_run_parts
    model = ConvNet(conv_channels=[32, 64], seed=0)
    step = _stepper(model, *_data(200))
    for _ in range(3):
        step()
    rows = []
    sw0, r0, t0 = _context_switches(), os.times(), time.perf_counter()
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        step()
        w1, c1 = time.perf_counter(), time.process_time()
        rows.append({"step wall": w1 - w, "step CPU": c1 - c, "serial before": marks["in"] - w,
                     "serial after": w1 - marks["out"],
                     **{f"part {i} {what}": marks[i][j] for i in (0, 1) for j, what in
                        enumerate(("wall", "CPU", "run queue"))},
                     **{f"part {i} asleep": marks[i][0] - marks[i][1] - marks[i][2] for i in (0, 1)}})
    wall, r1, sw1 = time.perf_counter() - t0, os.times(), _context_switches()
    models.run_parts = real_run_parts
    print(f"{cpu_model()}; {steps} steps of 200 in 2 parts on 2 threads; load {open('/proc/loadavg').read().split()[:3]}")
    for key in rows[0]:
        print(f"  {key:18s} {median([r[key] for r in rows]) * 1e3:6.2f} ms")
    print(f"  per step: {(sw1[0] - sw0[0]) / steps:.0f} voluntary / {(sw1[1] - sw0[1]) / steps:.1f} involuntary "
          f"context switches, user {(r1.user - r0.user) / steps * 1e3:.1f} ms, system "
          f"{(r1.system - r0.system) / steps * 1e3:.1f} ms, wall {wall / steps * 1e3:.1f} ms")


def part_alone(steps: int) -> None:
    model = ConvNet(conv_channels=[32, 64], seed=0)
    model.batch_parts = 1
    step = _stepper(model, *_data(100))
    with threadpool_limits(1):
        for _ in range(3):
            step()
        cpu = []
        for _ in range(steps):
            c = time.thread_time()
            step()
            cpu.append(time.thread_time() - c)
    print(f"  one 100-image part alone, 1 thread: {median(cpu) * 1e3:.2f} ms CPU per step")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--parts-alone", action="store_true")
    args = parser.parse_args(argv)
    two_threads(args.steps)
    if args.parts_alone:
        part_alone(args.steps)


if __name__ == "__main__":
    main()
