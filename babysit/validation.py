"""Argument checks with one message format, for every layer of babysit.

Every check raises ``ConfigError`` worded the scikit-learn way:
"The 'momentum' parameter of Momentum must be a float in [0, 1). Got 1.5 instead."
The error also carries the parts (``parameter``, ``owner``, ``expected``, ``got``), so the
CLI, which alone knows its flags, can say "--momentum must be a float in [0, 1). Got 1.5
instead." (``ConfigError.for_flag``). Library code never names a CLI flag.

This module sits below ``nn``, ``data`` and everything else: of babysit it imports only ``errors``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from babysit.errors import ConfigError


@dataclass(frozen=True)
class Interval:
    """A real interval; ``closed`` is 'both', 'left', 'right' or 'neither'.

    An infinite bound always prints open ("[1, inf)"), but a closed one lets inf in
    (ExplosionGuard's ``factor=inf``): close only the finite side for a finite range.
    """

    low: float = -math.inf
    high: float = math.inf
    closed: str = "both"

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.closed in ("both", "left") else value > self.low
        below = value <= self.high if self.closed in ("both", "right") else value < self.high
        return above and below

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and math.isfinite(self.low) else "("
        right = "]" if self.closed in ("both", "right") and math.isfinite(self.high) else ")"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"


FINITE = Interval(-math.inf, math.inf, "neither")  # any finite number (an Interval() lets +-inf in)
POSITIVE = Interval(0.0, math.inf, "neither")  # finite, > 0
NON_NEGATIVE = Interval(0.0, math.inf, "left")  # finite, >= 0 (closed at inf, inf itself would pass)
UNIT = Interval(0.0, 1.0)  # [0, 1]
UNIT_OPEN = Interval(0.0, 1.0, "left")  # [0, 1): probabilities of dropping, momentum
AT_LEAST_ONE = Interval(1, math.inf)  # ints >= 1


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def invalid(owner: str, name: str, expected: str, value) -> ConfigError:
    """The ConfigError for parameter ``name`` of ``owner``: it must be ``expected``; ``value`` came in.

    For checks the helpers below do not cover (``expected`` reads after "must be", e.g.
    "a non-empty list of positive ints"). Raise what it returns.
    """
    return ConfigError(
        f"The '{name}' parameter of {owner} must be {expected}. Got {value!r} instead.",
        parameter=name, owner=owner, expected=expected, got=repr(value),
    )


def check_float(owner: str, name: str, value, interval: Interval = FINITE) -> float:
    """Return ``value`` as a Python float in ``interval`` (NaN never passes) or raise ConfigError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = not math.isnan(value) and value in interval
    if not ok:
        raise invalid(owner, name, f"a float in {interval}", value)
    return value


def check_int(owner: str, name: str, value, interval: Interval = Interval()) -> int:
    """Return ``value`` as a Python int in ``interval`` or raise ConfigError (bools are refused)."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        value = int(value)
        ok = value in interval
    if not ok:
        raise invalid(owner, name, f"an int in {interval}", value)
    return value


def check_optional_float(owner: str, name: str, value, interval: Interval = FINITE) -> float | None:
    """``check_float`` that lets None through (a parameter whose default is computed elsewhere)."""
    return None if value is None else check_float(owner, name, value, interval)


def check_optional_int(owner: str, name: str, value, interval: Interval = Interval()) -> int | None:
    """``check_int`` that lets None through."""
    return None if value is None else check_int(owner, name, value, interval)


def check_choice(owner: str, name: str, value, choices: Iterable):
    """Return ``value`` if it is one of ``choices``, else raise ConfigError listing them."""
    choices = list(choices)
    if value not in choices:
        raise invalid(owner, name, f"one of {', '.join(map(repr, choices))}", value)
    return value


def check_bool(owner: str, name: str, value) -> bool:
    """Return ``value`` if it is a bool (NumPy's included), else raise ConfigError."""
    if not isinstance(value, (bool, np.bool_)):
        raise invalid(owner, name, "a bool", value)
    return bool(value)


def check_int_list(owner: str, name: str, values, interval: Interval = AT_LEAST_ONE, *,
                   allow_empty: bool = True) -> tuple[int, ...]:
    """Return ``values`` (any iterable of ints, e.g. hidden layer sizes) as a tuple, each in ``interval``."""
    expected = f"a {'' if allow_empty else 'non-empty '}sequence of ints in {interval}"
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise invalid(owner, name, expected, values)
    items = list(values)
    if (not items and not allow_empty) or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) in interval for v in items
    ):
        raise invalid(owner, name, expected, values)
    return tuple(int(v) for v in items)


def check_dtype(owner: str, name: str, value, allowed: Iterable = (np.float32, np.float64)) -> np.dtype:
    """Return ``value`` (np.float32, 'float64', ...) as a NumPy dtype among ``allowed``, or raise ConfigError.

    None is refused, though NumPy reads it as float64: here it is more likely a dtype left unset.
    """
    allowed = [np.dtype(a) for a in allowed]
    try:
        dtype = None if value is None else np.dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype not in allowed:  # not `None in allowed`: NumPy finds np.float64 == None
        raise invalid(owner, name, " or ".join(f"np.{a.name}" for a in allowed), value if dtype is None else dtype)
    return dtype


def unknown(owner: str, name: str, what: str, value, known: Iterable[str]) -> ConfigError:
    """The ConfigError for a name missing from a registry (``name`` is the parameter that held it).

    Worded like ``reject_unknown``: "Unknown update rule 'adagrad' for make_optimizer; expected
    one of: sgd, momentum." Raise what it returns.
    """
    expected = _one_of(known)
    return ConfigError(f"Unknown {what} {value!r} for {owner}; expected {expected}.",
                       parameter=name, owner=owner, expected=expected, got=repr(value))


def check_directory(owner: str, name: str, path):
    """Return ``path`` as a Path if it is a directory or does not exist yet (to be created), else raise ConfigError."""
    from pathlib import Path

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise invalid(owner, name, "a directory (this path exists and is a file)", str(path))
    return path


def reject_unknown(owner: str, given: Mapping | Iterable[str], known: Iterable[str]) -> None:
    """Raise ConfigError naming the keys of ``given`` that are not in ``known``."""
    known = list(known)
    extra = sorted(set(given) - set(known))
    if extra:
        expected = _one_of(known)
        raise ConfigError(
            f"Unknown parameter{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} "
            f"for {owner}; expected {expected}.",
            parameter=extra[0], owner=owner, expected=expected, got=repr(extra[0]),
        )


def _one_of(known: Iterable[str]) -> str:
    return f"one of: {', '.join(known) or '(none)'}"
