"""The fused conv -> ReLU -> pool alone, with NumPy's and with numba's kernels (``babysit.nn.kernels``).

For each conv of ``ConvNet([32, 64])`` on a batch part of 100 CIFAR-shaped images (float32, the shapes
``bench_step``'s two batch parts each run): the fused forward and its backward (with the input gradient,
as the second conv's; the first conv's backward in a model skips it), medians of ``time_call`` blocks on
one thread, the two kernel sets interleaved; and a check that both give the same bits.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kernels.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median, openblas_kernel, time_call  # noqa: E402

from babysit.nn.convpool import conv_relu_pool_backward, conv_relu_pool_forward  # noqa: E402
from babysit.nn.kernels import ENV, KERNELS, use_kernels  # noqa: E402

CONVS = {"conv1 3->32 at 32x32": (3, 32, 32), "conv2 32->64 at 16x16": (32, 64, 16)}


def case(c: int, f: int, size: int, n: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, size, size), dtype=np.float32)
    w = (rng.standard_normal((f, c, 3, 3)) * 0.2).astype(np.float32)
    b = (rng.standard_normal(f) * 0.1).astype(np.float32)
    dout = rng.standard_normal((n, f, size // 2, size // 2), dtype=np.float32)
    return x, w, b, dout


def run(name: str, x, w, b, dout):
    """(forward, backward) closures and one pass's results with the kernels ``name``."""
    os.environ[ENV] = name
    out, cache = conv_relu_pool_forward(x, w, b, 1, 1)
    dx, dw, db = conv_relu_pool_backward(dout, cache)
    results = [a.copy() for a in (out, cache.pool.argmax, dx, dw, db)]
    return (lambda: conv_relu_pool_forward(x, w, b, 1, 1)), (lambda: conv_relu_pool_backward(dout, cache)), results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100, help="images per call (default: a batch part of 100)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (medians over them)")
    args = parser.parse_args(argv)
    use_kernels("numba")  # ConfigError (with the pip command) where numba is missing
    info = machine_info()
    print("| conv | pass | NumPy ms | numba ms | NumPy / numba |")
    print("|---|---|---:|---:|---:|")
    with threadpool_limits(1):
        for title, (c, f, size) in CONVS.items():
            data = case(c, f, size, args.images)
            calls, results = {}, {}
            for name in KERNELS:
                fwd, bwd, results[name] = run(name, *data)
                calls[name] = {"forward": fwd, "backward": bwd}
            same = all(np.array_equal(a.view(np.uint8), b.view(np.uint8)) for a, b in zip(*results.values()))
            times = {name: {p: [] for p in ("forward", "backward")} for name in KERNELS}
            for i in range(args.rounds):
                for name in (KERNELS if i % 2 == 0 else KERNELS[::-1]):
                    os.environ[ENV] = name
                    for part, fn in calls[name].items():
                        times[name][part].append(time_call(fn, repeat=3, min_seconds=0.05))
            for part in ("forward", "backward"):
                a, b_ = (median(times[name][part]) * 1e3 for name in KERNELS)
                print(f"| {title} | {part} | {a:.2f} | {b_:.2f} | {a / b_:.2f}x |")
            print(f"| {title} | same bits | {same} | | |")
    os.environ[ENV] = "numpy"
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, {openblas_kernel()} (1 thread here); "
          f"python {info['python']}; {info['date']}; {args.images} images per call, {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
