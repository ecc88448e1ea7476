"""``lr_range``: the lecture's learning-rate hunt, "find learning rate that makes the loss go down".

Short runs at log-spaced rates (1e-6 .. 10); each probe is 'too_low' (loss barely
changing, or no better than a reference run at a rate 100x below the lowest probe: what a
rate too low to learn does), 'good' or 'too_high' (exploding, NaN, or rising). The good rates form
the recommended range; the suggested rate is the good one whose update/weight
ratio is nearest the lecture's ~1e-3.
"""

from __future__ import annotations

import math

import numpy as np

from babysit.doctor.check_causes import with_cause
from babysit.doctor.finding import Finding
from babysit.doctor.inputs import FrozenRandomness, as_dataset, as_model_factory, child_rng, quiet_numpy
from babysit.doctor.monitors import UpdateRatioMonitor
from babysit.doctor.short_runs import epochs_for, finite, median, run_steps, short_solver
from babysit.train.callbacks import Callback

PROBE_LRS = tuple(10.0 ** k for k in range(-6, 2))  # 1e-6 .. 10, one probe per decade
PROBE_STEPS = 50
MIN_DROP = 0.01  # the loss must fall by >= 1% over a probe, else it is "barely changing"
RELATIVE_DROP = 0.1  # ... and by >= 10% of what the best probe achieved
REFERENCE_FACTOR = 1e-2  # the reference run: a rate 100x below the lowest probe, surely too low to learn


class _ProbeLoss(Callback):
    """Measures the loss on a fixed batch right after step ``steps`` (before the Solver restores its best params)."""

    def __init__(self, model, X, y, steps):
        self.model, self.X, self.y, self.steps = model, X, y, steps
        self.frozen = FrozenRandomness(model)
        self.loss_start = fixed_batch_loss(model, X, y, self.frozen)
        self.loss_end = None

    def on_iteration_end(self, solver):
        if solver.iteration == self.steps:
            self.loss_end = fixed_batch_loss(self.model, self.X, self.y, self.frozen)


def fixed_batch_loss(model, X, y, frozen=None) -> float:
    """The training loss (reg included, train mode) on a fixed batch: comparable before and after steps.

    ``frozen`` (FrozenRandomness) replays the same dropout masks, so dropout noise
    cannot pass for progress.
    """
    if frozen is not None:
        frozen.restore()
    return float(model.loss(X, y)[0])


def probe_verdict(loss_start: float, loss_end: float, status: str) -> str:
    """'too_high' (exploded, NaN, > 3x or any rise), 'too_low' (fell < 1%) or 'good'."""
    if status in ("exploded", "diverged") or not (finite(loss_start) and finite(loss_end)):
        return "too_high"
    if loss_end > 3 * loss_start or loss_end > loss_start * (1 + MIN_DROP):
        return "too_high"
    if loss_start - loss_end < MIN_DROP * loss_start:
        return "too_low"
    return "good"


@with_cause
def lr_range(model_factory, data, *, seed=0, lrs=PROBE_LRS, steps: int = PROBE_STEPS, batch_size: int = 100,
             update_rule: str = "sgd", probe_rows: int = 200) -> Finding:
    """Short runs at log-spaced learning rates; the ones that make the loss go down form the recommended range.

    A probe is 'too_high' when the loss explodes, turns NaN or rises; 'too_low' when
    it falls by < 1%, or by < 10% of the best probe's fall; else 'good'.

    Inputs: model_factory; data; seed; lrs to probe (ascending); steps per probe; batch_size;
    update_rule; probe_rows, the fixed batch the start/end losses are measured on.
    Returns: a Finding whose value is [low, high] (None when no rate works) and
    details['probes'] = [{lr, verdict, loss_start, loss_end, status, steps, update_ratio, losses}] and
    details['suggested_lr'], the good rate whose update/weight ratio is nearest the lecture's 1e-3.
    """
    data = as_dataset(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "lr_range")
    X_probe, y_probe = data.sample(probe_rows, rng)
    X, y = data.sample(min(len(data.y_train), steps * batch_size), rng)
    batch = min(batch_size, len(y))
    epochs = epochs_for(steps, len(y), batch)
    probes = []
    with quiet_numpy():
        reference = _probe(factory, X, y, X_probe, y_probe, min(float(v) for v in lrs) * REFERENCE_FACTOR, steps,
                           update_rule, batch, epochs, rng, probe_rows)
        for lr in sorted(float(v) for v in lrs):
            model = factory()
            probe = _ProbeLoss(model, X_probe, y_probe, steps)
            ratios = UpdateRatioMonitor(every=5)
            loss_start = probe.loss_start
            solver = short_solver(model, X, y, lr=lr, update_rule=update_rule, batch_size=batch, epochs=epochs, rng=rng,
                             callbacks=[probe, ratios], X_val=X_probe, y_val=y_probe, eval_rows=probe_rows)
            run_steps(solver, steps)
            loss_end = probe.loss_end if probe.loss_end is not None else (solver.loss_history or [math.nan])[-1]
            verdict = probe_verdict(loss_start, loss_end, solver.status)
            probes.append({"lr": lr, "verdict": verdict, "loss_start": loss_start, "loss_end": loss_end,
                           "status": solver.status, "steps": solver.iteration, "update_ratio": _typical(ratios),
                           "losses": solver.loss_history})
            # two explosions in a row: every larger rate explodes too
            if len(probes) >= 2 and all(p["verdict"] == "too_high" and p["status"] in ("exploded", "diverged")
                                        for p in probes[-2:]):
                break
    return _lr_range_finding(probes, steps, update_rule, reference)


