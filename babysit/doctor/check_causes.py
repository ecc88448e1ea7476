"""The cause (``babysit.doctor.causes``) each doctor check's finding points to, from its status and details.

``attach_cause(finding)`` sets ``cause``, ``confidence`` and ``evidence`` on a check's Finding in place:
a passing check says ``healthy`` (for what it looks at); a failing one names the cause its
measurement implies, with a confidence that says how directly (a failed gradient check is a broken
backward; an lr probe that never helps only suggests vanishing gradients). A crashed check keeps
no cause: the vocabulary has no word for it.
"""

from __future__ import annotations

import functools

from babysit.doctor.finding import Finding

INPUT_STD_FAR = 3.0  # the same "far from unit scale" as the run diagnosis (cause_rules.Thresholds.input_std_far)

ACTIVATION_KINDS = {"dead": "dead_units", "saturated": "init_too_large", "vanishing": "init_too_small",
                    "exploding": "init_too_large", "symmetric": "init_too_small"}


def _off_scale(details) -> bool:
    std = details.get("input_std")
    return std is not None and (std > INPUT_STD_FAR or std < 1 / INPUT_STD_FAR)


def attach_cause(f: Finding) -> Finding:
    if f.cause is not None or f.value is None and f.status == "fail" and "crashed" in f.explanation:
        return f
    d = f.details or {}
    if f.status == "pass":
        return f.with_cause("healthy", 0.8, {"check": f.check, "value": f.value})
    ev = {"check": f.check, "value": f.value}
    if f.check == "initial_loss":
        ln_c = d.get("ln_c") or 0.0
        if f.value is not None and f.value < 0.8 * ln_c:
            return f  # below chance: a leak or a wrong loss, which the vocabulary does not name
        cause = "unnormalized_input" if _off_scale(d) else "init_too_large"
        return f.with_cause(cause, 0.8, {**ev, "ln_c": ln_c, "input_std": d.get("input_std")})
    if f.check in ("gradient_check", "regularization"):
        return f.with_cause("broken_gradient", 0.95 if f.status == "fail" else 0.5, ev)
    if f.check == "overfit_small":
        return f.with_cause("broken_gradient", 0.4, ev)  # the lecture: cannot overfit 20 examples -> something broken
    if f.check == "lr_range":
        verdicts = [p["verdict"] for p in d.get("probes", [])]
        if verdicts and all(v == "too_high" for v in verdicts):
            return f.with_cause("init_too_large", 0.5, {**ev, "verdicts": verdicts})
        return f.with_cause("init_too_small", 0.4, {**ev, "verdicts": verdicts})
    if f.check == "activation_stats":
        problems = d.get("problems") or []
        kinds = [p.get("kind") for p in problems]
        worst = next((k for k in kinds if k in ACTIVATION_KINDS), None)
        if worst:
            return f.with_cause(ACTIVATION_KINDS[worst], 0.7, {**ev, "problems": kinds})
        return f
    if f.check == "input_baseline":
        return f.with_cause("no_signal", 0.85, {**ev, "real_acc": d.get("real_acc"), "zero_acc": d.get("zero_acc")})
    if f.check == "update_ratio":
        text = f.explanation
        cause = ("lr_too_high" if "too fast" in text and "too slow" not in text else
                 "lr_too_low" if "too slow" in text and "too fast" not in text else "init_too_small")
        return f.with_cause(cause, 0.6, ev)
    return f


def with_cause(check):
    """Decorator: the check's Finding comes back with its cause attached (``attach_cause``)."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        return attach_cause(check(*args, **kwargs))
    return run
