"""Search spaces: the range of one hyperparameter as an object.

``LogUniform(1e-6, 1e-3)`` samples uniformly in log10 (the lecture's ``10**uniform(-6, -3)``),
``Uniform``, ``IntUniform`` and ``Choice`` the obvious way. Every space can be narrowed to
the span of the best values (coarse to fine), extended past an edge (when the best sits
there), asked whether a value is near an edge, laid out as a grid, and written to JSON.

A space knows nothing of hyperparameter names: ``hyperparameters`` says which space suits
which name, ``syntax`` reads and writes the command-line text, ``search_space`` holds them all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from babysit.validation import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    Interval,
    check_choice,
    check_float,
    check_int,
    invalid,
)

EDGES = ("low", "high")
FINITE = Interval(-math.inf, math.inf, "neither")


def option_text(option) -> str:
    """An option as the command line writes it: None is 'none'."""
    return "none" if option is None else str(option)


class Space:
    """Base of the four spaces; subclasses are frozen dataclasses. ``kind`` is their JSON 'type'."""

    kind: str = ""

    def sample(self, rng: np.random.Generator):
        raise NotImplementedError

    def to_json(self) -> dict:
        raise NotImplementedError


def _check_values(owner: str, values) -> list:
    values = list(values)
    if not values:
        raise invalid(owner, "values", "a non-empty list of values", values)
    return values


@dataclass(frozen=True)
class _Interval(Space):
    """Shared logic of the ranged spaces; ``_to_axis``/``_from_axis`` map to the axis the range is uniform on.

    Subclasses set ``LOW`` (where the low bound may lie), ``DEFAULT_FACTOR`` (of ``extend``) and
    ``_check_bound`` (float or int).
    """

    low: float
    high: float
    LOW = FINITE
    DEFAULT_FACTOR = 2.0

    def __post_init__(self):
        owner = type(self).__name__
        low = self._check_bound(owner, "low", self.low, self.LOW)
        high = self._check_bound(owner, "high", self.high, Interval(low, math.inf, "neither"))
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @staticmethod
    def _check_bound(owner: str, name: str, value, interval: Interval):
        return check_float(owner, name, value, interval)

    def _to_axis(self, value: float) -> float:
        return value

    def _from_axis(self, x: float) -> float:
        return x

    @property
    def _axis(self) -> tuple[float, float]:
        return self._to_axis(self.low), self._to_axis(self.high)

    def contains(self, value) -> bool:
        """Whether ``value`` lies in [low, high]."""
        return self.low <= value <= self.high

    def near_edge(self, value: float, tol: float = 0.1) -> str | None:
        """'low' or 'high' when ``value`` lies within ``tol`` (a fraction of the width) of that edge, else None.

        The width is measured on the space's own axis (decades for LogUniform). When both
        edges are that close the nearer one is named.
        """
        lo, hi = self._axis
        x = self._to_axis(value)
        width = hi - lo
        d_low, d_high = x - lo, hi - x
        if min(d_low, d_high) > tol * width:
            return None
        return "low" if d_low <= d_high else "high"

    def narrow(self, values: Iterable[float], margin: float = 0.1) -> _Interval:
        """The same kind of space spanning ``values`` plus ``margin`` x the current width on each side.

        Widths are on the space's axis (decades for LogUniform); the result stays inside
        the current range. ConfigError when it would collapse to a single point.
        """
        owner = f"{type(self).__name__}.narrow"
        values = _check_values(owner, values)
        margin = check_float(owner, "margin", margin, NON_NEGATIVE)
        lo, hi = self._axis
        xs = [self._to_axis(min(max(v, self.low), self.high)) for v in values]
        pad = margin * (hi - lo)
        new_lo, new_hi = min(xs) - pad, max(xs) + pad
        # keep the exact current bound where clipped: 10**log10(x) need not give x back
        low = self.low if new_lo <= lo else self._from_axis(new_lo)
        high = self.high if new_hi >= hi else self._from_axis(new_hi)
        return self._rebuild(low, high, values, margin)

    def _rebuild(self, low, high, values, margin):
        if not low < high:
            raise invalid(f"{type(self).__name__}.narrow", "margin",
                          f"> 0 to narrow {self!r} around the single value {min(values)!r}", margin)
        return type(self)(low, high)

    def extend(self, edge: str, factor: float | None = None) -> _Interval:
        """The range with ``edge`` moved outwards by ``factor`` (> 1; default ``DEFAULT_FACTOR``)."""
        owner = f"{type(self).__name__}.extend"
        check_choice(owner, "edge", edge, EDGES)
        factor = self.DEFAULT_FACTOR if factor is None else factor
        factor = check_float(owner, "factor", factor, Interval(1.0, math.inf, "neither"))
        return type(self)(*self._extended(edge, factor))

    def _extended(self, edge: str, factor: float) -> tuple:
        """Linear ranges: ``factor`` times wider, grown on the ``edge`` side only."""
        grow = self._growth(factor)
        return (self.low - grow, self.high) if edge == "low" else (self.low, self.high + grow)

    def _growth(self, factor: float):
        return (factor - 1.0) * (self.high - self.low)

    def grid(self, n: int) -> list:
        """``n`` evenly spaced values on the space's axis, both edges included (the centre when n == 1)."""
        n = check_int(f"{type(self).__name__}.grid", "n", n, AT_LEAST_ONE)
        lo, hi = self._axis
        if n == 1:
            return [self._from_axis((lo + hi) / 2)]
        xs = np.linspace(lo, hi, n)
        points = [self._from_axis(float(x)) for x in xs]
        points[0], points[-1] = self.low, self.high
        return points

    def to_json(self) -> dict:
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class LogUniform(_Interval):
    """Values spread uniformly in log10 between ``low`` and ``high`` (0 < low < high): learning rates, reg."""

    kind = "log"
    LOW = POSITIVE
    DEFAULT_FACTOR = 10.0  # a decade

    def _to_axis(self, value):
        return math.log10(value)

    def _from_axis(self, x):
        return 10.0**x

    def sample(self, rng: np.random.Generator) -> float:
        """One value, as the lecture does it: 10 ** uniform(log10 low, log10 high)."""
        lo, hi = self._axis
        return min(max(10.0 ** float(rng.uniform(lo, hi)), self.low), self.high)

    def _extended(self, edge: str, factor: float) -> tuple:
        """low / factor or high * factor (exact, not through the log axis)."""
        return (self.low / factor, self.high) if edge == "low" else (self.low, self.high * factor)


