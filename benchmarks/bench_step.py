"""Training-step throughput of the babysit engine against PyTorch CPU, in the same process.

One step = forward + softmax loss + backward + babysit's SGD update in place (``p -= lr * g``),
float32, batch 200, CIFAR-shaped random data (200, 3, 32, 32). Models:

- ``mlp50``:     the lecture's 2-layer net 3072-50-10, ``FullyConnectedNet([50])``
- ``mlp100x2``:  ``FullyConnectedNet([100, 100])``
- ``convnet``:   ``ConvNet(conv_channels=[32, 64])``: conv3x3 32 - relu - pool - conv3x3 64 - relu - pool - affine 10

PyTorch runs the same architecture with the same initial weights (the first losses are
compared as a check), ``torch.set_num_threads(cores)``, ``F.cross_entropy`` and
``torch.optim.SGD(foreach=True)``; for the ConvNet both NCHW and channels_last are timed
and the faster is the reference. Timings are medians over rounds that interleave the
libraries (see ``_common.interleaved_timings``: rotating order, a pause before each block so
the other library's spinning threads go idle, rounds disturbed by other processes dropped).

Peak memory, each in a fresh subprocess: the rise of peak RSS (VmHWM, reset first) over the
first 5 steps after building the model and data, for both libraries; for babysit also
tracemalloc's peak over the first 3 steps (every NumPy array the steps allocate: the reused
work buffers plus the temporaries; PyTorch's allocations are invisible to it).

GEMM fraction: the step's matrix products (``gemm_shapes``: forward, weight gradient and
input gradient except at the first layer; a conv counted as its im2col GEMM) timed alone
with NumPy in the same rounds, divided by the step time: the share of the step a
GEMM-only implementation at NumPy's rate on these shapes would need.

Run (the OpenBLAS variables pin old kernels; users don't set them):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_step.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    interleaved_timings,
    machine_info,
    median,
    numpy_gemms,
    openblas_kernel,
    rss_peak_delta,
    time_call,
    torch_gemms,
    foreign_load,
    tracemalloc_peak,
    wait_until_quiet,
)

BATCH = 200
LR = 1e-3
IMAGE = (3, 32, 32)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Case:
    title: str
    kind: str            # 'mlp' or 'conv'
    widths: tuple        # hidden dims (mlp) or conv channels (conv)


CASES = {
    "mlp50": Case("2-layer net 3072-50-10 (FullyConnectedNet([50]))", "mlp", (50,)),
    "mlp100x2": Case("FullyConnectedNet([100, 100])", "mlp", (100, 100)),
    "convnet": Case("ConvNet(conv_channels=[32, 64])", "conv", (32, 64)),
}


# -- data --------------------------------------------------------------------
def make_data(case: Case, seed: int = 0):
    """Random float32 CIFAR-shaped images (flattened to (200, 3072) for the MLPs) and int labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH,) + IMAGE, dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, BATCH)
    return (X.reshape(BATCH, -1) if case.kind == "mlp" else X), y


# -- babysit -----------------------------------------------------------------
def babysit_model(case: Case, conv_algorithm: str = "auto"):
    from babysit.nn import ConvNet, FullyConnectedNet

    if case.kind == "mlp":
        return FullyConnectedNet(list(case.widths), seed=0)
    return ConvNet(input_dim=IMAGE, conv_channels=list(case.widths), num_classes=NUM_CLASSES, seed=0,
                   conv_algorithm=conv_algorithm)


def babysit_step(model, X, y, lr: float = LR):
    """A closure running one training step of a babysit model, as its Solver does it without the callbacks:
    ``loss``, then babysit's own SGD (``make_optimizer('sgd').step``, the rule the Solver calls; PyTorch's side
    is torch.optim.SGD). The Solver's finiteness test of the gradients (~30 us for 3072-50-10) is left out,
    as PyTorch's loop has none. It returns the loss."""
    from babysit.train.optim import make_optimizer

    optimizer = make_optimizer("sgd")

    def step():
        loss, grads = model.loss(X, y)
        optimizer.step(model.params, grads, lr)
        return loss
    return step


