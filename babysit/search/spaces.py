"""Search spaces: ranges of hyperparameters as objects, their CLI syntax, and the registry of known names.

``LogUniform(1e-6, 1e-3)`` samples uniformly in log10 (the lecture's ``10**uniform(-6, -3)``),
``Uniform``, ``IntUniform`` and ``Choice`` the obvious way. Every space can be narrowed to
the span of the best values (coarse to fine), extended past an edge (when the best sits
there), asked whether a value is near an edge, laid out as a grid, and written to JSON.

On the command line: ``--lr 1e-6:1e-3:log --reg 1e-5:1e5:log --hidden 50,100,200
--dropout 0:0.5`` (``parse_space``). Names are checked, once, against ``HYPERPARAMETERS``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from babysit.errors import ConfigError
from babysit.nn.init import INIT_SCHEMES
from babysit.nn.models import MODEL_ACTIVATIONS, NORMALIZATIONS
from babysit.train.optim import UPDATE_RULES
from babysit.validation import Interval

EDGES = ("low", "high")


# -- spaces ------------------------------------------------------------------------------


def _check_bounds(cls_name: str, low, high, log: bool) -> None:
    problem = _bounds_problem(low, high, log)
    if problem:
        raise ConfigError(f"{cls_name}: {problem}; got low={low!r}, high={high!r}")


def _bounds_problem(low, high, log: bool) -> str | None:
    """Why (low, high) is not a valid range, or None."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "a range needs finite bounds"
    if log and not 0 < low < high:
        return "a log range needs 0 < low < high"
    if not low < high:
        return "a range needs low < high"
    return None


def _check_edge(edge: str) -> None:
    if edge not in EDGES:
        raise ValueError(f"edge must be 'low' or 'high'; got {edge!r}")


def _check_values(values) -> list:
    values = list(values)
    if not values:
        raise ValueError("narrow() needs at least one value")
    return values


class Space:
    """Base of the four spaces; subclasses are frozen dataclasses."""

    kind: str = ""

    def sample(self, rng: np.random.Generator):
        raise NotImplementedError

    def to_json(self) -> dict:
        raise NotImplementedError

    def to_cli(self) -> str:
        raise NotImplementedError

    @staticmethod
    def from_json(obj: Mapping) -> Space:
        """The space described by ``obj`` (the output of ``to_json``)."""
        return space_from_json(obj)


class _Interval(Space):
    """Shared logic of the ranged spaces; ``_to_axis``/``_from_axis`` map to the axis the range is uniform on."""

    low: float
    high: float

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
        values = _check_values(values)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0; got {margin!r}")
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
            raise ConfigError(
                f"cannot narrow {self.to_cli()} to a single point ({min(values)!r}) with margin {margin!r}; "
                "use a margin > 0"
            )
        return type(self)(low, high)

    def grid(self, n: int) -> list:
        """``n`` evenly spaced values on the space's axis, both edges included (the centre when n == 1)."""
        if int(n) != n or n < 1:
            raise ValueError(f"grid needs n >= 1 points; got {n!r}")
        lo, hi = self._axis
        if n == 1:
            return [self._from_axis((lo + hi) / 2)]
        xs = np.linspace(lo, hi, int(n))
        points = [self._from_axis(float(x)) for x in xs]
        points[0], points[-1] = self.low, self.high
        return points


@dataclass(frozen=True)
class LogUniform(_Interval):
    """Values spread uniformly in log10 between ``low`` and ``high`` (0 < low < high): learning rates, reg."""

    low: float
    high: float
    kind = "log"

    def __post_init__(self):
        _check_bounds("LogUniform", self.low, self.high, log=True)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    def _to_axis(self, value):
        return math.log10(value)

    def _from_axis(self, x):
        return 10.0**x

    def sample(self, rng: np.random.Generator) -> float:
        """One value, as the lecture does it: 10 ** uniform(log10 low, log10 high)."""
        lo, hi = self._axis
        return min(max(10.0 ** float(rng.uniform(lo, hi)), self.low), self.high)

    def extend(self, edge: str, factor: float = 10.0) -> LogUniform:
        """The range with ``edge`` moved outwards by ``factor`` (> 1): low / factor or high * factor."""
        _check_edge(edge)
        if not factor > 1:
            raise ValueError(f"extend factor must be > 1; got {factor!r}")
        if edge == "low":
            return LogUniform(self.low / factor, self.high)
        return LogUniform(self.low, self.high * factor)

    def to_json(self) -> dict:
        return {"type": "log", "low": self.low, "high": self.high}

    def to_cli(self) -> str:
        return f"{self.low!r}:{self.high!r}:log"


