"""What freezing saves: seconds per training step (forward + backward) of a ConvNet with frozen blocks,
with the freeze's gradient skipping (backward stopped at the lowest trainable layer, frozen layers above
it computing only the dx the layers below need, a BatchNorm stop layer no dx) versus a full backward
(the same frozen parameters, every gradient computed and the frozen ones thrown away: what a loop
without the skipping would do).

    python benchmarks/bench_freeze.py [--batch 100] [--reps 15]

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


def full_backward(model):
    """The same model, backward all the way down with every gradient computed (what the skipping saves)."""
    model.layers.backward_stop = 0
    for i, layer in enumerate(model.layers):
        layer.input_grad = i > 0
        layer.param_grad = True
    return model


def step_seconds(skipping, full, X, y, reps: int) -> tuple[list[float], list[float]]:
    """Seconds per step of each model, measured alternately (a burst of load hits both alike)."""
    skipping.loss(X, y), full.loss(X, y)
    times = ([], [])
    for _ in range(reps):
        for model, out in zip((skipping, full), times):
            start = time.perf_counter()
            model.loss(X, y)
            out.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    print("| frozen | step, gradients skipped (s): median / min | step, full backward (s): median / min | "
          "speedup (medians) |")
    print("|---|---:|---:|---:|")
    for label, blocks, train_bn in CASES:
        def fresh():
            model = ConvNet(conv_channels=[16, 32], hidden_dims=[64], normalization="batchnorm", seed=0)
            return model.freeze(blocks, train_bn=train_bn) if blocks else model

        skipped, full = step_seconds(fresh(), full_backward(fresh()), X, y, args.reps)
        a, b = statistics.median(skipped), statistics.median(full)
        print(f"| {label} | {a:.3f} / {min(skipped):.3f} | {b:.3f} / {min(full):.3f} | {b / a:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
