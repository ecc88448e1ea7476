"""Does the update's writing of the weights cost the next step's GEMMs? (3072-50-10, batch 200, 2 BLAS threads)

a: loss() then the update of the weights; b: the same update work on arrays the GEMMs never read; c: an
update that writes the weights' own values (lr 0: cache lines dirtied, nothing changed); d: loss() alone.
If a and c cost more than b, the time is the other core fetching the weights the update wrote (cache
traffic between the cores), not the update's arithmetic. Medians of 600 calls, each variant twice.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_update_cache.py
"""
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from babysit.nn import FullyConnectedNet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms_per_call  # noqa: E402

rng = np.random.default_rng(0)
X = rng.standard_normal((200, 3072), dtype=np.float32)
y = rng.integers(0, 10, 200)
m = FullyConnectedNet([50], seed=0)
other = {k: np.ones_like(p) for k, p in m.params.items()}


def a():
    _, g = m.loss(X, y)
    for k, p in m.params.items():
        p -= 1e-3 * g[k]


def b():
    _, g = m.loss(X, y)
    for k, p in other.items():  # the same work, on arrays the GEMMs never read
        p -= 1e-3 * g[k]


def c():
    _, g = m.loss(X, y)
    for _k, p in m.params.items():  # writes W (its own values): dirties its cache lines
        p -= 0.0 * g[_k]


def d():
    m.loss(X, y)


with threadpool_limits(2):
    for f in (a, b, c, d, a, b, c, d):
        for _ in range(50):
            f()
        print(f.__name__, f"{median_ms_per_call(f, 600):.3f} ms")
