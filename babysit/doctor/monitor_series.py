"""A TrainingMonitor's history as named metric series, the form the run store keeps.

``monitor_series(monitor.history)`` -> {'update_ratio:W1': (iterations, values), ...}: the
scalars only (histograms stay in the history). Steps are iterations, or epochs for the weights.
"""

from __future__ import annotations

from collections.abc import Mapping

# (history key, statistic) -> series prefix, per nonlinearity
_ACTIVATION_SERIES = (("mean", "act_mean"), ("std", "act_std"), ("dead", "dead"), ("saturated", "saturated"))


def monitor_series(history: Mapping | None) -> dict[str, tuple[list, list]]:
    """Series ``update_ratio:W1`` (||update|| / ||W||), ``grad_norm:W1``, ``weight_mean:W1``, ``weight_std:W1``
    and, per nonlinearity, ``act_mean:relu1``, ``act_std:relu1``, ``dead:relu1``, ``saturated:relu1``."""
    history = history or {}
    out = {}
    ratios = history.get("update_ratio") or {}
    for name, values in (ratios.get("params") or {}).items():
        out[f"update_ratio:{name}"] = (list(ratios["iteration"]), list(values))
    grads = history.get("gradients") or {}
    for name, stats in (grads.get("params") or {}).items():
        out[f"grad_norm:{name}"] = (list(grads["iteration"]), list(stats["norm"]))
    weights = history.get("weights") or {}
    for name, stats in (weights.get("params") or {}).items():
        out[f"weight_mean:{name}"] = (list(weights["epoch"]), list(stats["mean"]))
        out[f"weight_std:{name}"] = (list(weights["epoch"]), list(stats["std"]))
    acts = history.get("activations") or {}
    for label, stats in (acts.get("layers") or {}).items():
        for key, prefix in _ACTIVATION_SERIES:
            out[f"{prefix}:{label}"] = (list(acts["iteration"]), list(stats[key]))
    return out


def histogram_series(history: Mapping | None) -> dict[str, tuple[list, list]]:
    """The activation histograms as series: ``act_hist:relu1@ITERATION`` (counts; steps are bin numbers) and
    ``act_edges:relu1@ITERATION`` (the bin edges), one pair per recorded histogram (the dashboard draws them)."""
    out = {}
    for h in ((history or {}).get("activations") or {}).get("histograms") or []:
        for label, hist in (h.get("layers") or {}).items():
            counts, edges = list(hist["counts"]), list(hist["edges"])
            out[f"act_hist:{label}@{h['iteration']}"] = (list(range(len(counts))), [float(c) for c in counts])
            out[f"act_edges:{label}@{h['iteration']}"] = (list(range(len(edges))), [float(e) for e in edges])
    return out