@dataclass(frozen=True)
class Uniform(_Interval):
    """Values spread uniformly between ``low`` and ``high`` (low < high): dropout, momentum."""

    low: float
    high: float
    kind = "uniform"

    def __post_init__(self):
        _check_bounds("Uniform", self.low, self.high, log=False)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def extend(self, edge: str, factor: float = 2.0) -> Uniform:
        """The range ``factor`` (> 1) times wider, grown on the ``edge`` side only."""
        _check_edge(edge)
        if not factor > 1:
            raise ValueError(f"extend factor must be > 1; got {factor!r}")
        grow = (factor - 1.0) * (self.high - self.low)
        if edge == "low":
            return Uniform(self.low - grow, self.high)
        return Uniform(self.low, self.high + grow)

    def to_json(self) -> dict:
        return {"type": "uniform", "low": self.low, "high": self.high}

    def to_cli(self) -> str:
        return f"{self.low!r}:{self.high!r}:lin"


@dataclass(frozen=True)
class IntUniform(_Interval):
    """Integers from ``low`` to ``high`` inclusive, each equally likely (low < high): hidden units, batch size."""

    low: int
    high: int
    kind = "int"

    def __post_init__(self):
        for bound in (self.low, self.high):
            if isinstance(bound, bool) or not float(bound).is_integer():
                raise ConfigError(f"IntUniform: bounds must be integers; got low={self.low!r}, high={self.high!r}")
        _check_bounds("IntUniform", self.low, self.high, log=False)
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high, endpoint=True))

    def _rebuild(self, low, high, values, margin):
        # round outwards, then keep at least two integers so the result is a valid range
        low, high = max(math.floor(low), self.low), min(math.ceil(high), self.high)
        if low == high:
            low, high = (low - 1, high) if high == self.high else (low, high + 1)
        return IntUniform(low, high)

    def grid(self, n: int) -> list[int]:
        """Up to ``n`` distinct integers evenly spread over the range, both edges included."""
        return sorted({int(round(v)) for v in super().grid(n)})

    def extend(self, edge: str, factor: float = 2.0) -> IntUniform:
        """The range about ``factor`` (> 1) times wider, grown on the ``edge`` side only (at least by 1)."""
        _check_edge(edge)
        if not factor > 1:
            raise ValueError(f"extend factor must be > 1; got {factor!r}")
        grow = max(1, math.ceil((factor - 1.0) * (self.high - self.low)))
        if edge == "low":
            return IntUniform(self.low - grow, self.high)
        return IntUniform(self.low, self.high + grow)

    def to_json(self) -> dict:
        return {"type": "int", "low": self.low, "high": self.high}

    def to_cli(self) -> str:
        return f"{self.low}:{self.high}:int"


@dataclass(frozen=True)
class Choice(Space):
    """One of a fixed list of ``options`` (numbers, strings or None), each equally likely."""

    options: tuple
    kind = "choice"

    def __post_init__(self):
        if isinstance(self.options, (str, bytes)) or not isinstance(self.options, Iterable):
            raise ConfigError(f"Choice: options must be a list; got {self.options!r}")
        options = tuple(o.item() if isinstance(o, np.generic) else o for o in self.options)
        if not options:
            raise ConfigError("Choice: needs at least one option; got none")
        if len(set(map(repr, options))) != len(options):
            raise ConfigError(f"Choice: options must be distinct; got {list(options)!r}")
        object.__setattr__(self, "options", options)

    def sample(self, rng: np.random.Generator):
        return self.options[int(rng.integers(len(self.options)))]

    def contains(self, value) -> bool:
        return value in self.options

    def narrow(self, values: Iterable, margin: float = 0.1) -> Choice:
        """The options that occur in ``values``, in their original order (``margin`` does not apply)."""
        values = _check_values(values)
        kept = tuple(o for o in self.options if o in values)
        if not kept:
            raise ConfigError(f"cannot narrow {self.to_cli()} to {values!r}: none of them is an option")
        return Choice(kept)

    def near_edge(self, value, tol: float = 0.1) -> None:
        """Always None: a list of options has no edges to extend."""
        return None

    def extend(self, edge: str, factor: float = 2.0) -> Choice:
        raise ValueError(f"a Choice ({self.to_cli()}) has no edges to extend; list more options instead")

    def grid(self, n: int | None = None) -> list:
        """Every option (a grid over a list is the list; ``n`` does not apply)."""
        return list(self.options)

    def to_json(self) -> dict:
        return {"type": "choice", "options": list(self.options)}

    def to_cli(self) -> str:
        return ",".join("none" if o is None else str(o) for o in self.options)


_SPACE_TYPES = {"log": LogUniform, "uniform": Uniform, "int": IntUniform}


