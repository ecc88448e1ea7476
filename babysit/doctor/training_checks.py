"""Checks that train briefly: ``overfit_small``, ``lr_range`` and ``update_ratio``.

Each one runs the real Solver (babysit.train) on a fresh model, with the
lecture's explosion guard (cost > 3x the first cost stops the run).
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from babysit.doctor.finding import Finding
from babysit.doctor.inputs import FrozenRandomness, as_doctor_data, as_model_factory, child_rng, quiet_numpy, weight_names
from babysit.doctor.monitors import UpdateRatioMonitor, WeightStatsMonitor
from babysit.train.callbacks import Callback
from babysit.train.solver import Solver

TINY_ROWS = 20  # the lecture's X_train[:20]
OVERFIT_EPOCHS = 200  # the lecture's num_epochs=200
PROBE_LRS = tuple(10.0 ** k for k in range(-6, 2))  # 1e-6 .. 10, one probe per decade
PROBE_STEPS = 50
MIN_DROP = 0.01  # the loss must fall by >= 1% over a probe, else it is "barely changing"
RELATIVE_DROP = 0.1  # ... and by >= 10% of what the best probe achieved
RATIO_BAND = (1e-4, 1e-2)  # the lecture: ~1e-3 (its own 0.01 example is "about okay")
RATIO_FAIL = (1e-5, 1e-1)
DEFAULT_LR = 1e-2
MAX_LR = 10.0


class _StopWhenPerfect(Callback):
    """Ends the run at 100% train accuracy (nothing left to learn), or when the loss is frozen solid.

    "Frozen": after ``patience`` epochs the loss moved by < 0.01%. The lecture's own
    tiny-init run moves 0.1% in its first 5 epochs before it drops, so this only
    cuts runs that cannot learn at all (zero init, vanished gradients).
    """

    def __init__(self, patience: int = 50):
        self.patience = patience

    def on_epoch_end(self, solver):
        if solver.train_acc_history and solver.train_acc_history[-1] >= 1.0:
            solver.request_stop("finished", f"100% train accuracy at epoch {solver.epoch}")
        elif solver.epoch == self.patience and solver.loss_history:
            first, last = solver.loss_history[0], solver.loss_history[-1]
            if _finite(first) and _finite(last) and abs(first - last) < 1e-4 * abs(first):
                solver.request_stop("finished", f"the loss has not moved in {self.patience} epochs")


def _solver(model, X, y, *, lr, update_rule, batch_size, epochs, rng, callbacks=(), X_val=None, y_val=None,
            eval_rows=None):
    return Solver(model, {"X_train": X, "y_train": y, "X_val": X if X_val is None else X_val,
                          "y_val": y if y_val is None else y_val},
                  update_rule=update_rule, optim_config={"learning_rate": float(lr)}, batch_size=batch_size,
                  num_epochs=epochs, num_train_samples=eval_rows, num_val_samples=eval_rows, verbose=False,
                  seed=rng, callbacks=list(callbacks))


# -- overfit_small ---------------------------------------------------------------------------------

def overfit_small(model_factory, data, *, seed=0, lr: float | None = None, rows: int = TINY_ROWS,
                  epochs: int = OVERFIT_EPOCHS) -> Finding:
    """The lecture's tip: with reg 0 and plain sgd, the model must reach 100% train accuracy on ~20 examples.

    Full-batch steps; learning rates are bracketed from ``lr`` (default 1e-2): an
    exploding run retries 10x lower, a run that merely falls short retries 10x higher
    (at most 4 runs). Returns a Finding whose value is the best train accuracy;
    details hold the attempts and, for the best one, the loss/accuracy curves and
    the weights' mean/std per epoch.
    """
    data = as_doctor_data(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "overfit_small")
    X, y = data.stratified_sample(rows, rng)
    attempts, runs = [], {}
    current = float(lr) if lr is not None else DEFAULT_LR
    direction = None
    with quiet_numpy(), threadpool_limits(limits=1, user_api="blas"):  # 20 rows: threads only add overhead
        for _ in range(4):
            model = factory()
            model.reg = 0.0
            weights = WeightStatsMonitor()
            # a 1-row "validation" split: the Solver wants one, the check only reads train accuracy
            solver = _solver(model, X, y, lr=current, update_rule="sgd", batch_size=len(y), epochs=epochs, rng=rng,
                             callbacks=[weights, _StopWhenPerfect()], X_val=X[:1], y_val=y[:1])
            solver.train()
            acc = max(solver.train_acc_history, default=0.0)
            losses = solver.loss_history
            attempts.append({"lr": current, "status": solver.status, "epochs": solver.epoch, "train_acc": acc,
                             "loss_start": losses[0] if losses else None, "loss_end": losses[-1] if losses else None})
            runs[current] = (solver, weights, model)
            if acc >= 1.0:
                break
            # bracket: an exploding run retries 10x lower, one that falls short 10x higher, never back again
            if solver.status in ("exploded", "diverged"):
                if direction == "up":
                    break
                direction, current = "down", current / 10
            else:
                if direction == "down" or current * 10 > MAX_LR:
                    break
                direction, current = "up", current * 10
    best = max(attempts, key=lambda a: (a["train_acc"], -(a["loss_end"] if _finite(a["loss_end"]) else math.inf)))
    solver, weights, model = runs[best["lr"]]
    details = {"rows": len(y), "attempts": attempts, "lr": best["lr"], "loss_history": solver.loss_history,
               "train_acc_history": solver.train_acc_history, "weights": weights.history}
    expected = f"100% train accuracy on {len(y)} examples (reg 0, sgd)"
    if best["train_acc"] >= 1.0:
        return Finding("overfit_small", "pass", 1.0, expected,
                       f"reached 100% train accuracy on {len(y)} examples in {best['epochs']} epochs at lr "
                       f"{best['lr']:g} (loss {best['loss_start']:.3f} -> {best['loss_end']:.3g})", "", details)
    reason, advice = _overfit_reason(model, attempts, best)
    tried = ", ".join(f"lr {a['lr']:g}: {a['train_acc']:.0%} ({_outcome(a)})" for a in attempts)
    return Finding("overfit_small", "fail", best["train_acc"], expected,
                   f"could not overfit {len(y)} examples: best train accuracy {best['train_acc']:.0%} "
                   f"({tried}); {reason}",
                   advice, details)


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def _overfit_reason(model, attempts, best) -> tuple[str, str]:
    symmetric = [n for n in weight_names(model) if _identical_units(model.params[n])]
    if symmetric:
        return (f"the units of {', '.join(symmetric)} are still identical after training (zero/constant init: "
                "every unit gets the same gradient, so the layer acts like a single unit)",
                "initialize with random weights: --init he (ReLU) or xavier (tanh)")
    outcomes = [_outcome(a) for a in attempts]
    if all(o == "exploded" for o in outcomes):
        return ("the loss explodes even at the lowest learning rate tried",
                "lower the learning rate further, shrink the init, and check the initial loss")
    if "flat" in outcomes and "exploded" in outcomes:
        return ("the loss stays flat at the lower rates and explodes at the higher ones: no rate lets it learn "
                "steadily, the sign of badly scaled gradients (vanishing activations, see activation_stats)",
                "fix the initialization (--init he / xavier, or --normalization batchnorm)")
    if all(o == "flat" for o in outcomes):
        start, end = best["loss_start"], best["loss_end"]
        return (f"the loss barely moved ({start:.4f} -> {end:.4f}): the gradients are too small to learn from "
                "(vanishing activations, see activation_stats) or the learning rate is far too low",
                "fix the initialization (--init he / xavier, or --normalization batchnorm) and check gradient_check")
    return (f"the loss fell ({best['loss_start']:.3f} -> {best['loss_end']:.3g}) but not far enough: too little "
            "capacity, too few epochs, or a bug in the loss or backward pass",
            "check gradient_check first, then try a larger model")


def _outcome(attempt) -> str:
    """'exploded', 'flat' (the loss moved < 1%) or 'learned' for one overfitting attempt."""
    if attempt["status"] in ("exploded", "diverged"):
        return "exploded"
    start, end = attempt["loss_start"], attempt["loss_end"]
    if _finite(start) and _finite(end) and abs(start - end) < MIN_DROP * abs(start):
        return "flat"
    return "learned"


def _identical_units(w: np.ndarray) -> bool:
    units = w.reshape(w.shape[0], -1) if w.ndim == 4 else w.T
    return units.shape[0] > 1 and bool(np.allclose(units, units[:1], rtol=1e-5, atol=1e-8))


# -- lr_range --------------------------------------------------------------------------------------

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
    if status in ("exploded", "diverged") or not (_finite(loss_start) and _finite(loss_end)):
        return "too_high"
    if loss_end > 3 * loss_start or loss_end > loss_start * (1 + MIN_DROP):
        return "too_high"
    if loss_start - loss_end < MIN_DROP * loss_start:
        return "too_low"
    return "good"


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
    data = as_doctor_data(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "lr_range")
    X_probe, y_probe = data.sample(probe_rows, rng)
    rows = min(len(data.y_train), steps * batch_size)
    X, y = data.sample(rows, rng)
    batch = min(batch_size, len(y))
    epochs = math.ceil(steps / max(len(y) // batch, 1))
    probes = []
    with quiet_numpy():
        for lr in sorted(float(v) for v in lrs):
            model = factory()
            probe = _ProbeLoss(model, X_probe, y_probe, steps)
            ratios = UpdateRatioMonitor(every=5)
            loss_start = probe.loss_start
            solver = _solver(model, X, y, lr=lr, update_rule=update_rule, batch_size=batch, epochs=epochs, rng=rng,
                             callbacks=[probe, ratios], X_val=X_probe, y_val=y_probe, eval_rows=probe_rows)
            _run_limited(solver, steps)
            loss_end = probe.loss_end if probe.loss_end is not None else (solver.loss_history or [math.nan])[-1]
            verdict = probe_verdict(loss_start, loss_end, solver.status)
            probes.append({"lr": lr, "verdict": verdict, "loss_start": loss_start, "loss_end": loss_end,
                           "status": solver.status, "steps": solver.iteration, "update_ratio": _typical(ratios),
                           "losses": solver.loss_history})
            # two explosions in a row: every larger rate explodes too
            if len(probes) >= 2 and all(p["verdict"] == "too_high" and p["status"] != "finished"
                                        for p in probes[-2:]):
                break
    return _lr_range_finding(probes, steps, update_rule)


class _StopAfter(Callback):
    def __init__(self, steps):
        self.steps = steps

    def on_iteration_end(self, solver):
        if solver.iteration >= self.steps and solver.status == "finished":
            solver.request_stop("finished", f"probe done after {self.steps} steps")


def _run_limited(solver, steps):
    solver.callbacks.append(_StopAfter(steps))
    solver.train()


def relative_verdicts(probes) -> None:
    """Demote 'good' probes whose drop is under 10% of the best probe's drop to 'too_low', in place.

    A model that starts confidently wrong (initial loss well above ln C) sheds
    1% of its loss even at a rate 1000x too small; next to what the best rate
    does in the same steps, that is still "barely changing".
    """
    drops = [p["loss_start"] - p["loss_end"] for p in probes if p["verdict"] == "good"]
    if not drops:
        return
    best = max(drops)
    for p in probes:
        if p["verdict"] == "good" and p["loss_start"] - p["loss_end"] < RELATIVE_DROP * best:
            p["verdict"] = "too_low"


def _typical(monitor) -> float | None:
    """Geometric mean over the weights of each weight's median update ratio (None when nothing was measured)."""
    medians = [_median(v) for v in monitor.history["params"].values()]
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


