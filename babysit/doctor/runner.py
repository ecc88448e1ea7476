"""The check registry and ``run_doctor``: the lecture's sanity checks, in the lecture's order."""

from __future__ import annotations

import contextlib
import time

from threadpoolctl import threadpool_limits

from babysit.doctor.activation_check import activation_stats
from babysit.doctor.baseline_check import input_baseline
from babysit.doctor.check_causes import attach_cause
from babysit.doctor.finding import Finding
from babysit.doctor.gradient_check import gradient_check
from babysit.doctor.initial_checks import initial_loss, regularization
from babysit.doctor.inputs import as_dataset, as_model_factory
from babysit.doctor.lr_range_check import lr_range
from babysit.doctor.overfit_check import overfit_small
from babysit.doctor.short_runs import DEFAULT_LR
from babysit.doctor.update_ratio_check import update_ratio
from babysit.errors import BabysitError, ConfigError

CHECKS = {
    "initial_loss": initial_loss,
    "regularization": regularization,
    "gradient_check": gradient_check,
    "overfit_small": overfit_small,
    "lr_range": lr_range,
    "activation_stats": activation_stats,
    "update_ratio": update_ratio,
    "input_baseline": input_baseline,
}


def resolve_checks(checks=None) -> list[str]:
    """Validate check names (a list or a comma-separated string); None means all, in registry order."""
    if checks is None:
        return list(CHECKS)
    names = [c.strip() for c in checks.split(",")] if isinstance(checks, str) else [str(c).strip() for c in checks]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ConfigError(f"unknown check{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))}; expected any of {', '.join(CHECKS)}", parameter="checks")
    if not names:
        raise ConfigError(f"no check named; expected any of {', '.join(CHECKS)}", parameter="checks")
    return list(dict.fromkeys(names))


def run_doctor(model_factory, data, checks=None, seed=0, *, lr: float | None = None, update_rule: str = "sgd",
               batch_size: int = 100, on_finding=None, blas_threads: int | None = 1) -> list[Finding]:
    """Run the named checks (default: all) on fresh models from ``model_factory``; returns their Findings.

    Inputs: model_factory, a callable ``make(**overrides) -> model`` (called with no arguments,
    and with dtype=np.float64 for the gradient check) or a model to copy; data, a Dataset, a dict
    with X_train/y_train/X_val/y_val (preprocessed) or (X, y); checks, names or 'a,b'; seed;
    lr, a learning rate to judge (else ``lr_range``'s suggestion is used by ``update_ratio``
    and ``overfit_small`` starts from 1e-2); update_rule and batch_size for the short runs;
    on_finding, called with each Finding as it is ready (for progress output); blas_threads,
    the BLAS thread cap while checking (default 1: the checks' batches are small, and on a
    busy machine oversubscribed BLAS threads made them 10-25x slower; None leaves it alone).
    Each finding's details get 'seconds'. A check that crashes becomes a 'fail' finding
    naming the error; errors in the user's input (BabysitError) propagate.
    """
    names = resolve_checks(checks)
    data = as_dataset(data)
    factory = as_model_factory(model_factory)
    limit = (threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads
             else contextlib.nullcontext())
    with limit:
        return _run_checks(names, factory, data, seed, lr, update_rule, batch_size, on_finding)


def _run_checks(names, factory, data, seed, lr, update_rule, batch_size, on_finding) -> list[Finding]:
    findings, suggested, probed = [], None, False
    for name in names:
        start = time.perf_counter()
        kwargs = {"seed": seed}
        if name in ("lr_range", "update_ratio"):
            kwargs.update(update_rule=update_rule, batch_size=batch_size)
        if name in ("overfit_small", "input_baseline") and lr is not None:
            kwargs["lr"] = lr
        if name == "input_baseline":
            kwargs.update(update_rule=update_rule, batch_size=batch_size)
            if lr is None and suggested:
                kwargs["lr"] = suggested
        if name == "update_ratio":
            if lr is not None:
                kwargs.update(lr=lr, lr_source="the given --lr")
            else:
                if not probed:  # update_ratio asked for without lr_range: probe quietly
                    suggested = _call(lr_range, "lr_range", factory, data, kwargs).details.get("suggested_lr")
                    probed = True
                kwargs.update(lr=suggested or DEFAULT_LR,
                              lr_source="lr_range's suggestion" if suggested else
                              "a default: lr_range found no working rate")
        finding = attach_cause(_call(CHECKS[name], name, factory, data, kwargs))
        if name == "lr_range":
            suggested, probed = finding.details.get("suggested_lr"), True
        finding.details["seconds"] = round(time.perf_counter() - start, 3)
        findings.append(finding)
        if on_finding is not None:
            on_finding(finding)
    return findings


def _call(check, name, factory, data, kwargs) -> Finding:
    try:
        return check(factory, data, **kwargs)
    except BabysitError:
        raise
    except Exception as exc:  # a broken model is what the doctor is for: report, don't crash
        return Finding(name, "fail", None, "the check runs", f"the check crashed: {type(exc).__name__}: {exc}",
                       "run the model's forward/backward by hand on a small batch to find the failing layer")
