"""Weight initialization schemes from the lecture.

- ``small``:  ``weight_scale * randn`` (the lecture's first idea, 0.01)
- ``xavier``: ``randn / sqrt(fan_in)`` (Glorot et al., 2010)
- ``he``:     ``randn / sqrt(fan_in / 2)`` (He et al., 2015: the extra /2 for ReLU)
- ``zeros``:  all zeros, to show the symmetry problem
"""

from __future__ import annotations

import math

import numpy as np

from babysit.errors import ConfigError
from babysit.validation import NON_NEGATIVE, check_choice, check_float

INIT_SCHEMES = ("small", "xavier", "he", "zeros")
DEFAULT_WEIGHT_SCALE = 0.01


def check_init(owner: str, scheme: str, weight_scale: float | None) -> float | None:
    """Check ``init`` (one of INIT_SCHEMES) and ``weight_scale`` (finite >= 0, for 'small' only) of ``owner``.

    Returns weight_scale as a Python float (or None).
    """
    check_choice(owner, "init", scheme, INIT_SCHEMES)
    if weight_scale is None:
        return None
    if scheme != "small":  # a cross-parameter rule: worded on its own, with the parts for the CLI
        raise ConfigError(
            f"weight_scale applies to init='small' only; got init={scheme!r} with weight_scale={weight_scale!r}",
            parameter="weight_scale", owner=owner, expected=f"None with init={scheme!r} (it applies to 'small' only)",
            got=repr(weight_scale))
    return check_float(owner, "weight_scale", weight_scale, NON_NEGATIVE)


def init_scale(scheme: str, fan_in: int, weight_scale: float | None = None, owner: str = "init_weight") -> float:
    """Return the standard deviation that ``scheme`` gives a weight with ``fan_in`` inputs."""
    weight_scale = check_init(owner, scheme, weight_scale)
    if scheme == "small":
        return DEFAULT_WEIGHT_SCALE if weight_scale is None else weight_scale
    if scheme == "xavier":
        return 1.0 / math.sqrt(fan_in)
    if scheme == "he":
        return 1.0 / math.sqrt(fan_in / 2.0)
    return 0.0  # zeros


def init_weight(shape: tuple[int, ...], fan_in: int, scheme: str, rng: np.random.Generator,
                dtype=np.float32, weight_scale: float | None = None) -> np.ndarray:
    """Draw a weight array of ``shape`` and ``dtype`` with the given scheme.

    The draw is made in float64 and cast, so float32 and float64 models built
    from the same seed start from the same weights (up to rounding).
    """
    scale = init_scale(scheme, fan_in, weight_scale)
    if scheme == "zeros":
        return np.zeros(shape, dtype=dtype)
    w = rng.standard_normal(shape)
    w *= scale
    return w.astype(dtype, copy=False)


def default_init(activation: str) -> str:
    """The scheme used when neither ``init`` nor ``weight_scale`` is given.

    He for the ReLU family (ReLU, leaky ReLU, PReLU, ELU, maxout), Xavier for
    tanh and sigmoid: the pairings that keep activation statistics steady.
    """
    return "xavier" if activation in ("tanh", "sigmoid") else "he"


def resolve_init(init: str | None, weight_scale: float | None, activation: str,
                 owner: str = "resolve_init") -> tuple[str, float | None]:
    """Apply the lecture's convention (``weight_scale`` alone means ``init='small'``) and check both for ``owner``."""
    if init is None:
        init = "small" if weight_scale is not None else default_init(activation)
    return init, check_init(owner, init, weight_scale)


def as_generator(seed_or_rng) -> np.random.Generator:
    """Accept None, an int seed or a Generator; return a Generator (never the global RNG)."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)
