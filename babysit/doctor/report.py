"""The doctor's text report: one row per check (mark, name, measured value, one-line explanation), advice below."""

from __future__ import annotations

import math

MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}
ASCII_MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def marks_for(encoding: str | None) -> dict[str, str]:
    """The ✓/!/✗ marks when ``encoding`` can write them, else PASS/WARN/FAIL."""
    try:
        "".join(MARKS.values()).encode(encoding or "ascii")
        return MARKS
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS


def format_value(finding) -> str:
    """A short rendering of a finding's value, suited to its check."""
    v = finding.value
    if v is None:
        return "-"
    if finding.check == "overfit_small" and isinstance(v, (int, float)):
        return f"{v:.0%} train"
    if finding.check == "lr_range" and isinstance(v, (list, tuple)) and len(v) == 2:
        return f"lr {v[0]:g} .. {v[1]:g}"
    if finding.check == "activation_stats" and isinstance(v, dict):
        stds = list(v.values())
        if not stds:
            return "-"
        return f"std {stds[0]:.2g}" if len(stds) == 1 else f"std {stds[0]:.2g} .. {stds[-1]:.2g}"
    if isinstance(v, dict):
        nums = [x for x in v.values() if isinstance(x, (int, float)) and not math.isnan(x)]
        if not nums:
            return "-"
        lo, hi = min(nums), max(nums)
        return f"{lo:.1e}" if lo == hi else f"{lo:.1e} .. {hi:.1e}"
    if isinstance(v, float):
        return f"{v:.2e}" if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5) else f"{v:.4g}"
    return str(v)


def format_row(finding, marks) -> str:
    conf = f" [{finding.cause}, confidence {finding.confidence:.2f}]" if (
        getattr(finding, "cause", None) and finding.check == "diagnosis") else ""
    return f"  {marks[finding.status]:<4} {finding.check:<17} {format_value(finding):<20} {finding.explanation}{conf}"


def format_advice(findings, flags=None) -> list[str]:
    """The 'What to do' lines; ``flags`` (library parameter -> CLI flag) words the advice for the command line,
    None for Python (see ``babysit.doctor.advice``)."""
    from babysit.doctor.advice import in_words

    lines = [f"  {f.check}: {in_words(f.advice, flags)}" for f in findings if f.status != "pass" and f.advice]
    return ["", "What to do:", *lines] if lines else []


def format_summary(findings, seconds: float) -> str:
    counts = {s: sum(f.status == s for f in findings) for s in ("pass", "warn", "fail")}
    return (f"{len(findings)} check(s): {counts['pass']} passed, {counts['warn']} warning(s), "
            f"{counts['fail']} failed ({seconds:.1f} s)")
