"""``SearchSpace``: hyperparameter name -> space, the whole set of ranges one search stage samples.

It sits above ``spaces`` (the range types), ``hyperparameters`` (which names exist and what
suits them) and ``syntax`` (the command-line text), and ties them together.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np

from babysit.search.hyperparameters import HYPERPARAMETERS, check_space, hyperparameter
from babysit.search.spaces import Choice, Space, space_from_json
from babysit.search.syntax import format_space, parse_space
from babysit.validation import Interval, invalid


class SearchSpace(Mapping):
    """Hyperparameter name -> space, validated against ``HYPERPARAMETERS``; iterates in sorted name order.

    The sorted order makes sampling independent of the order the options were given in,
    so the same command line in any order samples the same configurations.
    """

    def __init__(self, spaces: Mapping[str, Space]):
        if not spaces:
            known = ", ".join(sorted(HYPERPARAMETERS))
            expected = f"a non-empty mapping of hyperparameter names ({known}) to spaces"
            raise invalid("SearchSpace", "spaces", expected, spaces)
        for name, space in spaces.items():
            check_space(name, space)
        self._spaces = {name: spaces[name] for name in sorted(spaces)}

    @classmethod
    def parse(cls, texts: Mapping[str, str]) -> SearchSpace:
        """From CLI texts, e.g. {'lr': '1e-6:1e-3:log', 'hidden': '50,100,200'}."""
        return cls({name: parse_space(name, text) for name, text in texts.items()})

    def __getitem__(self, name: str) -> Space:
        return self._spaces[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._spaces)

    def __len__(self) -> int:
        return len(self._spaces)

    def __repr__(self) -> str:
        return f"SearchSpace({self._spaces!r})"

    def sample(self, rng: np.random.Generator) -> dict:
        """One configuration: name -> value (Python float/int/str/None), names in sorted order."""
        return {name: space.sample(rng) for name, space in self._spaces.items()}

    def with_space(self, name: str, space: Space) -> SearchSpace:
        """A copy with ``name`` set to ``space``."""
        return SearchSpace({**self._spaces, name: space})

    def extend(self, name: str, edge: str, factor: float | None = None) -> SearchSpace:
        """A copy with ``name`` extended past ``edge``, kept inside the hyperparameter's limits.

        ``factor`` defaults to the space's own (10 for LogUniform, a decade; 2 for the linear ones).
        Returns ``self`` unchanged when that edge already sits on a hard limit (dropout 0).
        """
        space = self._spaces[name]
        wider = _clip_to_limits(space.extend(edge, factor), space, hyperparameter(name).limits)
        return self if wider == space else self.with_space(name, wider)

    def edges(self, config: Mapping, tol: float = 0.1) -> dict[str, str]:
        """Name -> 'low'|'high' for every value of ``config`` near an edge that could still be extended."""
        out = {}
        for name, space in self._spaces.items():
            edge = space.near_edge(config[name], tol) if name in config else None
            if edge and self.extend(name, edge) is not self:
                out[name] = edge
        return out

    def to_json(self) -> dict:
        """Name -> the space's JSON; stored with a search, so it must stay the same for the same ranges."""
        return {name: space.to_json() for name, space in self._spaces.items()}

    @classmethod
    def from_json(cls, obj: Mapping) -> SearchSpace:
        """The search space ``to_json`` wrote."""
        return cls({name: space_from_json(spec) for name, spec in obj.items()})

    def to_cli(self) -> dict[str, str]:
        """Name -> CLI text that ``parse`` reads back into the same space."""
        return {name: format_space(space) for name, space in self._spaces.items()}


def _clip_to_limits(wider: Space, original: Space, limits: Interval | None) -> Space:
    if limits is None or isinstance(wider, Choice):
        return wider
    low, high = wider.low, wider.high
    if low not in limits:
        # closed limit: the limit itself; open limit: the nearest value inside (never past the original)
        low = limits.low if limits.closed in ("both", "left") else np.nextafter(limits.low, math.inf)
        low = min(type(original.low)(low), original.low)
    if high not in limits:
        high = limits.high if limits.closed in ("both", "right") else np.nextafter(limits.high, -math.inf)
        high = max(type(original.high)(high), original.high)
    return type(wider)(low, high)
