"""The ``Finding``: what one check or diagnosis measured, and what it means in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from babysit.doctor.causes import check_cause
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
        cause: why, from the vocabulary of ``babysit.doctor.causes`` (None: the check names none).
        confidence: 0..1, how sure the evidence makes the cause (None with no cause).
        evidence: which monitor or check said so, with its numbers (JSON-able).

    ``advice`` names settings with ``babysit.doctor.advice.setting`` markers; render it
    for the user's interface with ``advice.in_words`` (CLI flags or Python arguments).
    """

    check: str
    status: str
    value: Any
    expected: Any
    explanation: str
    advice: str = ""
    details: dict = field(default_factory=dict)
    cause: str | None = None
    confidence: float | None = None
    evidence: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Finding.status must be one of {', '.join(STATUSES)}; got {self.status!r}")
        check_cause(self.cause)
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Finding.confidence must be in [0, 1]; got {self.confidence!r}")

    def to_dict(self) -> dict:
        """A JSON-able dict (NumPy values become Python ones; NaN and ±inf become None: strict JSON).

        cause, confidence and evidence are also kept inside ``details`` (the store's contract:
        no schema change), when the finding names a cause.
        """
        details = dict(self.details)
        if self.cause is not None:
            details.update(cause=self.cause, confidence=self.confidence, evidence=self.evidence)
        return {
            "check": self.check, "status": self.status, "value": to_jsonable(self.value),
            "expected": to_jsonable(self.expected), "explanation": self.explanation, "advice": self.advice,
            "details": to_jsonable(details), "cause": self.cause, "confidence": to_jsonable(self.confidence),
            "evidence": to_jsonable(self.evidence),
        }

    def with_cause(self, cause: str, confidence: float, evidence: dict | None = None) -> Finding:
        """This finding with ``cause``, ``confidence`` and ``evidence`` set (in place; returns it)."""
        self.cause, self.confidence = check_cause(cause), float(confidence)
        self.evidence = dict(evidence or {})
        self.__post_init__()
        return self


def worst_status(findings) -> str:
    """'fail' if any finding failed, else 'warn' if any warned, else 'pass'."""
    statuses = {f.status for f in findings}
    return next((s for s in ("fail", "warn") if s in statuses), "pass")
