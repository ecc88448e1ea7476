"""Advice in the words of the user's interface: CLI flags for the command line, arguments for Python.

A diagnosis names the settings it advises with ``setting('lr', 0.05)``, a marker inside the
advice text (```lr=0.05```). ``in_words(text, flags)`` renders the markers: with the CLI's
``flags`` (library parameter -> flag, as ``cli.main`` builds them for error messages) a
marker becomes ``--lr 0.05``; without, the Python argument ``lr=0.05`` (a ``TrainConfig`` field).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MARKER = re.compile(r"`(\w+)=([^`]*)`")


def setting(name: str, value) -> str:
    """The marker for "set ``name`` to ``value``" inside advice text."""
    return f"`{name}={format_setting(value)}`"


def format_setting(value) -> str:
    if isinstance(value, float):
        return f"{value:.2g}"
    return str(value)


def in_words(text: str, flags: Mapping[str, str] | None = None) -> str:
    """``text`` with its setting markers in the interface's words (``flags`` given: CLI flags)."""
    if not text:
        return text

    def render(match):
        name, value = match.group(1), match.group(2)
        if flags is None:
            return f"{name}={value!r}" if not _plain(value) else f"{name}={value}"
        flag = flags.get(name)
        return f"{flag} {value}" if flag else f"{name}={value}"

    return MARKER.sub(render, text)


def settings_named(text: str) -> dict[str, str]:
    """The settings a piece of advice asks for: {name: value as written}."""
    return {m.group(1): m.group(2) for m in MARKER.finditer(text or "")}


def _plain(value: str) -> bool:
    """Whether ``value`` reads as a Python literal (a number, True/False/None) rather than a string."""
    if value in ("True", "False", "None"):
        return True
    try:
        float(value)
        return True
    except ValueError:
        return False
