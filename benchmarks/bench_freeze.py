"""What freezing saves: seconds per training step (forward + backward) of a ConvNet with frozen blocks,
with the freeze's gradient skipping (backward stopped at the lowest trainable layer, frozen layers above
it computing only the dx the layers below need, a BatchNorm stop layer no dx) versus a full backward
(the same frozen parameters, every gradient computed and the frozen ones thrown away: what a loop
without the skipping would do).

    python benchmarks/bench_freeze.py [--batch 100] [--reps 5]

Model: conv:16,32/64 with batchnorm on 3x32x32 inputs (the shipped cifar10 model's architecture).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from babysit.nn import ConvNet

CASES = [("nothing frozen", None, False), ("top:2 (blocks 1-2 frozen)", [1, 2], False),
         ("head (blocks 1-3 frozen)", [1, 2, 3], False),
         ("head, train_bn (a BatchNorm is the stop layer)", [1, 2, 3], True),
         ("blocks 2-3 frozen above a trainable block 1", [2, 3], False)]


def step_seconds(model, X, y, reps: int, full_backward: bool) -> float:
    if full_backward:
        model.layers.backward_stop = 0
        for i, layer in enumerate(model.layers):
            layer.input_grad = i > 0
            layer.param_grad = True
    model.loss(X, y)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        model.loss(X, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    print("| frozen | step, gradients skipped (s) | step, full backward (s) | speedup |")
    print("|---|---:|---:|---:|")
    for label, blocks, train_bn in CASES:
        def fresh():
            model = ConvNet(conv_channels=[16, 32], hidden_dims=[64], normalization="batchnorm", seed=0)
            return model.freeze(blocks, train_bn=train_bn) if blocks else model

        stopped = step_seconds(fresh(), X, y, args.reps, full_backward=False)
        full = step_seconds(fresh(), X, y, args.reps, full_backward=True)
        print(f"| {label} | {stopped:.3f} | {full:.3f} | {full / stopped:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