# -- PyTorch -----------------------------------------------------------------
def torch_model(case: Case, babysit=None, channels_last: bool = False):
    """The same architecture in PyTorch, with the babysit model's initial weights when given."""
    import torch
    from torch import nn

    if case.kind == "mlp":
        dims = [math.prod(IMAGE), *case.widths]
        layers: list = [nn.Flatten()]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], NUM_CLASSES))
    else:
        c, h, w = IMAGE
        layers = []
        for f in case.widths:
            layers += [nn.Conv2d(c, f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = f, h // 2, w // 2
        layers += [nn.Flatten(), nn.Linear(c * h * w, NUM_CLASSES)]
    model = nn.Sequential(*layers)
    if babysit is not None:
        weighted = [m for m in model if isinstance(m, (nn.Linear, nn.Conv2d))]
        names = [n for n in babysit.params if n.startswith("W")]
        with torch.no_grad():
            for m, name in zip(weighted, names):
                W = babysit.params[name]
                m.weight.copy_(torch.from_numpy(W.T.copy() if isinstance(m, nn.Linear) else W))
                m.bias.copy_(torch.from_numpy(babysit.params["b" + name[1:]]))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def torch_step(model, X, y, lr: float = LR, channels_last: bool = False):
    """A closure running one PyTorch training step (zero_grad, forward, cross-entropy, backward, SGD)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(X)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    t = torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr, foreach=True)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss
    return step


def torch_variants(case: Case) -> list[str]:
    return ["torch", "torch channels_last"] if case.kind == "conv" else ["torch"]


def babysit_variants(case: Case) -> list[str]:
    """'babysit' (the defaults: Conv2d's 'auto', the batch in ``Model.batch_parts`` parts, the NumPy kernels) and
    'babysit numba' (the numba kernels: the fused conv -> ReLU -> pool's passes and the update rule; where numba
    is installed); for the ConvNet also every 3x3 conv forced onto Winograd, and the whole batch through one copy
    of the layers (``batch_parts = 1``)."""
    numba = ["babysit numba"] if importlib.util.find_spec("numba") else []
    if case.kind != "conv":
        return ["babysit", *numba]
    return ["babysit", *numba, "babysit winograd", "babysit whole batch"]


def with_kernels(name: str, step):
    """``step`` run with the kernels ``name`` (babysit.nn.kernels: read at each call)."""
    from babysit.nn.kernels import ENV, prepare_kernels, use_kernels
    from babysit.train.optim import prepare_update_kernels

    use_kernels(name)  # imported, and compiled (or loaded from numba's cache) by tiny steps: before any
    prepare_kernels()  # timing or memory measurement (numba's own memory is a one-time cost)
    prepare_update_kernels()
    os.environ[ENV] = "numpy"

    def run():
        os.environ[ENV] = name
        try:
            return step()
        finally:
            os.environ[ENV] = "numpy"
    return run


def make_step(variant: str, case: Case, X, y):
    """The step closure for a babysit variant, 'torch' or 'torch channels_last' (fresh model, same init)."""
    model = babysit_model(case)
    if variant == "babysit":
        return babysit_step(model, X, y)
    if variant == "babysit winograd":
        return babysit_step(babysit_model(case, "winograd"), X, y)
    if variant == "babysit numba":
        return with_kernels("numba", babysit_step(model, X, y))
    if variant == "babysit whole batch":
        model.batch_parts = 1
        return babysit_step(model, X, y)
    cl = variant.endswith("channels_last")
    return torch_step(torch_model(case, model, channels_last=cl), X, y, channels_last=cl)


# -- FLOPs -------------------------------------------------------------------
def gemm_shapes(case: Case) -> list[tuple[int, int, int, bool]]:
    """The step's matrix products as (m, k, n, trans_a), in the layout the engine computes them.

    Forward ``x @ W``; weight gradient ``x.T @ dout``; input gradient ``dout @ W.T``, except at
    the first layer (nobody needs the data's gradient). A conv is the same with im2col rows
    (N*H*W) for N and C*3*3 for the input width.
    """
    shapes = []
    if case.kind == "mlp":
        dims = [math.prod(IMAGE), *case.widths, NUM_CLASSES]
        layers = [(BATCH, d_in, d_out) for d_in, d_out in zip(dims[:-1], dims[1:])]
    else:
        c, h, w = IMAGE
        layers = []
        for f in case.widths:
            layers.append((BATCH * h * w, c * 9, f))
            c, h, w = f, h // 2, w // 2
        layers.append((BATCH, c * h * w, NUM_CLASSES))
    for i, (rows, d_in, d_out) in enumerate(layers):
        shapes.append((rows, d_in, d_out, False))          # forward
        shapes.append((d_in, rows, d_out, True))           # dW = x.T @ dout
        if i > 0:
            shapes.append((rows, d_out, d_in, False))      # dx = dout @ W.T
    return shapes


def flops(shapes) -> float:
    return float(sum(2 * m * k * n for m, k, n, _ in shapes))


# -- memory (each measurement in a fresh process) --------------------------------
def memory_child(case_name: str, variant: str, method: str) -> dict:
    """Run in a subprocess: build one model and data, then measure the memory its steps need."""
    case = CASES[case_name]
    X, y = make_data(case)
    if variant != "babysit":
        import torch

        torch.set_num_threads(os.cpu_count())
    step = make_step(variant, case, X, y)
    if method == "rss":
        return {"rss_peak_delta": rss_peak_delta(step, calls=5)}
    peak, held = tracemalloc_peak(step, calls=3)
    steady_peak, _ = tracemalloc_peak(step, calls=1)
    return {"tracemalloc_peak": peak, "tracemalloc_held": held, "tracemalloc_steady_peak": steady_peak}


def measure_memory(case_name: str, variant: str, method: str) -> dict:
    cmd = [sys.executable, __file__, "--memory-child", case_name, variant, method]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- the benchmark -------------------------------------------------------------
def check_equivalent(case: Case, X, y) -> float:
    """Relative difference of the first loss of babysit and PyTorch from the same weights."""
    import torch
    import torch.nn.functional as F

    model = babysit_model(case)
    with torch.no_grad():
        ref = float(F.cross_entropy(torch_model(case, model)(torch.from_numpy(X)), torch.from_numpy(y)))
    loss, grads = model.loss(X, y)
    bad = [k for k, g in grads.items() if g.dtype != np.float32]
    if bad:
        raise SystemExit(f"{case.title}: gradients {bad} are not float32")
    return abs(loss - ref) / abs(ref)


def run_case(name: str, case: Case, rounds: int, block_seconds: float, memory: bool, cpu_time: bool = False) -> dict:
    import torch

    X, y = make_data(case)
    diff = check_equivalent(case, X, y)
    variants = [*babysit_variants(case), *torch_variants(case)]
    steps = {v: make_step(v, case, X, y) for v in variants}
    shapes = gemm_shapes(case)
    fl = flops(shapes)
    # the GEMMs alone, timed in the same rounds as the steps: the machine's rate on these shapes
    steps["numpy GEMMs"] = numpy_gemms(shapes)
    steps["torch GEMMs"] = torch_gemms(shapes)
    one = {v: time_call(fn, repeat=3, min_seconds=0.02) for v, fn in steps.items()}  # warm-up + calibration
    per_round = {v: max(1, round(block_seconds / t)) for v, t in one.items()}
    clock = time.process_time if cpu_time else time.perf_counter
    times, n_quiet = interleaved_timings(steps, rounds=rounds, steps_per_round=per_round, clock=clock,
                                         max_foreign=math.inf if cpu_time else 0.15)
    sec = {v: median(t) for v, t in times.items()}
    best_torch = min(torch_variants(case), key=lambda v: sec[v])
    np_gemm = sec.pop("numpy GEMMs")
    torch_gemm = sec.pop("torch GEMMs")
    result = {
        "case": name, "title": case.title, "loss_rel_diff": diff, "steps_per_round": per_round,
        "rounds": len(times["babysit"]), "quiet_rounds": n_quiet,
        "seconds": sec, "samples_per_s": {v: BATCH / s for v, s in sec.items()},
        "round_seconds": times,
        "spread": {v: (min(times[v]) / sec[v], max(times[v]) / sec[v]) for v in variants},
        "best_torch": best_torch, "ratio": sec[best_torch] / sec["babysit"],
        "ratios": {v: sec[v] / sec["babysit"] for v in variants[1:]},
        "step_gflop": fl / 1e9, "numpy_gemm_gflops": fl / np_gemm / 1e9, "torch_gemm_gflops": fl / torch_gemm / 1e9,
        "gemm_fraction": {v: np_gemm / s for v, s in sec.items()},
        "torch_threads": torch.get_num_threads(),
    }
    if memory:
        result["memory"] = {v: measure_memory(name, v, "rss") for v in variants}
        for v in babysit_variants(case):
            result["memory"][v].update(measure_memory(name, v, "tracemalloc"))
    return result


def mib(nbytes) -> str:
    return f"{nbytes / 2**20:.1f}"


def print_report(info: dict, results: list[dict]) -> None:
    print()
    print("| model | babysit samples/s | PyTorch samples/s | babysit / PyTorch | babysit peak MiB "
          "(tracemalloc; RSS) | PyTorch peak MiB (RSS) | GEMM GFLOP/step | NumPy GEMM GFLOP/s | "
          "GEMM fraction babysit | GEMM fraction PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        sps, bt = r["samples_per_s"], r["best_torch"]
        mem = r.get("memory")
        tmem = mib(mem[bt]["rss_peak_delta"]) if mem else "-"
        tname = "" if bt == "torch" else f" ({bt.removeprefix('torch ')})"
        for v in ("babysit", "babysit numba"):  # the default engine, and with the numba kernels where timed
            if v not in sps:
                continue
            bmem = f"{mib(mem[v]['tracemalloc_peak'])}; {mib(mem[v]['rss_peak_delta'])}" if mem else "-"
            title = r["title"] + ("" if v == "babysit" else ", numba kernels")
            print(f"| {title} | {sps[v]:,.0f} | {sps[bt]:,.0f}{tname} | **{sps[v] / sps[bt]:.2f}x** | {bmem} "
                  f"| {tmem} | {r['step_gflop']:.3f} | {r['numpy_gemm_gflops']:.0f} | "
                  f"{r['gemm_fraction'][v]:.0%} | {r['gemm_fraction'][bt]:.0%} |")
    print()
    for r in results:
        sps, bt = r["samples_per_s"], r["best_torch"]
        # a babysit variant against the faster PyTorch layout; a PyTorch variant as the default babysit's ratio to it
        others = ", ".join(f"{v}: {sps[v]:,.0f}/s ({sps[v] / sps[bt]:.2f}x {bt})" if v.startswith("babysit") else
                           f"{v}: {sps[v]:,.0f}/s (babysit {x:.2f}x)" for v, x in r["ratios"].items())
        spread = ", ".join(f"{v} {lo:.2f}-{hi:.2f}" for v, (lo, hi) in r["spread"].items())
        print(f"{r['case']}: {others}; PyTorch GEMM on these shapes {r['torch_gemm_gflops']:.0f} GFLOP/s; "
              f"first-loss rel. diff {r['loss_rel_diff']:.1e}; {r['rounds']} rounds ({r['quiet_rounds']} quiet) "
              f"x {r['steps_per_round']['babysit']} steps; "
              f"round/median spread {spread}")
    print()
    print(f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, {openblas_kernel()}; "
          f"torch {info.get('torch')} ({info.get('torch_threads')} threads); python {info['python']}; {info['date']}; "
          f"load average at start {', '.join(f'{v:.2f}' for v in info['load_average'])}; {info.get('clock')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per case (medians over them)")
    parser.add_argument("--block-seconds", type=float, default=0.15, help="length of one timed block")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each case, wait up to this long for other processes to leave the CPUs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread for both libraries, and time each step by this process's CPU time "
                             "(for a shared machine, where a 2-thread BLAS mostly measures the neighbours)")
    parser.add_argument("--memory-child", nargs=3, metavar=("CASE", "VARIANT", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(*args.memory_child)))
        return 0

    import torch

    if args.cpu_time:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    torch.set_num_threads(1 if args.cpu_time else os.cpu_count())
    info = machine_info()
    info["clock"] = "process CPU time, 1 thread each" if args.cpu_time else "wall time"
    print(f"BLAS kernel (threadpoolctl): {openblas_kernel()}")
    for d in info["blas"]:
        print(f"  {d}")
    if info["env"]:
        print(f"environment: {info['env']}")
    busy = foreign_load(1.0)
    if busy > 0.15:
        print(f"warning: other processes use {busy:.2f} cores: the machine is not quiet; figures will drift "
              "(rounds they disturb are dropped; --wait-quiet waits for a quiet moment)")
    results = []
    for name in args.cases.split(","):
        if args.wait_quiet:
            load = wait_until_quiet(args.wait_quiet)
            print(f"{name}: other processes use {load:.2f} cores", flush=True)
        r = run_case(name, CASES[name], args.rounds, args.block_seconds, not args.no_memory, args.cpu_time)
        print(f"{name}: babysit {r['samples_per_s']['babysit']:,.0f}/s, {r['best_torch']} "
              f"{r['samples_per_s'][r['best_torch']]:,.0f}/s, ratio {r['ratio']:.2f}x", flush=True)
        results.append(r)
    print_report(info, results)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
