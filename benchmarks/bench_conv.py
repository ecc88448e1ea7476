"""One conv layer, im2col against Winograd F(2x2, 3x3): forward + backward, per layer shape.

Why: ``Conv2d(algorithm='auto')`` picks Winograd from ``WINOGRAD_MIN_CHANNELS`` input channels;
this is the measurement behind that threshold. Float32, batch 200, 3x3 pad 1, input and
output gradient in the engine's (C, H, W, N) layout (as inside a ConvNet), reused buffers.
Times are CPU seconds of this process (``time.process_time``) with one BLAS thread, so other
processes on a shared machine slow it less than wall time; medians of --repeats.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_conv.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, median, openblas_kernel  # noqa: E402

SHAPES = [(32, 64, 16), (64, 64, 16), (64, 128, 8), (128, 128, 8), (3, 32, 32)]  # (C, F, H = W)


def cpu_ms(fn, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        samples.append(time.process_time() - t)
    return median(samples) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from babysit.nn.buffers import BufferPool
    from babysit.nn.conv import conv_backward, conv_forward
    from babysit.nn.winograd import winograd_backward, winograd_forward

    rng = np.random.default_rng(0)
    print(f"{cpu_model()}; {openblas_kernel()} (limited to 1 thread here)")
    print("| C -> F, HxW | im2col ms | Winograd ms | im2col / Winograd |")
    print("|---|---:|---:|---:|")
    with threadpool_limits(1):
        for c, f, h in SHAPES:
            n = args.batch
            chwn = (1, 2, 3, 0)
            x = rng.standard_normal((c, h, h, n), dtype=np.float32).transpose(3, 0, 1, 2)
            dout = rng.standard_normal((f, h, h, n), dtype=np.float32).transpose(3, 0, 1, 2)
            assert x.transpose(chwn).flags.c_contiguous
            w = rng.standard_normal((f, c, 3, 3), dtype=np.float32)
            b = np.zeros(f, np.float32)
            pi, pw = BufferPool(), BufferPool()
            _, ci = conv_forward(x, w, b, 1, 1, pi)
            _, cw = winograd_forward(x, w, b, 1, pw)
            im2col = cpu_ms(lambda: (conv_forward(x, w, b, 1, 1, pi), conv_backward(dout, ci, True, pi)), args.repeats)
            wino = cpu_ms(lambda: (winograd_forward(x, w, b, 1, pw), winograd_backward(dout, cw, True, pw)),
                          args.repeats)
            print(f"| {c} -> {f}, {h}x{h} | {im2col:.1f} | {wino:.1f} | {im2col / wino:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
