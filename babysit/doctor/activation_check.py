"""``activation_stats``: the lecture's per-layer activation statistics at initialization, with verdicts.

One train-mode forward pass of a batch through a fresh model; for every
nonlinearity: mean, std, histogram, dead-unit, saturated and symmetric
fractions. Flags the lecture's failure modes: activations that vanish with depth
(tanh with 0.01 * randn), tanh/sigmoid saturation (1.0 * randn), dead ReLUs, and
symmetric units (zero init: every unit of a layer computes the same thing).
"""

from __future__ import annotations

import numpy as np

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import as_dataset, as_model_factory, child_rng, quiet_numpy, weight_names
from babysit.doctor.stats import activation_summary, nonlinear_layers, symmetric_fraction

ROWS = 500
VANISH_RATIO = 1e-2  # std this many times smaller than the first layer's: the signal has died out
WARN_FRACTION = 0.1  # > 10% dead or saturated: worth a warning
FAIL_FRACTION = 0.5  # > half: the layer barely passes gradients
SYMMETRIC_FRACTION = 0.5  # > half of a layer's units duplicate another unit


def layer_statistics(model, X) -> list[dict]:
    """Forward X (train mode, no backward) and summarize every nonlinearity's output.

    Returns: [{'layer': 'relu1', 'mean', 'std', 'dead', 'saturated', 'symmetric', 'histogram'}, ...].
    """
    model.train()
    with quiet_numpy():
        model.layers.forward(model.prepare_input(X))
        stats = []
        for label, layer in nonlinear_layers(model):
            out = layer.last_output
            summary = activation_summary(layer, out, with_histogram=True)
            summary["symmetric"] = symmetric_fraction(out)
            stats.append({"layer": label, **summary})
    return stats


@with_cause
def activation_stats(model_factory, data, *, seed=0, rows: int = ROWS) -> Finding:
    """Activation statistics per layer at init and what they mean.

    Inputs: model_factory (or a model); data; seed; rows forwarded.
    Returns: a Finding whose value maps layer -> std; details['layers'] holds the full per-layer
    statistics (with histograms) and details['problems'] one entry per flagged layer.
    """
    data = as_dataset(data)
    model = as_model_factory(model_factory)()
    X, _ = data.sample(rows, child_rng(seed, "activation_stats"))
    stats = layer_statistics(model, X)
    details = {"layers": stats, "rows": len(X)}
    value = {s["layer"]: s["std"] for s in stats}
    expected = "std steady across layers; < 10% dead or saturated units; no duplicate units"
    problems = _problems(stats) + _symmetric_weights(model)
    details["problems"] = problems
    if not stats:
        return Finding("activation_stats", "pass", value, expected,
                       "the model has no hidden nonlinearities (a linear classifier): nothing to look at", "",
                       details)
    if not problems:
        first, last = stats[0], stats[-1]
        trend = (f"std {first['std']:.3g} in {first['layer']}" if len(stats) == 1
                 else f"std {first['std']:.3g} in {first['layer']} .. {last['std']:.3g} in {last['layer']}")
        return Finding("activation_stats", "pass", value, expected,
                       f"activations look healthy at init: {trend}", "", details)
    status = "fail" if any(p["severity"] == "fail" for p in problems) else "warn"
    worst = sorted(problems, key=lambda p: p["severity"] != "fail")
    explanation = "; ".join(dict.fromkeys(p["text"] for p in worst))
    advice = " ".join(dict.fromkeys(ADVICE[p["kind"]] for p in worst))
    return Finding("activation_stats", status, value, expected, explanation, advice, details)


ADVICE = {
    "vanishing": "Initialize by fan-in: `init=xavier` for tanh/sigmoid, `init=he` for ReLU (or add "
                 "`normalization=batchnorm`); the lecture's 0.01 * randn collapses deep nets to zero.",
    "saturated": "Shrink the initial weights (`init=xavier`, or a smaller weight scale), or use ReLU: "
                 "saturated units pass back almost no gradient.",
    "dead": "Use `init=he` (not a tiny or negative-biased init), a lower learning rate, or leaky_relu/elu.",
    "symmetric": "Initialize with random weights (`init=he` or xavier): zero or constant init makes every "
                 "unit compute, and learn, the same thing.",
    "exploding": "Initialize by fan-in (`init=he` for ReLU, xavier for tanh) or add `normalization=batchnorm`.",
}


def _problems(stats: list[dict]) -> list[dict]:
    out = []
    first_std = stats[0]["std"] if stats else 0.0
    symmetric_layers = [s["layer"] for s in stats if s["symmetric"] > SYMMETRIC_FRACTION]
    if symmetric_layers:
        out.append({"kind": "symmetric", "severity": "fail", "layers": symmetric_layers,
                    "text": f"symmetric units in {_names(symmetric_layers)}: most units of the layer compute the "
                            "same output, so they receive the same gradient and stay identical"})
    for s in stats:
        if s["dead"] is not None and s["dead"] > WARN_FRACTION and s["layer"] not in symmetric_layers:
            severity = "fail" if s["dead"] > FAIL_FRACTION else "warn"
            out.append({"kind": "dead", "severity": severity, "layers": [s["layer"]],
                        "text": f"{s['dead']:.0%} of the units of {s['layer']} are dead (never fire on "
                                f"{'this batch'}): they pass no gradient"})
        if s["saturated"] is not None and s["saturated"] > WARN_FRACTION:
            severity = "fail" if s["saturated"] > FAIL_FRACTION else "warn"
            out.append({"kind": "saturated", "severity": severity, "layers": [s["layer"]],
                        "text": f"{s['saturated']:.0%} of the activations of {s['layer']} are saturated "
                                "(|tanh| > 0.99 or sigmoid at 0/1): gradients there are ~0"})
    deep = [s for s in stats[1:] if first_std > 0 and s["std"] < VANISH_RATIO * first_std]
    if deep and not symmetric_layers:
        layers = [s["layer"] for s in deep]
        out.append({"kind": "vanishing", "severity": "fail", "layers": layers,
                    "text": f"activations vanish with depth: std {first_std:.3g} in {stats[0]['layer']} falls "
                            f"to {deep[-1]['std']:.2g} in {deep[-1]['layer']} (the lecture's tanh x 0.01 "
                            "collapse): the gradients of the early layers vanish too"})
    grown = [s for s in stats[1:] if first_std > 0 and s["std"] > 100 * first_std]
    if grown:
        out.append({"kind": "exploding", "severity": "warn", "layers": [s["layer"] for s in grown],
                    "text": f"activations grow with depth: std {first_std:.3g} in {stats[0]['layer']} rises to "
                            f"{grown[-1]['std']:.3g} in {grown[-1]['layer']}"})
    return out


def _symmetric_weights(model) -> list[dict]:
    """Weight matrices whose output units all start identical (all-zero or constant columns)."""
    names = []
    for name in weight_names(model):
        w = model.params[name]
        cols = w.reshape(w.shape[0], -1) if w.ndim == 4 else w  # conv: (F, C*HH*WW), units are rows
        units = cols if w.ndim == 4 else cols.T
        if units.shape[0] > 1 and np.all(units == units[:1]):
            names.append(name)
    if not names:
        return []
    return [{"kind": "symmetric", "severity": "fail", "layers": names,
             "text": f"{_names(names)} start with identical weights for every unit (e.g. all zero)"}]


def _names(items) -> str:
    return ", ".join(items) if len(items) <= 4 else f"{', '.join(items[:3])} ... {items[-1]}"