def space_from_json(obj: Mapping) -> Space:
    """The space described by ``obj`` ({'type': 'log'|'uniform'|'int', 'low', 'high'} or {'type': 'choice', 'options'})."""
    if not isinstance(obj, Mapping) or "type" not in obj:
        raise ConfigError(f"a search space in JSON needs a 'type'; got {obj!r}")
    kind = obj["type"]
    try:
        if kind == "choice":
            return Choice(obj["options"])
        if kind in _SPACE_TYPES:
            return _SPACE_TYPES[kind](obj["low"], obj["high"])
    except KeyError as missing:
        raise ConfigError(f"a {kind!r} search space in JSON needs {missing}; got {obj!r}") from None
    raise ConfigError(f"unknown search space type {kind!r}; expected one of: log, uniform, int, choice")


# -- the registry of hyperparameters --------------------------------------------------------


@dataclass(frozen=True)
class Hyperparameter:
    """A searchable hyperparameter: ``kind`` 'float' | 'int' | 'option', the values it allows, a help line."""

    name: str
    kind: str
    help: str
    limits: Interval | None = None  # allowed numbers ('float', 'int')
    options: tuple | None = None  # allowed values ('option')

    def allows(self, value) -> bool:
        if self.kind == "option":
            return value in self.options
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return math.isfinite(value) and value in self.limits

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "option":
            return "one of " + ", ".join(_option_text(o) for o in self.options)
        return f"{'an integer' if self.kind == 'int' else 'a number'} in {self.limits}"


_POSITIVE = Interval(0.0, math.inf, "neither")
_UNIT = Interval(0.0, 1.0, "left")  # [0, 1)

HYPERPARAMETERS: dict[str, Hyperparameter] = {
    hp.name: hp
    for hp in (
        Hyperparameter("lr", "float", "learning rate", _POSITIVE),
        Hyperparameter("reg", "float", "L2 regularization strength", Interval(0.0, math.inf)),
        Hyperparameter("weight_scale", "float", "std of the 'small' weight init", _POSITIVE),
        Hyperparameter("dropout", "float", "probability of dropping a hidden unit", _UNIT),
        Hyperparameter("lr_decay", "float", "learning rate factor per epoch", Interval(0.0, 1.0, "right")),
        Hyperparameter("momentum", "float", "momentum of the update rule", _UNIT),
        Hyperparameter("horizon", "int", "epochs the lr decay is spread over: a trial of E epochs multiplies the "
                       "rate by lr_decay**(horizon/E) per epoch, so it ends as annealed as a horizon-epoch run",
                       Interval(1, math.inf)),
        Hyperparameter("hidden", "int", "hidden units per layer", Interval(1, math.inf)),
        Hyperparameter("batch_size", "int", "examples per minibatch", Interval(1, math.inf)),
        Hyperparameter("update", "option", "update rule", options=tuple(UPDATE_RULES)),
        Hyperparameter("init", "option", "weight init scheme", options=tuple(INIT_SCHEMES)),
        Hyperparameter("activation", "option", "activation function", options=tuple(MODEL_ACTIVATIONS)),
        Hyperparameter("normalization", "option", "normalization layer", options=tuple(NORMALIZATIONS)),
    )
}

# which space objects each kind of hyperparameter accepts
_ACCEPTED = {"float": (LogUniform, Uniform, Choice), "int": (IntUniform, Choice), "option": (Choice,)}

_FORMS = {
    "float": "LOW:HIGH:log, LOW:HIGH[:lin] or a list A,B,C",
    "int": "LOW:HIGH[:int] or a list A,B,C of integers",
    "option": "a list A,B,C of options",
}


def _option_text(option) -> str:
    return "none" if option is None else str(option)


def hyperparameter(name: str) -> Hyperparameter:
    """The registry entry for ``name``; ConfigError naming the known ones when it is unknown."""
    hp = HYPERPARAMETERS.get(name)
    if hp is None:
        close = difflib.get_close_matches(str(name), HYPERPARAMETERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown hyperparameter {name!r}{hint}; known: {', '.join(sorted(HYPERPARAMETERS))}"
        )
    return hp


def check_space(name: str, space: Space) -> None:
    """ConfigError unless ``space`` suits the hyperparameter ``name`` (kind of space, allowed values)."""
    problem = _space_problem(hyperparameter(name), space)
    if problem:
        raise ConfigError(f"{name}: {problem}; got {space!r}")


def _space_problem(hp: Hyperparameter, space: Space) -> str | None:
    """Why ``space`` does not suit ``hp``, or None."""
    accepted = _ACCEPTED[hp.kind]
    if not isinstance(space, accepted):
        return f"takes {' or '.join(c.__name__ for c in accepted)}"
    values = space.options if isinstance(space, Choice) else (space.low, space.high)
    bad = [v for v in values if not hp.allows(v)]
    if bad:
        return f"must be {hp.allowed()} ({hp.help}), not {_option_text(bad[0])}"
    return None


