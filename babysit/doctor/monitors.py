"""Training monitors: Solver callbacks that record what the lecture says to watch, cheaply.

Each monitor samples every ``every`` iterations (iterations 1, 1 + every, ...)
and records into ``.history``, plain dicts and lists of floats (JSON-able, for a
run-store writer or the plots). ``TrainingMonitor`` bundles them all:

    monitor = TrainingMonitor(every=10)
    Solver(model, data, callbacks=[monitor]).train()
    monitor.history['update_ratio']['params']['W1']  # ||update|| / ||W|| per sampled iteration

Monitors read the model only through the layer API: ``model.params``,
``solver.grads`` and each layer's ``last_output`` (the activations of the
minibatch just trained on).
"""

from __future__ import annotations

import math

import numpy as np

from babysit.doctor.inputs import weight_names
from babysit.doctor.stats import activation_summary, array_summary, histogram, nonlinear_layers
from babysit.train.callbacks import Callback
from babysit.validation import AT_LEAST_ONE, check_choice, check_int

EVERY = 10  # default sampling period: about 4% of an epoch of the 2-layer net (benchmarks/bench_monitor.py)
HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))  # the Solver's fixed hooks


def _check_every(monitor, every) -> int:
    """The sampling period of ``monitor``: sample every ``every`` >= 1 iterations."""
    return check_int(type(monitor).__name__, "every", every, AT_LEAST_ONE)


def _sampled(iteration: int, every: int) -> bool:
    """Iterations 1, 1 + every, 1 + 2 * every, ... are sampled (the first step is always seen)."""
    return (iteration - 1) % every == 0


class UpdateRatioMonitor(Callback):
    """Records ``||p_after - p_before|| / ||p_before||`` per parameter on sampled iterations (the lecture wants ~1e-3).

    Inputs: every, the sampling period; params, 'weights' (default: W1, W2, ...) or 'all'.
    history: {'iteration': [...], 'params': {name: [ratio, ...]}}; a parameter that is
    all zero and stays so has ratio 0, one that leaves zero has ratio inf.
    """

    def __init__(self, every: int = EVERY, params: str = "weights"):
        self.every = _check_every(self, every)
        self.which = check_choice(type(self).__name__, "params", params, ("weights", "all"))
        self.history = {"iteration": [], "params": {}}
        self._before: dict[str, np.ndarray] | None = None
        self._taken_at = None

    def on_train_begin(self, solver):
        model = solver.model
        self.names = weight_names(model) if self.which == "weights" else list(model.params)
        self.history = {"iteration": [], "params": {n: [] for n in self.names}}
        self._before = {n: np.empty_like(model.params[n]) for n in self.names}
        self._snapshot(solver)

    def _snapshot(self, solver):
        if solver.iteration % self.every == 0:  # the next iteration is a sampled one
            for n in self.names:
                np.copyto(self._before[n], solver.model.params[n])
            self._taken_at = solver.iteration

    def on_iteration_end(self, solver):
        if self._taken_at is not None and self._taken_at == solver.iteration - 1:
            self.history["iteration"].append(solver.iteration)
            for n in self.names:
                before, after = self._before[n], solver.model.params[n]
                self.history["params"][n].append(update_ratio(before, after))
            self._taken_at = None
        self._snapshot(solver)


def update_ratio(before: np.ndarray, after: np.ndarray) -> float:
    """``||after - before|| / ||before||`` (0 when nothing moved, inf when leaving all-zero).

    Computed in the parameters' own dtype: the difference of two nearby floats is
    exact, and BLAS's scaled norm neither overflows nor costs a float64 copy.
    """
    with np.errstate(all="ignore"):
        step = float(np.linalg.norm((after - before).ravel()))
        scale = float(np.linalg.norm(before.ravel()))
    if scale == 0.0:
        return 0.0 if step == 0.0 else math.inf
    return step / scale if math.isfinite(step) else math.nan


class WeightStatsMonitor(Callback):
    """Mean and std of every weight at the start and after every epoch (the lecture's "how weights change").

    history: {'epoch': [0, 1, ...], 'params': {name: {'mean': [...], 'std': [...], 'sum_sq': [...]}}};
    sum_sq (the sum of squares) gives the L2 term 0.5 * reg * sum(W**2) of the loss.
    """

    def __init__(self):
        self.history = {"epoch": [], "params": {}}

    def on_train_begin(self, solver):
        self.names = weight_names(solver.model)
        self.history = {"epoch": [], "params": {n: {"mean": [], "std": [], "sum_sq": []} for n in self.names}}
        self._record(solver)

    def on_epoch_end(self, solver):
        self._record(solver)

    def _record(self, solver):
        self.history["epoch"].append(solver.epoch)
        for n in self.names:
            s = array_summary(solver.model.params[n])
            self.history["params"][n]["mean"].append(s["mean"])
            self.history["params"][n]["std"].append(s["std"])
            w = solver.model.params[n]
            self.history["params"][n]["sum_sq"].append(float(np.dot(w.ravel(), w.ravel())))


