"""Samplers: turn a SearchSpace into a deterministic sequence of configurations.

``RandomSampler`` (the lecture's choice) draws configuration ``i`` from its own generator
seeded by ``(seed..., i)``, so configuration ``i`` is the same whatever ``n`` is asked
for, whichever process computes it, and after a resume. ``GridSampler`` walks the
cartesian product of each space's ``grid``; it is here for the random-vs-grid comparison
(Bergstra and Bengio, 2012): with the same budget, random search tries many more
distinct values of the one hyperparameter that matters.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from babysit.search.search_space import SearchSpace
from babysit.validation import NON_NEGATIVE, Interval, check_choice, check_int, invalid


def _seed_words(seed) -> tuple[int, ...]:
    words = (seed,) if isinstance(seed, (numbers.Number, str)) or not isinstance(seed, Iterable) else tuple(seed)
    if not words or any(isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 0 for w in words):
        raise invalid("RandomSampler", "seed", "a non-negative int or a non-empty sequence of them", seed)
    return tuple(int(w) for w in words)


class RandomSampler:
    """Independent random configurations from ``space``.

    Inputs: ``space`` a SearchSpace; ``seed`` a non-negative int or a sequence of them
    (e.g. ``(seed, stage)`` so each stage gets its own stream).
    """

    def __init__(self, space: SearchSpace, seed: int | Sequence[int] = 0):
        self.space = space
        self.seed = _seed_words(seed)

    def config(self, index: int) -> dict:
        """Configuration number ``index`` (0-based): name -> value."""
        index = check_int("RandomSampler.config", "index", index, NON_NEGATIVE)
        return self.space.sample(np.random.default_rng([*self.seed, index]))

    def configs(self, n: int) -> list[dict]:
        """The first ``n`` configurations; a prefix of any longer list from the same sampler."""
        return [self.config(i) for i in range(n)]

    def __iter__(self) -> Iterator[dict]:
        """Configurations 0, 1, 2, ... without end."""
        return (self.config(i) for i in itertools.count())


class GridSampler:
    """The grid over ``space``: every combination of each space's ``grid(points)`` values.

    Inputs: ``points_per_dim`` an int for every hyperparameter, or name -> int
    (a Choice always contributes all its options). Order: the last name (sorted) varies fastest.
    """

    def __init__(self, space: SearchSpace, points_per_dim: int | Mapping[str, int] = 3):
        self.space = space
        points = dict(points_per_dim) if isinstance(points_per_dim, Mapping) else dict.fromkeys(space, points_per_dim)
        if set(points) != set(space) or any(
            isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in points.values()
        ):
            raise invalid("GridSampler", "points_per_dim",
                          f"an int in [1, inf), or a mapping of each of {', '.join(space)} to one", points_per_dim)
        self.values = {name: space[name].grid(int(points[name])) for name in space}

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.values.values())

    def config(self, index: int) -> dict:
        """Grid point number ``index`` (0 <= index < len)."""
        index = check_int("GridSampler.config", "index", index, Interval(0, len(self) - 1))
        config = {}
        for name in reversed(self.values):  # mixed radix, last name fastest
            index, digit = divmod(index, len(self.values[name]))
            config[name] = self.values[name][digit]
        return {name: config[name] for name in self.values}

    def configs(self, n: int | None = None) -> list[dict]:
        """The first ``n`` grid points (all when None)."""
        return [self.config(i) for i in range(len(self) if n is None else min(n, len(self)))]

    def __iter__(self) -> Iterator[dict]:
        return (self.config(i) for i in range(len(self)))


SAMPLERS = {"random": RandomSampler, "grid": GridSampler}


def make_sampler(kind: str, space: SearchSpace, *, seed: int | Sequence[int] = 0, points_per_dim=3):
    """``RandomSampler(space, seed)`` for 'random', ``GridSampler(space, points_per_dim)`` for 'grid'."""
    check_choice("make_sampler", "kind", kind, SAMPLERS)
    if kind == "random":
        return RandomSampler(space, seed)
    return GridSampler(space, points_per_dim)
