"""Where a babysit training step's time goes: each part of ``bench_step``'s step timed alone.

The step of ``bench_step.py`` (forward + softmax loss + backward + in-place SGD) cut into its
parts: the input check and cast (``Model.prepare_input``), every layer's forward and backward,
the softmax loss, the L2 term, and the update; each part is timed by repeating it on the state a
real step leaves (the same buffers, the same caches), medians of blocks; and each part *inside* the
step (``in_step``: the step run part by part with a clock read between parts), where a part starts
with the caches the part before left (after the big GEMMs, small passes start cold and cost several
times what they cost alone). The step's GEMMs alone (``gemm_shapes``) give the GEMM fraction as
bench_step reports it.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_step_parts.py --cases mlp100x2
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, numpy_gemms, openblas_kernel, time_call  # noqa: E402
from bench_step import BATCH, CASES, babysit_model, babysit_step, gemm_shapes, make_data  # noqa: E402

from babysit.nn.losses import softmax_loss  # noqa: E402


def parts(model, X, y, lr: float = 1e-3) -> dict[str, object]:
    """name -> a closure repeating one part of the step on the state a real step leaves."""
    step = babysit_step(model, X, y, lr)
    step()
    layers = model.layers.layers
    Xp = model.prepare_input(X)
    inputs, x = [], Xp
    for layer in layers:  # the activations a step computes, kept for the per-layer forwards
        inputs.append(x)
        x = layer.forward(x)
    scores = x
    out = {"whole step": step,
           "prepare_input": lambda: model.prepare_input(X, finite_check=not model._check_first_output)}
    for i, layer in enumerate(layers):
        out[f"fwd {i} {layer!r}"] = (lambda layer=layer, x=inputs[i]: layer.forward(x))
    _, dscores = softmax_loss(scores, y)
    out["softmax_loss"] = lambda: softmax_loss(scores, y, labels_checked=True)
    x = Xp  # restore every cache as one forward leaves it
    for layer in layers:
        x = layer.forward(x)
    douts, d = [], dscores
    for layer in reversed(layers[model.layers.backward_stop:]):
        douts.append((layer, d))
        d = layer.backward(d)
        if d is None:
            break
    for layer, d in douts:
        out[f"bwd {layers.index(layer)} {layer!r}"] = (lambda layer=layer, d=d: layer.backward(d))
    grads = {name: model.grads[name] for name in model.params}

    def update():
        for name, p in model.params.items():
            p -= lr * grads[name]
    out["update (bench_step's)"] = update
    return out


def in_step(model, X, y, clock, steps: int, lr: float = 1e-3) -> dict[str, float]:
    """Seconds per step of each part of the step (as ``Model.loss`` + bench_step's update run it), timed inside it."""
    from babysit.nn.base import check_finite
    from babysit.nn.models import _all_finite

    layers = model.layers.layers
    grads = {name: model.grads[name] for name in model.params}
    acc: dict[str, float] = {}

    def one(record: bool):
        marks = [("start", clock())]
        x = model.prepare_input(X, finite_check=not model._check_first_output)
        marks.append(("prepare_input", clock()))
        model.layers.train()
        for i, layer in enumerate(layers):
            x = layer.forward(x)
            if i == 0 and model._check_first_output and not _all_finite(x):
                check_finite(X, "model", "input X")
            marks.append((f"fwd {i} {layer!r}", clock()))
        _, d = softmax_loss(x, y, labels_checked=True)
        marks.append(("softmax_loss", clock()))
        for i in range(len(layers) - 1, model.layers.backward_stop - 1, -1):
            d = layers[i].backward(d)
            marks.append((f"bwd {i} {layers[i]!r}", clock()))
            if d is None:
                break
        for name, p in model.params.items():
            p -= lr * grads[name]
        marks.append(("update (bench_step's)", clock()))
        if record:
            for (_, t0), (name, t1) in zip(marks, marks[1:]):
                acc[name] = acc.get(name, 0.0) + t1 - t0

    for _ in range(3):
        one(False)
    for _ in range(steps):
        one(True)
    return {name: t / steps for name, t in acc.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="mlp50,mlp100x2")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one BLAS thread, timed by this process's CPU time (for a shared machine)")
    args = parser.parse_args(argv)
    clock = time.perf_counter
    if args.cpu_time:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        clock = time.process_time
    info = machine_info()
    for name in args.cases.split(","):
        case = CASES[name]
        X, y = make_data(case)
        model = babysit_model(case)
        ps = parts(model, X, y)
        ps["GEMMs alone"] = numpy_gemms(gemm_shapes(case))
        t = {k: time_call(fn, min_seconds=0.15, clock=clock) for k, fn in ps.items()}
        whole = t.pop("whole step")
        gem = t.pop("GEMMs alone")
        inside = in_step(model, X, y, clock, steps=200 if case.kind == "mlp" else 10)
        print(f"\n{case.title}: step {whole * 1e6:,.0f} us ({BATCH / whole:,.0f} samples/s); GEMMs alone "
              f"{gem * 1e6:,.0f} us (fraction {gem / whole:.0%}); parts timed inside the step add up to "
              f"{sum(inside.values()) * 1e6:,.0f} us")
        print(f"  {'alone':>11}  {'share':>5}  {'in step':>11}  {'share':>5}  part")
        for k, v in t.items():
            w = inside.get(k, math.nan)
            print(f"  {v * 1e6:8.1f} us  {v / whole:5.1%}  {w * 1e6:8.1f} us  {w / whole:5.1%}  {k}")
        rest = whole - sum(t.values())
        print(f"  {rest * 1e6:8.1f} us  {rest / whole:5.1%}  {'':>11}  {'':>5}  the rest (glue, cache effects)")
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores; {openblas_kernel()}; {info['date']}; "
          f"load average {', '.join(f'{v:.2f}' for v in info['load_average'])}; "
          f"{'process CPU time, 1 thread' if args.cpu_time else 'wall time'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
