"""The numbers a run's diagnosis is read from: loss curve, accuracies, update ratios over the whole run,
activation and weight statistics, the input's scale, and the run's own settings.

``run_evidence(...)`` returns a flat dict of plain floats (and a few strings): it is what a
diagnosis quotes as its ``evidence`` and what ``babysit.doctor.diagnoses.diagnose_cause``
decides from. Every value may be None when the run did not record what it needs.
"""

from __future__ import annotations

import math

import numpy as np

LOW_RATIO, HIGH_RATIO = 1e-4, 1e-2  # the lecture wants ~1e-3


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else None


def _segment(L: np.ndarray, lo: float, hi: float) -> float:
    n = len(L)
    a, b = int(lo * n), max(int(lo * n) + 1, int(hi * n))
    return float(np.mean(L[a:b]))


def loss_evidence(loss_history, num_classes: int | None) -> dict:
    """Start, end, relative drop, late drop (the last 30%'s share of the whole drop), tail noise, explosion."""
    L = np.asarray(list(loss_history), dtype=np.float64)
    ev = {"iterations": int(len(L)), "loss_first": float(L[0]) if len(L) else None,
          "ln_c": math.log(num_classes) if num_classes else None}
    if len(L) and ev["ln_c"] is not None and math.isfinite(L[0]):
        ev["init_excess"] = float(L[0]) - ev["ln_c"]
    bad = np.flatnonzero(~np.isfinite(L))
    ev["nonfinite_at"] = int(bad[0]) + 1 if len(bad) else None
    finite = L[np.isfinite(L)] if len(bad) else L
    if len(finite) < 5:
        return ev
    start = float(np.mean(L[:max(1, len(L) // 20)])) if not len(bad) else float(finite[0])
    end = float(np.mean(finite[-max(1, len(finite) // 10):]))
    ev.update(start=start, end=end, rel_drop=(start - end) / abs(start) if start else 0.0,
              peak_ratio=float(np.max(finite) / finite[0]) if finite[0] > 0 else None)
    drop = start - end
    late = _segment(finite, 0.6, 0.75) - _segment(finite, 0.85, 1.0)
    ev["late_share"] = late / drop if drop > 1e-12 else 0.0  # what share of the run's progress came last
    ev["late_rel_drop"] = late / abs(start) if start else 0.0
    tail = finite[len(finite) // 2:]
    ev["tail_noise"] = float(np.std(np.diff(tail)) / max(np.mean(np.abs(tail)), 1e-12)) if len(tail) > 2 else None
    return ev


def accuracy_evidence(train_acc_history, val_acc_history, num_classes: int | None) -> dict:
    """Final train/val accuracy, chance, the gap, and how much val gained over the last third of the epochs."""
    train, val = list(train_acc_history), list(val_acc_history)
    ev = {"chance": 1.0 / num_classes if num_classes else None, "epochs_done": len(val)}
    if not train or not val:
        return ev
    ev.update(train_acc=float(train[-1]), val_acc=float(val[-1]), best_val=float(max(val)),
              gap=float(train[-1]) - float(val[-1]))
    k = max(1, len(val) // 3)
    ev["val_gain_late"] = float(val[-1]) - float(val[-1 - k]) if len(val) > k else float(val[-1])
    return ev


def ratio_evidence(update_ratio_history, lr_history=None) -> dict:
    """The update/weight ratio over the WHOLE run: median, early and late medians, share of samples
    below 1e-4 and above 1e-2, when it fell below 1e-4, and how far the lr was decayed by then."""
    params = (update_ratio_history or {}).get("params", {})
    its = list((update_ratio_history or {}).get("iteration", []))
    series = [[float(v) for v in vals] for vals in params.values() if len(vals)]
    if not series:
        return {}
    n = min(len(s) for s in series)
    per_step = []
    for t in range(n):  # geometric mean over the weights of each sample
        vals = [s[t] for s in series if math.isfinite(s[t]) and s[t] > 0]
        per_step.append(float(np.exp(np.mean(np.log(vals)))) if vals else math.nan)
    r = np.asarray(per_step)
    ok = r[np.isfinite(r)]
    if not len(ok):
        return {"ratio_median": None}
    fifth = max(1, math.ceil(len(r) / 5))
    ev = {"ratio_median": float(np.median(ok)), "ratio_early": _nanmedian(r[:fifth]),
          "ratio_late": _nanmedian(r[-fifth:]), "ratio_low_share": float(np.mean(ok < LOW_RATIO)),
          "ratio_high_share": float(np.mean(ok > HIGH_RATIO)),
          "ratio_min_layer": float(min(np.nanmedian(np.asarray(s, dtype=float)) for s in series)),
          "ratio_max_layer": float(max(np.nanmedian(np.asarray(s, dtype=float)) for s in series))}
    below = np.flatnonzero(np.isfinite(r) & (r < LOW_RATIO))
    if len(below) and its:
        ev["ratio_low_from"] = int(its[int(below[0])])
    if lr_history:
        lrs = [float(x) for x in lr_history]
        ev["lr_decayed"] = lrs[-1] / lrs[0] if lrs[0] > 0 else None
        if ev.get("ratio_low_from") and ev["ratio_low_from"] - 1 < len(lrs):
            ev["lr_decayed_at_low"] = lrs[ev["ratio_low_from"] - 1] / lrs[0] if lrs[0] > 0 else None
    return ev


def _nanmedian(x) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else None


def activation_evidence(activation_history) -> dict:
    """At the first and last sample: the largest dead and saturated fractions over the layers, and
    the activation std of the last hidden layer against the first's (vanishing / exploding with depth)."""
    layers = (activation_history or {}).get("layers", {})
    if not layers:
        return {}

    def at(key, i):
        vals = [s[key][i] for s in layers.values() if len(s.get(key, [])) and s[key][i] is not None
                and math.isfinite(s[key][i])]
        return max(vals) if vals else None

    stds0 = [s["std"][0] for s in layers.values() if s.get("std")]
    ev = {"layers": len(layers), "dead_start": at("dead", 0), "dead_end": at("dead", -1),
          "saturated_start": at("saturated", 0), "saturated_end": at("saturated", -1),
          "act_std_first": stds0[0] if stds0 else None, "act_std_last": stds0[-1] if stds0 else None}
    if stds0 and stds0[0] and math.isfinite(stds0[0]) and stds0[0] > 0 and math.isfinite(stds0[-1]):
        ev["act_depth_ratio"] = stds0[-1] / stds0[0]
    return ev


def weight_evidence(weight_history) -> dict:
    """How the weights' std changed from init to the end (the median over the weights of end/start)."""
    params = (weight_history or {}).get("params", {})
    changes = [s["std"][-1] / s["std"][0] for s in params.values()
               if len(s.get("std", [])) > 1 and s["std"][0] and math.isfinite(s["std"][-1])]
    ev = {"weight_std_change": float(np.median(changes))} if changes else {}
    sums = [s["sum_sq"][0] for s in params.values() if s.get("sum_sq")]
    if sums and len(sums) == len(params):
        ev["weight_sum_sq_first"] = float(sum(sums))
    return ev


def input_evidence(X) -> dict:
    """Mean and std of the inputs as the model sees them (after preprocessing); a sample of rows is enough."""
    if X is None or not len(X):
        return {}
    rows = np.asarray(X[:1000], dtype=np.float64).reshape(min(len(X), 1000), -1)
    return {"input_mean": float(np.mean(rows)), "input_std": float(np.std(rows)),
            "input_abs_max": float(np.max(np.abs(rows)))}


def run_evidence(loss_history, train_acc_history=(), val_acc_history=(), monitor_history=None, *,
                 num_classes: int | None = None, lr_history=None, X_train=None, status: str | None = None) -> dict:
    """All of the above in one flat dict (plus the run's stop ``status``)."""
    mh = monitor_history or {}
    ev = {"status": status}
    ev.update(loss_evidence(loss_history, num_classes))
    ev.update(accuracy_evidence(train_acc_history, val_acc_history, num_classes))
    ev.update(ratio_evidence(mh.get("update_ratio"), lr_history))
    ev.update(activation_evidence(mh.get("activations")))
    ev.update(weight_evidence(mh.get("weights")))
    ev.update(input_evidence(X_train))
    return ev