class ActivationMonitor(Callback):
    """Per-nonlinearity mean/std, dead-unit and saturated fractions of the training minibatch, sampled.

    Histograms are kept at the first sampled iteration and at the last iteration
    of every epoch (the lecture's per-layer histograms, over training).
    history: {'iteration': [...], 'layers': {label: {'mean', 'std', 'dead', 'saturated': [...]}},
    'histograms': [{'iteration', 'epoch', 'layers': {label: {'counts', 'edges'}}}]}.
    """

    def __init__(self, every: int = EVERY, histograms: bool = True):
        self.every = _check_every(self, every)
        self.histograms = histograms
        self.history = {"iteration": [], "layers": {}, "histograms": []}

    def on_train_begin(self, solver):
        self.layers = nonlinear_layers(solver.model)
        self.history = {"iteration": [], "layers": {label: {"mean": [], "std": [], "dead": [], "saturated": []}
                                                   for label, _ in self.layers}, "histograms": []}

    def on_iteration_end(self, solver):
        it = solver.iteration
        per_epoch = getattr(solver, "iterations_per_epoch", 0) or 0
        want_hist = self.histograms and (not self.history["histograms"] or (per_epoch and it % per_epoch == 0))
        if not (_sampled(it, self.every) or want_hist):
            return
        with np.errstate(all="ignore"):
            if _sampled(it, self.every):
                self.history["iteration"].append(it)
                for label, layer in self.layers:
                    s = activation_summary(layer, layer.last_output)
                    for key in ("mean", "std", "dead", "saturated"):
                        self.history["layers"][label][key].append(s[key])
            if want_hist:
                self.history["histograms"].append({
                    "iteration": it, "epoch": solver.epoch,
                    "layers": {label: histogram(layer, layer.last_output) for label, layer in self.layers}})


class GradientMonitor(Callback):
    """Mean, std and norm of every parameter's gradient (as the update rule saw it, reg included), sampled.

    history: {'iteration': [...], 'params': {name: {'mean', 'std', 'norm': [...]}},
    'histograms': [{'iteration', 'epoch', 'params': {name: {'counts', 'edges'}}}]} (one per epoch).
    """

    def __init__(self, every: int = EVERY, histograms: bool = True):
        self.every = _check_every(self, every)
        self.histograms = histograms
        self.history = {"iteration": [], "params": {}, "histograms": []}

    def on_train_begin(self, solver):
        self.history = {"iteration": [], "params": {n: {"mean": [], "std": [], "norm": []} for n in solver.model.params},
                        "histograms": []}

    def on_iteration_end(self, solver):
        grads = solver.grads or {}
        it = solver.iteration
        per_epoch = getattr(solver, "iterations_per_epoch", 0) or 0
        with np.errstate(all="ignore"):
            if _sampled(it, self.every):
                self.history["iteration"].append(it)
                for n, series in self.history["params"].items():
                    s = array_summary(grads[n]) if n in grads else {"mean": math.nan, "std": math.nan, "norm": math.nan}
                    for key in ("mean", "std", "norm"):
                        series[key].append(s[key])
            if self.histograms and per_epoch and it % per_epoch == 0:
                self.history["histograms"].append({
                    "iteration": it, "epoch": solver.epoch,
                    "params": {n: histogram(None, grads[n]) for n in self.history["params"] if n in grads}})


class TrainingMonitor(Callback):
    """All monitors at once; ``history`` = {'every', 'update_ratio', 'weights', 'activations', 'gradients'}.

    Inputs: every, the sampling period of the per-iteration monitors (default 10:
    a few percent of a step's cost on the lecture's nets); histograms, whether
    to keep per-epoch activation and gradient histograms. Each Solver hook fires
    the same hook of every monitor, in order (``_fan_out``).
    """

    def __init__(self, every: int = EVERY, histograms: bool = True):
        self.every = _check_every(self, every)
        self.monitors = {
            "update_ratio": UpdateRatioMonitor(every),
            "weights": WeightStatsMonitor(),
            "activations": ActivationMonitor(every, histograms),
            "gradients": GradientMonitor(every, histograms),
        }

    @property
    def history(self) -> dict:
        return {"every": self.every, **{name: m.history for name, m in self.monitors.items()}}


def _fan_out(hook: str):
    """TrainingMonitor's ``hook``: the same hook of each of its monitors, in order."""
    def fire(self, solver, *args):  # on_train_abort also passes the exception
        for m in self.monitors.values():
            getattr(m, hook)(solver, *args)
    fire.__name__, fire.__qualname__ = hook, f"TrainingMonitor.{hook}"
    return fire


for _hook in HOOKS:
    setattr(TrainingMonitor, _hook, _fan_out(_hook))
del _hook
