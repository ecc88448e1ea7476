"""The ``Finding``: what one check or diagnosis measured, and what it means in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from babysit.fileio import to_jsonable

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

    def to_dict(self) -> dict:
        """A JSON-able dict (NumPy values become Python ones; NaN and ±inf become None: strict JSON)."""
        return {
            "check": self.check, "status": self.status, "value": to_jsonable(self.value),
            "expected": to_jsonable(self.expected), "explanation": self.explanation, "advice": self.advice,
            "details": to_jsonable(self.details),
        }


def worst_status(findings) -> str:
    """'fail' if any finding failed, else 'warn' if any warned, else 'pass'."""
    statuses = {f.status for f in findings}
    return next((s for s in ("fail", "warn") if s in statuses), "pass")
