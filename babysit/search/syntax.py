"""The command-line text of a search space: ``parse_space`` reads it, ``format_space`` writes it.

    1e-6:1e-3:log -> LogUniform      0:0.5 or 0:0.5:lin -> Uniform
    64:512:int    -> IntUniform      50,100,200 -> Choice (one value: a one-option Choice)

Both sit together so the round trip stays exact: ``parse_space(name, format_space(s)) == s``.
"""

from __future__ import annotations

import math

from babysit.errors import ConfigError
from babysit.search.hyperparameters import Hyperparameter, hyperparameter, why_refused
from babysit.search.spaces import Choice, IntUniform, LogUniform, Space, Uniform, option_text
from babysit.validation import invalid

_FORMS = {
    "float": "LOW:HIGH:log, LOW:HIGH[:lin] or a list A,B,C",
    "int": "LOW:HIGH[:int] or a list A,B,C",
    "option": "a list A,B,C",
}
_SCALES = {LogUniform.kind: "log", Uniform.kind: "lin", IntUniform.kind: "int"}


class _Malformed(Exception):
    """A reason why a range text is malformed; parse_space puts it into the ConfigError."""


def parse_space(name: str, text: str) -> Space:
    """The space written as ``text`` for hyperparameter ``name``.

    Raises ConfigError with ``parameter`` = ``name`` (owner parse_space), the forms it may
    take and why ``text`` is not one of them.
    """
    hp = hyperparameter(name)
    text = str(text).strip()
    try:
        space = _parse_range(hp, text) if ":" in text else _parse_list(hp, text)
    except _Malformed as reason:
        raise invalid("parse_space", name, f"{_FORMS[hp.kind]} of {hp.allowed()} ({reason})", text) from None
    refused = hp.refused(space)  # values outside the hyperparameter's limits
    if refused:
        raise invalid("parse_space", name, f"{_FORMS[hp.kind]} of {hp.allowed()} ({why_refused(hp, refused)})", text)
    return space


def format_space(space: Space) -> str:
    """The text ``parse_space`` reads back into ``space``: '1e-06:0.001:log', '0.0:0.5:lin', '64:512:int', 'a,b'."""
    if isinstance(space, Choice):
        return ",".join(option_text(o) for o in space.options)
    return f"{space.low!r}:{space.high!r}:{_SCALES[space.kind]}"


def _parse_range(hp: Hyperparameter, text: str) -> Space:
    if hp.kind == "option":
        raise _Malformed("not a range")
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3):
        raise _Malformed("a range has the form LOW:HIGH[:SCALE]")
    scale = parts[2].lower() if len(parts) == 3 else ("int" if hp.kind == "int" else "lin")
    if scale not in ("log", "lin", "int"):
        raise _Malformed(f"unknown scale {parts[2]!r}")
    if hp.kind == "int":
        if scale == "log":
            raise _Malformed(f"{hp.name} is an integer: not a log range")
        return _build(IntUniform, [_parse_int(p) for p in parts[:2]], "an integer range needs low < high")
    if scale == "int":
        raise _Malformed("the int scale is for integer hyperparameters")
    if scale == "log":
        return _build(LogUniform, [_parse_float(p) for p in parts[:2]], "a log range needs 0 < low < high")
    return _build(Uniform, [_parse_float(p) for p in parts[:2]], "a range needs low < high")


def _build(cls, bounds: list, reason: str) -> Space:
    # the bounds are finite numbers here, so the space refuses them only for the reason given
    try:
        return cls(*bounds)
    except ConfigError:
        raise _Malformed(reason) from None


def _parse_list(hp: Hyperparameter, text: str) -> Choice:
    items = [p.strip() for p in text.split(",")]
    if any(not item for item in items):
        raise _Malformed("empty value in the list")
    if hp.kind == "option":
        by_text = {option_text(o): o for o in hp.options}
        unknown = [i for i in items if i.lower() not in by_text]
        if unknown:
            raise _Malformed(f"unknown {hp.name} {unknown[0]!r}")
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
