"""Run the diagnosis corpus: train each scenario with babysit's monitored recipe, diagnose it, score it.

``run_scenario(s)`` -> ``Outcome`` (the evidence, the settings, the gradient check and the diagnosis);
``diagnose(outcome, thresholds)`` re-reads an outcome under other thresholds (cheap: no training);
``fit_thresholds(outcomes)`` fits the thresholds on the 'fit' split; ``score(...)`` gives the figures.

    python -m tests.diagnosis_corpus.corpus [--only NAME,NAME]

prints one line per scenario as it runs, the thresholds fitted on the 'fit' split, the figures on each
split (default and fitted thresholds), and the markdown table of docs/diagnoses.md (every scenario,
expected vs given cause, confidence, advice).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
from dataclasses import dataclass

import numpy as np

from babysit.doctor.advice import format_setting, settings_named
from babysit.doctor.cause_rules import THRESHOLDS, Thresholds, diagnose_cause, effective_settings
from babysit.doctor.gradient_check import gradient_check
from babysit.doctor.run_evidence import run_evidence
from babysit.pipeline.training import monitored_training
from babysit.train.callbacks import Callback
from babysit.train.recipe import TrainConfig, model_factory

from .scenarios import SCENARIOS, Scenario

DEAD_BIAS = -8.0


@functools.lru_cache(maxsize=None)
def _prepared(preprocess: str):
    from babysit.data import prepare

    return prepare("digits", preprocess, 0)


def scenario_data(s: Scenario):
    dataset, pre = _prepared(s.preprocess)
    if s.data is None:
        return dataset, pre
    if s.data == "shuffled_labels":
        y = np.random.default_rng(7).permutation(dataset.y_train)
        return dataclasses.replace(dataset, y_train=y), pre
    if s.data.startswith("tiny:"):
        n = int(s.data.split(":")[1])
        return dataclasses.replace(dataset, X_train=dataset.X_train[:n], y_train=dataset.y_train[:n]), pre
    raise ValueError(f"unknown data tweak {s.data!r}")


def break_model(model, tweak: str | None):
    """Apply a scenario's fault to ``model`` in place (a wrong backward or dead biases)."""
    from babysit.nn import Affine, ReLU, Tanh

    if tweak is None:
        return model
    layers = list(model.layers)
    if tweak == "relu_backward_half":
        layer = next(l for l in layers if isinstance(l, ReLU))
        orig = layer.backward
        layer.backward = lambda dout: orig(dout) * 0.5
    elif tweak == "tanh_backward_identity":
        layer = next(l for l in layers if isinstance(l, Tanh))
        layer.backward = lambda dout: dout  # the derivative 1 - tanh^2 forgotten
    elif tweak == "affine_grad_sign":
        layer = [l for l in layers if isinstance(l, Affine)][-1]
        orig = layer.backward

        def backward(dout):
            dx = orig(dout)
            layer.grads["W"] *= -1
            return dx
        layer.backward = backward
    elif tweak == "dead_bias":
        model.params["b1"][...] = DEAD_BIAS
    else:
        raise ValueError(f"unknown tweak {tweak!r}")
    return model


class _Break(Callback):
    def __init__(self, tweak):
        self.tweak = tweak

    def on_train_begin(self, solver):
        break_model(solver.model, self.tweak)


@dataclass
class Outcome:
    scenario: Scenario
    evidence: dict
    settings: dict
    checks: list
    seconds: float
    diagnosis: object = None


def run_scenario(s: Scenario, thresholds: Thresholds = THRESHOLDS) -> Outcome:
    start = time.perf_counter()
    config = TrainConfig(preprocess=s.preprocess, **s.config)
    dataset, pre = scenario_data(s)
    run = monitored_training(config, data=(dataset, pre), callbacks=[_Break(s.tweak)], verbose=False)
    solver = run.solver
    make = model_factory(config, dataset.input_shape, dataset.num_classes)
    grad = gradient_check(lambda **kw: break_model(make(**kw), s.tweak if s.tweak != "dead_bias" else None),
                          dataset, seed=0)
    evidence = run_evidence(solver.loss_history, solver.train_acc_history, solver.val_acc_history,
                            run.monitor_history, num_classes=dataset.num_classes, lr_history=solver.lr_history,
                            X_train=solver.X_train, status=solver.status)
    out = Outcome(s, evidence, config.to_dict(), [grad], time.perf_counter() - start)
    out.diagnosis = diagnose(out, thresholds)
    return out


