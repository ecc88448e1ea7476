"""Where an MLP training step goes (3072-50-10 and [100, 100], batch 200, float32), per part, wall time.

Each part (the whole step as bench_step times it, ``loss()`` alone, the update, the input check, the layers'
forward and backward, the softmax loss) and the step's GEMMs alone at NumPy's rate on the same shapes, each the
median of 400 calls, with 1 and 2 BLAS threads. Issue 14 asked for this profile on the Intel machine first.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_mlp_step.py
"""
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from babysit.nn import FullyConnectedNet
from babysit.nn.losses import softmax_loss

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

for widths in ([50], [100, 100]):
    for threads in (1, 2):
        o = profile(widths, threads)
        print(f"{widths} threads={threads}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in o.items())
              + f"; GEMM fraction {o['GEMMs alone'] / o['step']:.0%}")