def _lr_range_finding(probes, steps, update_rule) -> Finding:
    relative_verdicts(probes)
    good = [p["lr"] for p in probes if p["verdict"] == "good"]
    table = ", ".join(f"{p['lr']:g}: {p['verdict']}" for p in probes)
    details = {"probes": probes, "steps": steps, "update_rule": update_rule}
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
                       "" if status == "pass" else "rerun with another --seed, or probe with more steps", details)
    details["suggested_lr"] = None
    if all(p["verdict"] == "too_low" for p in probes):
        why = (f"no learning rate up to {probes[-1]['lr']:g} made the loss go down ({table}): the gradients "
               "are vanishing or zero")
        advice = "check activation_stats and gradient_check; fix the init (--init he / xavier)"
    elif all(p["verdict"] == "too_high" for p in probes):
        why = f"the loss explodes even at lr {probes[0]['lr']:g} ({table})"
        advice = "check the initial loss and the data scale (preprocess), then probe lower rates"
    else:
        why = f"the loss goes from barely changing straight to exploding ({table}): no rate makes it go down"
        advice = "check activation_stats (vanishing or saturated units) and the initialization"
    return Finding("lr_range", "fail", None, expected, why, advice, details)


# -- update_ratio ----------------------------------------------------------------------------------

def update_ratio(model_factory, data, *, seed=0, lr: float = DEFAULT_LR, steps: int = 10, batch_size: int = 100,
                 update_rule: str = "sgd", lr_source: str = "given") -> Finding:
    """After a few steps at ``lr``: ||update|| / ||W|| per weight, against the lecture's ~1e-3.

    Inputs: model_factory; data; seed; lr (the suggested or chosen rate); steps; batch_size;
    update_rule; lr_source, words saying where lr came from (for the explanation).
    Returns: a Finding whose value maps weight -> median ratio over the steps.
    """
    data = as_doctor_data(data)
    factory = as_model_factory(model_factory)
    rng = child_rng(seed, "update_ratio")
    X, y = data.sample(min(len(data.y_train), steps * batch_size), rng)
    batch = min(batch_size, len(y))
    epochs = math.ceil(steps / max(len(y) // batch, 1))
    model = factory()
    monitor = UpdateRatioMonitor(every=1)
    with quiet_numpy():
        solver = _solver(model, X, y, lr=lr, update_rule=update_rule, batch_size=batch, epochs=epochs, rng=rng,
                         callbacks=[monitor], eval_rows=200)
        _run_limited(solver, steps)
    ratios = {n: _median(v) for n, v in monitor.history["params"].items()}
    details = {"lr": lr, "lr_source": lr_source, "steps": solver.iteration, "update_rule": update_rule,
               "history": monitor.history, "status": solver.status}
    expected = f"about 1e-3 (within [{RATIO_BAND[0]:g}, {RATIO_BAND[1]:g}])"
    lo, hi = RATIO_BAND
    low = {n: r for n, r in ratios.items() if not math.isnan(r) and r < lo}
    high = {n: r for n, r in ratios.items() if math.isnan(r) or r > hi}
    at = f"at lr {lr:g} ({lr_source})"
    if not ratios:
        return Finding("update_ratio", "pass", ratios, expected, "the model has no weights to update", "", details)
    if not low and not high:
        return Finding("update_ratio", "pass", ratios, expected,
                       f"updates are {_span(ratios)} of the weights {at}, around the lecture's 1e-3", "", details)
    bad = any(r < RATIO_FAIL[0] for r in low.values()) or any(math.isnan(r) or r > RATIO_FAIL[1]
                                                              for r in high.values())
    status = "fail" if bad else "warn"
    parts = []
    if high:
        parts.append(f"{', '.join(high)} change by {_span(high)} per step {at}: too fast (lr too high, the "
                     "weights will be thrown around)")
    frozen = [n for n, r in low.items() if r == 0.0]
    slow = {n: r for n, r in low.items() if r != 0.0}
    if frozen:
        parts.append(f"{', '.join(frozen)} do not change at all {at}: their gradient is exactly zero")
    if slow:
        parts.append(f"{', '.join(slow)} change by only {_span(slow)} per step {at}: too slow (lr too low, or "
                     "their gradients vanish)")
    advice = ("lower the learning rate" if high and not low else
              "raise the learning rate, or fix vanishing gradients (init, batchnorm)" if low and not high else
              "layers learn at very different speeds: fix the initialization (--init he / xavier) or add batchnorm")
    return Finding("update_ratio", status, ratios, expected, "; ".join(parts), advice, details)


def _median(values) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.median(vals)) if vals else math.nan


def _span(ratios: dict) -> str:
    vals = [v for v in ratios.values() if not math.isnan(v)]
    if not vals:
        return "NaN"
    lo, hi = min(vals), max(vals)
    return f"{lo:.1e}" if lo == hi or len(vals) == 1 else f"{lo:.1e} .. {hi:.1e}"
