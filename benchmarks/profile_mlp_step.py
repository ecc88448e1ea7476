"""Where an MLP training step goes (3072-50-10 and [100, 100], batch 200, float32), per part, wall time.

Each part (the whole step as bench_step times it, ``loss()`` alone, the update, the input check, the layers'
forward and backward, the softmax loss) and the step's GEMMs alone at NumPy's rate on the same shapes, each the
median of 400 calls, with 1 and 2 BLAS threads. Issue 14 asked for this profile on the Intel machine first.

Then each part *inside* the step (``in_sequence``): every layer's forward and backward, the first layer's
finiteness check, the softmax and babysit's SGD (``make_optimizer('sgd').step``) timed one after another in
500 steps (medians per part), on 2 threads. A part run alone finds its arrays and code in the cache; inside
the step it comes after a GEMM that streamed X (2.4 MiB) through the caches, and its cost is what the step
pays. The update rule's kernels are ``$BABYSIT_KERNELS``' (babysit.nn.kernels).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE [BABYSIT_KERNELS=numba] python benchmarks/profile_mlp_step.py
"""
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from babysit.nn import FullyConnectedNet
from babysit.nn.kernels import active_kernels
from babysit.nn.losses import check_labels, softmax_loss
from babysit.nn.models import _all_finite
from babysit.train.optim import make_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms_per_call as med  # noqa: E402


def profile(widths, threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3072), dtype=np.float32); y = rng.integers(0, 10, 200)
    m = FullyConnectedNet(list(widths), seed=0)
    def step():
        loss, g = m.loss(X, y)
        for k, p in m.params.items(): p -= 1e-3 * g[k]
    with threadpool_limits(threads):
        for _ in range(50): step()
        out = {"step": med(step)}
        out["loss() only"] = med(lambda: m.loss(X, y))
        _, g = m.loss(X, y)
        out["update"] = med(lambda: [p.__isub__(1e-3 * g[k]) for k, p in m.params.items()])
        out["prepare_input"] = med(lambda: m.prepare_input(X))
        m.layers.train()
        out["forward (layers)"] = med(lambda: m._forward(X))
        s = m._forward(X)
        out["softmax_loss"] = med(lambda: softmax_loss(s, y, labels_checked=True))
        _, ds = softmax_loss(s, y, labels_checked=True)
        out["backward (layers)"] = med(lambda: m.layers.backward(ds))
        # GEMM-only bound of the step (forward, dW, dX except at the first layer)
        dims = [3072, *widths, 10]
        Ws = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(dims, dims[1:])]
        hs = [X] + [rng.standard_normal((200, b), dtype=np.float32) for b in dims[1:]]
        def gemms():
            for i, W in enumerate(Ws):
                hs[i] @ W
                hs[i].T @ hs[i + 1]
                if i: hs[i + 1] @ W.T
        out["GEMMs alone"] = med(gemms)
    return out


def in_sequence(widths, threads=2, steps=500):
    """Median seconds of each part of the step, timed in place inside whole steps."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3072), dtype=np.float32); y = rng.integers(0, 10, 200)
    m, opt = FullyConnectedNet(list(widths), seed=0), make_optimizer("sgd")
    layers = m.layers.layers
    parts = {}

    def mark(name, t0):
        t1 = time.perf_counter(); parts.setdefault(name, []).append(t1 - t0); return t1

    def step():
        t0 = time.perf_counter()
        x = m.prepare_input(X, finite_check=False)
        labels = check_labels(y, len(x), m.num_classes, "profile"); m.layers.train()
        t0 = mark("input and labels", t0)
        with np.errstate(invalid="ignore", over="ignore"):
            x = layers[0].forward(x)
        t0 = mark(f"forward 0 {type(layers[0]).__name__}", t0)
        _all_finite(x); t0 = mark("finiteness of its output", t0)
        for i, layer in enumerate(layers[1:], 1):
            x = layer.forward(x); t0 = mark(f"forward {i} {type(layer).__name__}", t0)
        _, d = softmax_loss(x, labels, labels_checked=True); t0 = mark("softmax loss", t0)
        for i in range(len(layers) - 1, -1, -1):
            d = layers[i].backward(d); t0 = mark(f"backward {i} {type(layers[i]).__name__}", t0)
        opt.step(m.params, {k: m.grads[k] for k in m.params}, 1e-3); mark("update (sgd)", t0)
    with threadpool_limits(threads):
        for _ in range(100): step()
        parts.clear()
        for _ in range(steps): step()
    return {k: float(np.median(v)) * 1e3 for k, v in parts.items()}


for widths in ([50], [100, 100]):
    for threads in (1, 2):
        o = profile(widths, threads)
        print(f"{widths} threads={threads}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in o.items())
              + f"; GEMM fraction {o['GEMMs alone'] / o['step']:.0%}")

for widths in ([50], [100, 100]):
    o = in_sequence(widths)
    print(f"{widths} threads=2, each part inside the step, update kernels {active_kernels()}: sum "
          f"{sum(o.values()):.3f} ms: " + ", ".join(f"{k} {v:.3f}" for k, v in o.items()))
