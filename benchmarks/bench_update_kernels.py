"""The MLP training step with the update rule in NumPy's passes and in numba's kernels (``babysit.nn.kernels``).

One step = ``model.loss`` + ``optimizer.step`` (as ``bench_step`` times it: babysit's own rule, no Solver), float32,
batch 200, CIFAR-shaped random rows, all cores, for 3072-50-10 and [100, 100] with 'sgd' and 'momentum'. The two
kernel sets run on copies of one model, in interleaved blocks (``_common.interleaved_timings``: rotating order, a
pause before each block, rounds disturbed by other processes dropped), so the VM's drift hits both alike; the
figure is the median seconds per step. A check first: 20 steps with each kernel set give the same bits.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_update_kernels.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_timings, machine_info, median, openblas_kernel, time_call  # noqa: E402

from babysit.nn import FullyConnectedNet  # noqa: E402
from babysit.nn.kernels import ENV, use_kernels  # noqa: E402
from babysit.train.optim import make_optimizer  # noqa: E402

MODELS = {"3072-50-10": [50], "[100, 100]": [100, 100]}
RULES = ("sgd", "momentum")
LR = 1e-3


def make_step(widths, rule: str, kernels: str, X, y):
    """A closure of one training step with ``kernels`` chosen for its update, and the model's params."""
    model, optimizer = FullyConnectedNet(widths, seed=0), make_optimizer(rule)

    def step():
        os.environ[ENV] = kernels
        loss, grads = model.loss(X, y)
        optimizer.step(model.params, grads, LR)
        return loss
    return step, model.params


def same_bits(widths, rule: str, X, y, steps: int = 20) -> bool:
    params = {}
    for kernels in ("numpy", "numba"):
        step, params[kernels] = make_step(widths, rule, kernels, X, y)
        for _ in range(steps):
            step()
    return all(np.array_equal(params["numpy"][k].view(np.uint8), params["numba"][k].view(np.uint8))
               for k in params["numpy"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (medians over them)")
    parser.add_argument("--block-seconds", type=float, default=0.3, help="length of one timed block")
    args = parser.parse_args(argv)
    use_kernels("numba")  # ConfigError (with the pip command) where numba is missing; compiles or loads the cache
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3072), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    steps, checks = {}, {}
    for title, widths in MODELS.items():
        for rule in RULES:
            checks[title, rule] = same_bits(widths, rule, X, y)
            for kernels in ("numpy", "numba"):
                steps[title, rule, kernels] = make_step(widths, rule, kernels, X, y)[0]
    one = {k: time_call(fn, repeat=3, min_seconds=0.05) for k, fn in steps.items()}
    per_round = {k: max(1, round(args.block_seconds / t)) for k, t in one.items()}
    times, n_quiet = interleaved_timings(steps, rounds=args.rounds, steps_per_round=per_round)
    print("| model | rule | NumPy ms/step | numba ms/step | NumPy / numba | same bits (20 steps) |")
    print("|---|---|---:|---:|---:|---|")
    for title in MODELS:
        for rule in RULES:
            a, b = median(times[title, rule, "numpy"]), median(times[title, rule, "numba"])
            print(f"| {title} | {rule} | {a * 1e3:.3f} | {b * 1e3:.3f} | **{a / b:.2f}x** | {checks[title, rule]} |")
    info = machine_info()
    print(f"\n{len(times[next(iter(steps))])} rounds ({n_quiet} quiet); machine: {info['cpu']}, {info['cores']} cores; "
          f"numpy {info['numpy']}, {openblas_kernel()}; python {info['python']}; {info['date']}; "
          f"load average at start {', '.join(f'{v:.2f}' for v in info['load_average'])}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