# -- CLI syntax -----------------------------------------------------------------------------


class _Malformed(Exception):
    """A reason why a CLI range text is malformed; parse_space adds the name, text and forms."""


def parse_space(name: str, text: str) -> Space:
    """The space written as ``text`` on the command line for hyperparameter ``name``.

    ``1e-6:1e-3:log`` -> LogUniform, ``0:0.5`` or ``0:0.5:lin`` -> Uniform, ``64:512:int``
    -> IntUniform, ``50,100,200`` -> Choice (a single value is a one-option Choice).
    Raises ConfigError naming the parameter, the text and the expected form.
    """
    hp = hyperparameter(name)
    try:
        text = str(text).strip()
        space = _parse_range(hp, text) if ":" in text else _parse_list(hp, text)
    except _Malformed as reason:
        raise ConfigError(f"--{name}: {reason}; got {text!r} (expected {_FORMS[hp.kind]})") from None
    problem = _space_problem(hp, space)  # values outside the hyperparameter's limits
    if problem:
        raise ConfigError(f"--{name}: {problem}; got {text!r}")
    return space


def _parse_range(hp: Hyperparameter, text: str) -> Space:
    if hp.kind == "option":
        raise _Malformed(f"{hp.name} takes a list of options, not a range")
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3):
        raise _Malformed("a range has the form LOW:HIGH[:SCALE]")
    scale = parts[2].lower() if len(parts) == 3 else ("int" if hp.kind == "int" else "lin")
    if scale not in ("log", "lin", "int"):
        raise _Malformed(f"unknown scale {parts[2]!r} (scales: log, lin, int)")
    if hp.kind == "int":
        if scale == "log":
            raise _Malformed(f"{hp.name} is an integer: use LOW:HIGH:int or a list, not a log range")
        low, high = (_parse_int(p) for p in parts[:2])
        if not low < high:
            raise _Malformed("an integer range needs low < high")
        return IntUniform(low, high)
    if scale == "int":
        raise _Malformed(f"the int scale is for integer hyperparameters; {hp.name} takes log or lin")
    low, high = (_parse_float(p) for p in parts[:2])
    problem = _bounds_problem(low, high, log=scale == "log")
    if problem:
        raise _Malformed(problem)
    return LogUniform(low, high) if scale == "log" else Uniform(low, high)


def _parse_list(hp: Hyperparameter, text: str) -> Choice:
    items = [p.strip() for p in text.split(",")]
    if any(not item for item in items):
        raise _Malformed("empty value in the list")
    if hp.kind == "option":
        by_text = {_option_text(o): o for o in hp.options}
        unknown = [i for i in items if i.lower() not in by_text]
        if unknown:
            raise _Malformed(f"unknown {hp.name} {unknown[0]!r}; known: {', '.join(by_text)}")
        options = [by_text[i.lower()] for i in items]
    elif hp.kind == "int":
        options = [_parse_int(i) for i in items]
    else:
        options = [_parse_float(i) for i in items]
    if len(set(options)) != len(options):
        raise _Malformed("the list repeats a value")
    return Choice(options)


def _parse_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Malformed(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _Malformed(f"{text!r} is not a finite number")
    return value


def _parse_int(text: str) -> int:
    value = _parse_float(text)
    if not value.is_integer():
        raise _Malformed(f"{text!r} is not an integer")
    return int(value)


# -- a whole search space -------------------------------------------------------------------


class SearchSpace(Mapping):
    """Hyperparameter name -> space, validated against ``HYPERPARAMETERS``; iterates in sorted name order.

    The sorted order makes sampling independent of the order the options were given in,
    so the same command line in any order samples the same configurations.
    """

    def __init__(self, spaces: Mapping[str, Space]):
        if not spaces:
            raise ConfigError(f"a search needs at least one hyperparameter; known: {', '.join(sorted(HYPERPARAMETERS))}")
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

        ``factor`` defaults to 10 for LogUniform (a decade) and 2 for the linear spaces.
        Returns ``self`` unchanged when that edge already sits on a hard limit (dropout 0).
        """
        space = self._spaces[name]
        if factor is None:
            factor = 10.0 if isinstance(space, LogUniform) else 2.0
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
        return {name: space.to_json() for name, space in self._spaces.items()}

    @classmethod
    def from_json(cls, obj: Mapping) -> SearchSpace:
        return cls({name: space_from_json(spec) for name, spec in obj.items()})

    def to_cli(self) -> dict[str, str]:
        """Name -> CLI text that ``parse`` reads back into the same space."""
        return {name: space.to_cli() for name, space in self._spaces.items()}


def _clip_to_limits(wider: Space, original: Space, limits: Interval | None) -> Space:
    if limits is None or not isinstance(wider, _Interval):
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
