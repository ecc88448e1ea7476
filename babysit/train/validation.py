"""Argument checks with one message format for the training layer.

Every check raises ``ConfigError`` worded as "The 'momentum' parameter of
momentum must be a float in [0, 1). Got 1.5 instead." so users always learn the
name, the allowed range and what came in.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from babysit.errors import ConfigError


@dataclass(frozen=True)
class Interval:
    """A real interval; ``closed`` is 'both', 'left', 'right' or 'neither'."""

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


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def check_float(owner: str, name: str, value, interval: Interval = Interval()) -> float:
    """Return ``value`` as a Python float (keeps float32 arrays float32) or raise ConfigError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = not math.isnan(value) and value in interval
    if not ok:
        raise ConfigError(
            f"The '{name}' parameter of {owner} must be a float in {interval}. Got {value!r} instead."
        )
    return value


def check_int(owner: str, name: str, value, interval: Interval = Interval()) -> int:
    """Return ``value`` as a Python int or raise ConfigError."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        value = int(value)
        ok = value in interval
    if not ok:
        raise ConfigError(
            f"The '{name}' parameter of {owner} must be an int in {interval}. Got {value!r} instead."
        )
    return value


def check_choice(owner: str, name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ConfigError listing them."""
    choices = list(choices)
    if value not in choices:
        raise ConfigError(
            f"The '{name}' parameter of {owner} must be one of {', '.join(map(repr, choices))}. "
            f"Got {value!r} instead."
        )
    return value


def reject_unknown(owner: str, given: Mapping | Iterable[str], known: Iterable[str]) -> None:
    """Raise ConfigError naming the keys of ``given`` that are not in ``known``."""
    known = list(known)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(
            f"Unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for {owner}; expected one of: {', '.join(known) or '(none)'}."
        )
