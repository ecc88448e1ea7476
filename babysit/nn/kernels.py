"""Which kernels run the memory-bound passes of the fused conv -> ReLU -> pool and of the update rules: NumPy
(the default) or numba.

    BABYSIT_KERNELS=numba babysit run --model conv:32,64     # or, in Python:
    from babysit.nn.kernels import use_kernels; use_kernels("numba")

Why an option: NumPy needs no compiler and stays the default; numba (``pip install 'babysit[numba]'``)
runs the band's pooling, its backward routing and col2im (``babysit.nn.numba_kernels``) and each update rule
(``babysit.train.numba_updates``) in one pass each, without the GIL, for the same bits (measured in
docs/benchmarks.md). The choice lives in the environment variable ``BABYSIT_KERNELS`` so that the search's
worker processes, which inherit it, run the same kernels.
"""

from __future__ import annotations

import os

from babysit.errors import ConfigError
from babysit.validation import check_choice

KERNELS = ("numpy", "numba")
ENV = "BABYSIT_KERNELS"
_loaded = {}  # name -> the module of kernels (None for NumPy's), imported once
_prepared = set()  # the kernel sets compiled in this process (prepare_kernels)


def use_kernels(name: str) -> None:
    """Run the fused conv -> ReLU -> pool and the update rules with ``name``'s kernels from now on, in this
    process and in the worker processes it starts; ConfigError for an unknown name, or for numba when it is not
    installed."""
    check_choice("use_kernels", "name", name, KERNELS)
    _module(name)  # fail here, not in the middle of a step
    os.environ[ENV] = name


def active_kernels() -> str:
    """The name of the kernels in use: ``$BABYSIT_KERNELS``, else 'numpy'."""
    name = os.environ.get(ENV) or "numpy"
    if name not in KERNELS:
        raise ConfigError(f"${ENV} must be one of {', '.join(map(repr, KERNELS))}. Got {name!r} instead.")
    return name


def numba_kernels():
    """The numba kernels module when they are the ones in use, else None (run the NumPy passes)."""
    name = os.environ.get(ENV)
    if not name or name == "numpy":
        return None
    return _module(active_kernels())


def prepare_kernels() -> None:
    """Compile (or load from numba's cache) the fused conv -> ReLU -> pool's kernels now, once per process, by a
    tiny float32 pass forward and back; nothing for the NumPy kernels. numba's one-time cost (0.3-0.5 s with
    numba's import) then falls before a timed epoch (``train.recipe.train_model`` calls this first) instead of
    in it: the search's plan paces its stages from a timed epoch."""
    name = active_kernels()
    if name == "numpy" or name in _prepared:
        return
    import numpy as np

    from babysit.nn.convpool import conv_relu_pool_backward, conv_relu_pool_forward

    x = np.ones((2, 1, 4, 4), np.float32)
    out, cache = conv_relu_pool_forward(x, np.ones((1, 1, 3, 3), np.float32), np.zeros(1, np.float32), 1, 1)
    conv_relu_pool_backward(out, cache)
    _prepared.add(name)


def _module(name: str):
    if name not in _loaded:
        if name == "numpy":
            _loaded[name] = None
        else:
            try:
                from babysit.nn import numba_kernels
            except ImportError as e:
                raise ConfigError(f"the numba kernels need numba, which is not installed here ({e}): "
                                  "pip install 'babysit[numba]', or use the NumPy kernels "
                                  f"(unset ${ENV})") from None
            _loaded[name] = numba_kernels
    return _loaded[name]
