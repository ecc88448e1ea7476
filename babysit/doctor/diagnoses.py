"""End-of-run diagnoses: read the recorded curves the way the lecture reads them, and say it in words.

- ``diagnose_loss_curve``: flat (lr too low), exploding (lr too high), a long
  plateau then a drop (bad initialization, the lecture's "prime suspect"), fast
  drop then stuck high (lr a bit high), or healthy.
- ``diagnose_accuracy_gap``: big train/val gap (overfitting: more regularization)
  or none (more capacity).
- ``diagnose_update_ratios``: update/weight ratios far from ~1e-3.
- ``diagnose_units``: units that died or saturated during training.
- ``diagnose_cause``: the one cause (``babysit.doctor.causes``) that all the evidence together
  points to, with a confidence, the evidence and advice that never repeats the run's setting.

Each returns a Finding; ``diagnose_run`` returns all that apply, the combined 'diagnosis' last
(the single signals keep their explanation; only the diagnosis advises, so that the rows
cannot contradict each other).
"""

from __future__ import annotations

import math

import numpy as np

from babysit.doctor.advice import setting
from babysit.doctor.finding import Finding
from babysit.doctor.update_ratio_check import RATIO_BAND, RATIO_FAIL

FLAT_DROP = 0.01  # a run whose loss fell < 1% did not learn
GAP_OVERFIT = 0.10  # train - val accuracy above this: overfitting
GAP_NONE = 0.02  # below this: no gap
PLATEAU_FRACTION = 0.2  # the loss sat at its start value for >= 20% of the run before dropping
PLATEAU_TOLERANCE = 0.03  # "at its start value": within 3%
PLATEAU_MIN_ITERATIONS = 6  # a few flat steps at the start are momentum warming up, not a bad init


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average with a window of ``window`` (edges use the available points): tames minibatch noise."""
    if window <= 1 or len(values) < 3:
        return values
    kernel = np.ones(window)
    sums = np.convolve(values, kernel, mode="same")
    counts = np.convolve(np.ones_like(values), kernel, mode="same")
    return sums / counts


def diagnose_loss_curve(loss_history) -> Finding:
    """Classify the per-iteration loss curve.

    Inputs: loss_history, the loss per iteration (NaN/inf allowed).
    Returns: a Finding 'loss_curve' whose value is 'decreasing' | 'flat' | 'exploding' |
    'plateau_then_drop' | 'stuck_high' | 'too_short'; details hold start, end and the iteration of note.
    """
    L = np.asarray(list(loss_history), dtype=np.float64)
    n = len(L)
    expected = "a steadily decreasing loss"
    if n < 5:
        return Finding("loss_curve", "warn", "too_short", expected,
                       f"only {n} iteration(s) recorded: too few to read a curve", "train for more iterations",
                       {"iterations": n})
    bad = np.flatnonzero(~np.isfinite(L))
    if len(bad):
        i = int(bad[0])
        return Finding("loss_curve", "fail", "exploding", expected,
                       f"the loss became {L[i]} at iteration {i + 1}: NaN/inf almost always means the learning "
                       "rate is too high", "lower the learning rate (10x), and check the initial loss",
                       {"iterations": n, "nonfinite_at": i + 1}, cause="lr_too_high", confidence=0.8,
                       evidence={"nonfinite_at": i + 1})
    head = max(1, n // 20)
    start = float(np.mean(L[:head]))
    window = max(1, n // 25)
    smooth = _smooth(L, window)
    end = float(np.mean(L[-max(1, n // 10):]))
    details = {"iterations": n, "start": start, "end": end}
    peak = int(np.argmax(L))
    if L[peak] > 3 * L[0] or end > start * 1.1:
        details["peak_at"] = peak + 1
        return Finding("loss_curve", "fail", "exploding", expected,
                       f"the loss rises from {start:.4g} to {end:.4g} (peak {L[peak]:.4g} at iteration {peak + 1}): "
                       "the learning rate is too high", "lower the learning rate (10x)", details,
                       cause="lr_too_high", confidence=0.7, evidence=dict(details))
    drop = start - end
    if drop < FLAT_DROP * abs(start):
        return Finding("loss_curve", "fail", "flat", expected,
                       f"the loss barely changes ({start:.4g} -> {end:.4g}) over {n} iterations: the learning "
                       "rate is probably too low", "raise the learning rate (10x); if no rate helps, check the "
                       "initialization (activation_stats)", details, cause="lr_too_low", confidence=0.5,
                       evidence=dict(details))
    # plateau then drop: the smoothed loss stays at its start value, then falls
    reached = np.flatnonzero(smooth < start - 0.1 * drop)
    t_drop = int(reached[0]) if len(reached) else n
    plateau = smooth[:max(1, t_drop - window)]  # the last window already averages in the drop
    if (t_drop >= PLATEAU_FRACTION * n and t_drop >= PLATEAU_MIN_ITERATIONS and drop > 0.1 * abs(start)
            and np.all(np.abs(plateau - start) <= PLATEAU_TOLERANCE * abs(start))):
        details["drop_at"] = t_drop + 1
        return Finding("loss_curve", "warn", "plateau_then_drop", expected,
                       f"the loss sits at {start:.4g} for {t_drop} of {n} iterations, then drops to {end:.4g}: "
                       "a long plateau at the start means a bad initialization (the lecture's prime suspect)",
                       f"initialize by fan-in ({setting('init', 'he')} for ReLU, xavier for tanh), or add batchnorm",
                       details, cause="init_too_small", confidence=0.4, evidence=dict(details))
    # fast drop, then stuck high: most of the progress in the first 10%, then a flat tail well above 0
    early = float(smooth[max(1, n // 10) - 1])
    tail = smooth[n // 2:]
    tail_change = (float(tail[0]) - float(tail[-1])) / abs(start)
    if (start - early) > 0.6 * drop and end > 0.5 * start and tail_change < 0.02:
        return Finding("loss_curve", "warn", "stuck_high", expected,
                       f"the loss drops fast ({start:.4g} -> {early:.4g} in the first {max(1, n // 10)} iterations) "
                       f"then stalls at {end:.4g}: the learning rate is a bit high", "lower the learning rate "
                       f"or decay it ({setting('schedule', 'cosine')})", details, cause="lr_slightly_high",
                       confidence=0.4, evidence=dict(details))
    return Finding("loss_curve", "pass", "decreasing", expected,
                   f"the loss goes down from {start:.4g} to {end:.4g} over {n} iterations", "", details)


def diagnose_accuracy_gap(train_acc_history, val_acc_history) -> Finding:
    """Compare the final train and validation accuracy (the lecture: big gap = overfitting, no gap = add capacity).

    Returns: a Finding 'accuracy_gap' whose value is train - val at the last epoch.
    """
    train, val = list(train_acc_history), list(val_acc_history)
    expected = f"a small positive gap (0 .. {GAP_OVERFIT:.0%})"
    if not train or not val:
        return Finding("accuracy_gap", "warn", None, expected, "no epoch finished: no accuracy to compare",
                       "train for at least one epoch", {})
    t, v = float(train[-1]), float(val[-1])
    gap = t - v
    details = {"train_acc": t, "val_acc": v, "epochs": len(train)}
    if gap > GAP_OVERFIT:
        return Finding("accuracy_gap", "warn", gap, expected,
                       f"train accuracy {t:.1%} vs validation {v:.1%}: a {gap:.0%} gap is overfitting",
                       "increase the regularization strength (reg), add dropout, or get more data", details,
                       cause="overfitting", confidence=0.6, evidence=dict(details))
    if abs(gap) <= GAP_NONE and t < 0.99:
        return Finding("accuracy_gap", "warn", gap, expected,
                       f"train accuracy {t:.1%} vs validation {v:.1%}: no gap, the model does not fit the "
                       "training data better than unseen data (too small, held back by the learning rate or "
                       "the regularization, or not trained long enough)", "increase the model capacity (wider or "
                       "more layers), or lower the regularization", details)
    return Finding("accuracy_gap", "pass", gap, expected,
                   f"train accuracy {t:.1%} vs validation {v:.1%}: a healthy gap", "", details)


def diagnose_update_ratios(update_ratio_history, lr_history=None, loss_history=None) -> Finding:
    """The update/weight ratio over the WHOLE run, per parameter, against the lecture's ~1e-3.

    Each parameter's value is its median over all samples; the verdict also says which share
    of the run sat below 1e-4 and, when the ratio fell there, why: the learning rate was
    decayed by then (``lr_history``), the loss had converged (``loss_history``), or neither
    (the rate is too low).

    Inputs: the ``history`` of an UpdateRatioMonitor ({'iteration': [...], 'params': {name: [...]}});
    optionally the run's lr and loss per iteration.
    Returns: a Finding 'update_ratios' whose value maps parameter -> median ratio over the run.
    """
    from babysit.doctor.run_evidence import loss_evidence, ratio_evidence

    params = (update_ratio_history or {}).get("params", {})
    medians = {}
    for name, values in params.items():
        vals = [float(v) for v in values if not math.isnan(float(v))]
        if vals:
            medians[name] = float(np.median(vals))
    expected = f"about 1e-3 (within [{RATIO_BAND[0]:g}, {RATIO_BAND[1]:g}]) for most of the run"
    if not medians:
        return Finding("update_ratios", "warn", medians, expected, "no update ratios were recorded",
                       f"train with the monitors on ({setting('monitor_every', 10)})", {})
    ev = ratio_evidence(update_ratio_history, lr_history)
    low_share = ev.get("ratio_low_share") or 0.0
    why, explained = "", False
    if ev.get("ratio_low_from") is not None and low_share > 0:
        why = f"; it fell below 1e-4 from iteration {ev['ratio_low_from']} on ({low_share:.0%} of the samples)"
        decayed = ev.get("lr_decayed_at_low")
        converged = None
        if loss_history is not None and len(loss_history) >= 5:
            le = loss_evidence(loss_history, None)
            converged = le.get("end") is not None and le.get("late_share", 1.0) < 0.05
        if decayed is not None and decayed < 0.3:
            why += f", by when the learning rate had been decayed to {decayed:.0%} of its start (decay, by design)"
            explained = True
        elif converged:
            why += ", when the loss had converged (little left to learn)"
            explained = True
        else:
            why += ": neither decay nor convergence explains it, so the learning rate is too low"
    high = {n: r for n, r in medians.items() if r > RATIO_BAND[1]}
    low = {n: r for n, r in medians.items() if r < RATIO_BAND[0]}
    details = {k: v for k, v in ev.items()}
    last = list(medians)[-1]
    if list(high) == [last] and len(medians) > 1 and not low and high[last] < RATIO_FAIL[1]:
        # the classifier layer starts small (first loss ~ln C, nn.models.CLASSIFIER_SCALE) and grows: its
        # updates are large relative to its size while the hidden layers move at the lecture's rate
        others = {n: r for n, r in medians.items() if n != last}
        return Finding("update_ratios", "pass", medians, expected,
                       f"over the whole run, the hidden layers' updates were {min(others.values()):.1e} .. "
                       f"{max(others.values()):.1e} of their weights per step (median): around the lecture's 1e-3; "
                       f"the classifier layer {last} moved {high[last]:.1e}, fast relative to its size because it "
                       f"is initialized small{why}", "", details)
    if not high and not low:
        return Finding("update_ratios", "pass", medians, expected,
                       f"over the whole run, updates were {min(medians.values()):.1e} .. {max(medians.values()):.1e} "
                       f"of the weights per step (median): around the lecture's 1e-3{why}", "", details)
    bad = any(r > RATIO_FAIL[1] for r in high.values()) or any(r < RATIO_FAIL[0] for r in low.values())
    parts = []
    if high:
        parts.append(f"{', '.join(high)} moved {max(high.values()):.1e} of their size per step (too fast)")
    if low:
        parts.append(f"{', '.join(low)} moved only {min(low.values()):.1e} per step (too slow)")
    advice = ("lower the learning rate" if high and not low else "raise the learning rate" if low and not high
              else "layers learn at very different speeds: fix the initialization or add batchnorm")
    cause = "lr_too_high" if high and not low else "lr_too_low" if low and not high else None
    if low and not high and explained:  # the ratio fell by design or because the work was done
        cause, bad = None, False
    f = Finding("update_ratios", "fail" if bad else "warn", medians, expected,
                "; ".join(parts) + f" over the whole run (median; the lecture wants ~1e-3){why}", advice, details)
    return f.with_cause(cause, 0.5, {"ratio_median": ev.get("ratio_median")}) if cause else f


def diagnose_units(activation_history) -> Finding:
    """Dead or saturated units at the end of training, from an ActivationMonitor's history.

    Returns: a Finding 'unit_health' whose value maps layer -> {'dead', 'saturated'} (last sample).
    """
    layers = (activation_history or {}).get("layers", {})
    value, problems, cause = {}, [], None
    for label, series in layers.items():
        dead = series.get("dead", [])
        sat = series.get("saturated", [])
        last_dead = dead[-1] if dead else None
        last_sat = sat[-1] if sat else None
        value[label] = {"dead": last_dead, "saturated": last_sat}
        if last_dead is not None and last_dead > 0.5:
            first = dead[0] if dead[0] is not None else 0.0
            problems.append(f"{last_dead:.0%} of the units of {label} are dead (at the start: {first:.0%})")
            cause = cause or "dead_units"
        if last_sat is not None and last_sat > 0.5:
            problems.append(f"{last_sat:.0%} of the activations of {label} are saturated")
            cause = cause or "saturated_units"
    expected = "most units alive and unsaturated"
    if not value:
        return Finding("unit_health", "warn", value, expected, "no activation statistics were recorded",
                       f"train with the monitors on ({setting('monitor_every', 10)})", {})
    if not problems:
        return Finding("unit_health", "pass", value, expected, "units stayed alive and unsaturated", "", {})
    return Finding("unit_health", "warn", value, expected, "; ".join(problems),
                   "dead ReLUs after training usually mean the learning rate was too high; saturation means "
                   "the weights grew too large (lower lr, more regularization, or batchnorm)", {},
                   cause=cause, confidence=0.6, evidence={"units": value})


def diagnose_run(loss_history, train_acc_history=(), val_acc_history=(), monitor_history=None, *,
                 settings=None, num_classes=None, lr_history=None, X_train=None, status=None,
                 checks=()) -> list[Finding]:
    """All diagnoses that the recorded data allows, and the cause they point to together.

    Inputs: loss per iteration; train/val accuracy per epoch; monitor_history, a
    TrainingMonitor's ``history`` (optional); settings, the run's TrainConfig as a dict (the
    advice never repeats them); num_classes; lr_history (per iteration); X_train, the inputs
    as the model saw them (a sample is enough); status, the Solver's; checks, doctor Findings
    about the same setup (e.g. a gradient_check) to weigh in.
    Returns: [loss_curve, accuracy_gap (if accuracies), update_ratios and unit_health (if
    monitored), diagnosis]; the single signals' advice is left to the diagnosis.
    """
    from babysit.doctor.cause_rules import diagnose_cause
    from babysit.doctor.run_evidence import run_evidence

    findings = [diagnose_loss_curve(loss_history)]
    if len(train_acc_history) and len(val_acc_history):
        findings.append(diagnose_accuracy_gap(train_acc_history, val_acc_history))
    if monitor_history:
        if monitor_history.get("update_ratio", {}).get("iteration"):
            findings.append(diagnose_update_ratios(monitor_history["update_ratio"], lr_history, loss_history))
        if monitor_history.get("activations", {}).get("iteration"):
            findings.append(diagnose_units(monitor_history["activations"]))
    evidence = run_evidence(loss_history, train_acc_history, val_acc_history, monitor_history,
                            num_classes=num_classes, lr_history=lr_history, X_train=X_train, status=status)
    diagnosis = diagnose_cause(evidence, settings or {}, checks=checks, monitored=bool(monitor_history))
    for f in findings:
        f.advice = ""
    return [*findings, diagnosis]


def diagnose_solver(solver, monitor=None, *, settings=None, checks=()) -> list[Finding]:
    """``diagnose_run`` on a trained Solver's histories (and a TrainingMonitor's, if given)."""
    return diagnose_run(solver.loss_history, solver.train_acc_history, solver.val_acc_history,
                        monitor.history if monitor is not None else None, settings=settings,
                        num_classes=getattr(solver.model, "num_classes", None),
                        lr_history=getattr(solver, "lr_history", None), X_train=getattr(solver, "X_train", None),
                        status=getattr(solver, "status", None), checks=checks)