def diagnose(outcome: Outcome, thresholds: Thresholds = THRESHOLDS):
    return diagnose_cause(outcome.evidence, outcome.settings, checks=outcome.checks, thresholds=thresholds)


def repeats_setting(diagnosis, settings: dict) -> bool:
    """Whether the advice asks for a setting the run already has."""
    s = effective_settings(settings)
    return any(s.get(k) is not None and format_setting(s[k]) == v for k, v in settings_named(diagnosis.advice).items())


def score(outcomes, thresholds: Thresholds = THRESHOLDS) -> dict:
    rows = [(o, diagnose(o, thresholds)) for o in outcomes]
    healthy = [(o, d) for o, d in rows if o.scenario.cause == "healthy"]
    broken = [(o, d) for o, d in rows if o.scenario.cause != "healthy"]
    return {"scenarios": len(rows), "correct": sum(d.cause == o.scenario.cause for o, d in rows),
            "accuracy": sum(d.cause == o.scenario.cause for o, d in rows) / max(len(rows), 1),
            "healthy": len(healthy), "false_alarms": sum(d.cause != "healthy" for _, d in healthy),
            "missed": sum(d.cause == "healthy" for _, d in broken),
            "repeated_advice": sum(repeats_setting(d, o.settings) for o, d in rows)}


FITTED = ("init_excess", "chance_margin", "ratio_low", "ratio_slow", "ratio_high", "noise", "still_learning",
          "val_gain", "gap_overfit", "fit_acc", "weight_shrink", "vanish_depth", "dead")
FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0)


def fit_thresholds(outcomes, start: Thresholds = THRESHOLDS, passes: int = 2) -> Thresholds:
    """Coordinate search over FITTED thresholds (x FACTORS of the current value), maximizing the number of
    correct causes on ``outcomes`` minus the false alarms; ties keep the current value."""
    best = start

    def objective(t):
        sc = score(outcomes, t)
        return sc["correct"] - sc["false_alarms"]

    best_score = objective(best)
    for _ in range(passes):
        for name in FITTED:
            base = getattr(best, name)
            for factor in FACTORS:
                cand = dataclasses.replace(best, **{name: base * factor})
                value = objective(cand)
                if value > best_score:
                    best, best_score = cand, value
    return best


def table(outcomes, thresholds: Thresholds) -> list[str]:
    lines = ["| scenario | split | expected cause | given cause | confidence | advice |",
             "|---|---|---|---|---|---|"]
    for o in outcomes:
        d = diagnose(o, thresholds)
        mark = "" if d.cause == o.scenario.cause else " ✗"
        lines.append(f"| {o.scenario.name} | {o.scenario.split} | {o.scenario.cause} | {d.cause}{mark} | "
                     f"{d.confidence:.2f} | {d.advice.replace('|', '/')} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=None, help="comma-separated scenario names")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if args.only is None or s.name in args.only.split(",")]
    outcomes = []
    for s in chosen:
        o = run_scenario(s)
        outcomes.append(o)
        print(f"{s.name:<28} {s.split:<9} {s.cause:<18} -> {o.diagnosis.cause:<18} "
              f"{o.diagnosis.confidence:.2f} {o.seconds:5.1f}s  {o.diagnosis.advice}", flush=True)
    fit = [o for o in outcomes if o.scenario.split == "fit"]
    held = [o for o in outcomes if o.scenario.split == "held_out"]
    fitted = fit_thresholds(fit)
    changed = {k: v for k, v in fitted.to_dict().items() if v != getattr(THRESHOLDS, k)}
    print("\nthresholds fitted on the fit split (changed from the defaults):", changed or "none")
    for label, part, t in (("fit split, default thresholds", fit, THRESHOLDS),
                           ("held-out split, default thresholds", held, THRESHOLDS),
                           ("fit split, fitted thresholds", fit, fitted),
                           ("held-out split, fitted thresholds", held, fitted)):
        print(f"{label}: {score(part, t)}")
    print()
    print("\n".join(table(outcomes, THRESHOLDS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
