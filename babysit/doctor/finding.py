"""The ``Finding``: what one check or diagnosis measured, and what it means in plain words."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUSES = ("pass", "warn", "fail")


@dataclass
class Finding:
    """The outcome of one check.

    Attributes:
        check: the check's registered name (e.g. 'initial_loss').
        status: 'pass' | 'warn' | 'fail'.
        value: what was measured (a number, a range, a per-parameter dict...).
        expected: what a healthy setup gives, in words or numbers.
        explanation: one line saying what the measurement means.
        advice: what to do about it ('' when nothing needs doing).
        details: JSON-able extras (probes, per-layer statistics, curves for plots).
    """

    check: str
    status: str
    value: Any
    expected: Any
    explanation: str
    advice: str = ""
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Finding.status must be one of {', '.join(STATUSES)}; got {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict:
        """A JSON-able dict (NumPy values become Python ones; NaN/inf become the strings 'nan'/'inf')."""
        return {
            "check": self.check, "status": self.status, "value": to_jsonable(self.value),
            "expected": to_jsonable(self.expected), "explanation": self.explanation, "advice": self.advice,
            "details": to_jsonable(self.details),
        }


def to_jsonable(obj):
    """Convert NumPy scalars/arrays, tuples and non-finite floats into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    return obj


def worst_status(findings) -> str:
    """'fail' if any finding failed, else 'warn' if any warned, else 'pass'."""
    statuses = {f.status for f in findings}
    return next((s for s in ("fail", "warn") if s in statuses), "pass")