@dataclass(frozen=True)
class Uniform(_Interval):
    """Values spread uniformly between ``low`` and ``high`` (low < high): dropout, momentum."""

    kind = "uniform"

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class IntUniform(_Interval):
    """Integers from ``low`` to ``high`` inclusive, each equally likely (low < high): hidden units, batch size.

    Bounds are ints (a float such as 64.0 that is an integer is taken as one).
    """

    low: int
    high: int
    kind = "int"

    @staticmethod
    def _check_bound(owner: str, name: str, value, interval: Interval) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return check_int(owner, name, value, interval)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high, endpoint=True))

    def _rebuild(self, low, high, values, margin):
        # round outwards, then keep at least two integers so the result is a valid range
        low, high = max(math.floor(low), self.low), min(math.ceil(high), self.high)
        if low == high:
            low, high = (low - 1, high) if high == self.high else (low, high + 1)
        return IntUniform(low, high)

    def _growth(self, factor: float) -> int:
        return max(1, math.ceil(super()._growth(factor)))  # at least by 1

    def grid(self, n: int) -> list[int]:
        """Up to ``n`` distinct integers evenly spread over the range, both edges included."""
        return sorted({int(round(v)) for v in super().grid(n)})


@dataclass(frozen=True)
class Choice(Space):
    """One of a fixed list of ``options`` (numbers, strings or None), each equally likely."""

    options: tuple
    kind = "choice"

    def __post_init__(self):
        expected = "a non-empty list of distinct options"
        if isinstance(self.options, (str, bytes)) or not isinstance(self.options, Iterable):
            raise invalid("Choice", "options", expected, self.options)
        options = tuple(o.item() if isinstance(o, np.generic) else o for o in self.options)
        if not options or len(set(map(repr, options))) != len(options):
            raise invalid("Choice", "options", expected, list(options))
        object.__setattr__(self, "options", options)

    def sample(self, rng: np.random.Generator):
        return self.options[int(rng.integers(len(self.options)))]

    def contains(self, value) -> bool:
        return value in self.options

    def narrow(self, values: Iterable, margin: float = 0.1) -> Choice:
        """The options that occur in ``values``, in their original order (``margin`` does not apply)."""
        values = _check_values("Choice.narrow", values)
        kept = tuple(o for o in self.options if o in values)
        if not kept:
            expected = f"a list holding at least one of the options {list(self.options)!r}"
            raise invalid("Choice.narrow", "values", expected, values)
        return Choice(kept)

    def near_edge(self, value, tol: float = 0.1) -> None:
        """Always None: a list of options has no edges to extend."""
        return None

    def extend(self, edge: str, factor: float | None = None) -> Choice:
        """Always a ConfigError: a list of options has no edges; list more options instead."""
        expected = f"the edge of a range, but {self!r} has none (list more options instead)"
        raise invalid("Choice.extend", "edge", expected, edge)

    def grid(self, n: int | None = None) -> list:
        """Every option (a grid over a list is the list; ``n`` does not apply)."""
        return list(self.options)

    def to_json(self) -> dict:
        return {"type": "choice", "options": list(self.options)}


_RANGES = {cls.kind: cls for cls in (LogUniform, Uniform, IntUniform)}
_JSON_FORMS = "{'type': 'log'|'uniform'|'int', 'low': L, 'high': H} or {'type': 'choice', 'options': [...]}"


def space_from_json(obj: Mapping) -> Space:
    """The space described by ``obj`` (the output of ``to_json``)."""
    kind = obj.get("type") if isinstance(obj, Mapping) else None
    if kind == "choice" and "options" in obj:
        return Choice(obj["options"])
    if isinstance(kind, str) and kind in _RANGES and "low" in obj and "high" in obj:
        return _RANGES[kind](obj["low"], obj["high"])
    raise invalid("space_from_json", "obj", _JSON_FORMS, obj)