def _probe(factory, X, y, X_probe, y_probe, lr, steps, update_rule, batch, epochs, rng, probe_rows) -> dict:
    """One short run at ``lr``: its start and end loss on the fixed batch."""
    model = factory()
    probe = _ProbeLoss(model, X_probe, y_probe, steps)
    solver = short_solver(model, X, y, lr=lr, update_rule=update_rule, batch_size=batch, epochs=epochs, rng=rng,
                          callbacks=[probe], X_val=X_probe, y_val=y_probe, eval_rows=probe_rows)
    run_steps(solver, steps)
    end = probe.loss_end if probe.loss_end is not None else (solver.loss_history or [math.nan])[-1]
    return {"lr": lr, "loss_start": probe.loss_start, "loss_end": end, "status": solver.status}



def relative_verdicts(probes, reference: dict | None = None) -> None:
    """Demote 'good' probes that do not clearly beat a rate too low to learn, in place.

    The reference is a run at a rate 100x below the lowest probe: whatever it sheds is what
    any step does (a model that starts confidently wrong sheds 1% of its loss even at a rate
    1000x too small). A probe is 'good' only when its drop beyond the reference's is >= 1% of
    the start loss and >= 10% of the best probe's drop beyond it.
    """
    base = 0.0
    if reference is not None and finite(reference.get("loss_start")) and finite(reference.get("loss_end")):
        base = max(0.0, reference["loss_start"] - reference["loss_end"])
    drops = [p["loss_start"] - p["loss_end"] - base for p in probes if p["verdict"] == "good"]
    if not drops:
        return
    best = max(drops)
    for p in probes:
        gain = p["loss_start"] - p["loss_end"] - base
        if p["verdict"] == "good" and (gain < RELATIVE_DROP * best or gain < MIN_DROP * p["loss_start"]):
            p["verdict"] = "too_low"


def _typical(monitor) -> float | None:
    """Geometric mean over the weights of each weight's median update ratio (None when nothing was measured)."""
    medians = [median(v) for v in monitor.history["params"].values()]
    medians = [m for m in medians if math.isfinite(m) and m > 0]
    return float(np.exp(np.mean(np.log(medians)))) if medians else None


def _suggest(probes) -> float:
    """The good rate whose update/weight ratio is nearest the lecture's 1e-3 (in log space).

    Falls back to a decade below the rate that reached the lowest loss when no
    ratio was measured: the fastest short run is too aggressive for a long one.
    """
    good = [p for p in probes if p["verdict"] == "good"]
    measured = [p for p in good if p.get("update_ratio")]
    if measured:
        return min(measured, key=lambda p: abs(math.log10(p["update_ratio"]) + 3))["lr"]
    best = min(good, key=lambda p: p["loss_end"])
    return max(min(p["lr"] for p in good), best["lr"] / 10)


def _lr_range_finding(probes, steps, update_rule, reference=None) -> Finding:
    relative_verdicts(probes, reference)
    good = [p["lr"] for p in probes if p["verdict"] == "good"]
    table = ", ".join(f"{p['lr']:g}: {p['verdict']}" for p in probes)
    details = {"probes": probes, "steps": steps, "update_rule": update_rule, "reference": reference}
    expected = "a span of learning rates that make the loss go down"
    if good:
        low, high = min(good), max(good)
        suggested = _suggest(probes)
        details["suggested_lr"] = suggested
        gaps = [p for p in probes if low < p["lr"] < high and p["verdict"] != "good"]
        status = "warn" if gaps else "pass"
        why = (f"the loss goes down for lr in [{low:g}, {high:g}] ({update_rule}, {steps} steps each; {table}); "
               f"start the search there; lr {suggested:.2g} moves the weights by ~1e-3 per step")
        if gaps:
            erratic = ", ".join(f"{p['lr']:g}" for p in gaps)
            why += f"; but not at {erratic} inside that span: the loss is erratic"
        return Finding("lr_range", status, [low, high], expected, why,
                       "" if status == "pass" else "rerun with another seed, or probe with more steps", details)
    details["suggested_lr"] = None
    if all(p["verdict"] == "too_low" for p in probes):
        why = (f"no learning rate up to {probes[-1]['lr']:g} made the loss go down ({table}): the gradients "
               "are vanishing or zero")
        advice = "check activation_stats and gradient_check; fix the init (`init=he` / xavier)"
    elif all(p["verdict"] == "too_high" for p in probes):
        why = f"the loss explodes even at lr {probes[0]['lr']:g} ({table})"
        advice = "check the initial loss and the data scale (preprocess), then probe lower rates"
    else:
        why = f"the loss goes from barely changing straight to exploding ({table}): no rate makes it go down"
        advice = "check activation_stats (vanishing or saturated units) and the initialization"
    return Finding("lr_range", "fail", None, expected, why, advice, details)
