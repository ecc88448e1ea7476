"""``diagnose_cause``: the one cause that all of a run's evidence points to, with advice that fits the run.

The rules read the evidence of ``babysit.doctor.run_evidence`` together, in the lecture's order
of suspicion: a wrong backward first (nothing else can be trusted), then the data's scale and the
initialization (visible at iteration 1), an exploding loss, dead or saturated units, and only then
the shape of learning (lr too low, nothing to learn, too little capacity, regularization too
strong, too few epochs, overfitting, a noisy plateau). Every threshold is a field of
``Thresholds``: ``tests/diagnosis_corpus`` fits them on one part of its scenarios and reports
the figures on the other.

Advice names settings through ``advice.setting`` markers and is computed from the run's own
settings: the learning rate is scaled from the current one, ``init``/``preprocess`` are only
advised when they differ from what the run used, and an exploded run is never told to train longer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from babysit.doctor.advice import format_setting, setting
from babysit.doctor.causes import CAUSES
from babysit.doctor.finding import Finding
from babysit.doctor.initial_checks import INIT_EXCESS_PASS


@dataclass(frozen=True)
class Thresholds:
    """The numbers the rules compare the evidence with (fitted on the corpus's fitting split)."""

    init_excess: float = INIT_EXCESS_PASS  # first loss above ln C by more than this * ln C: init too large
    input_std_far: float = 3.0  # inputs with std above this (or below 1/this), or |mean| above it: not normalized
    explode_peak: float = 3.0  # the lecture's guard: a loss above 3x its first value
    rise: float = 0.1  # the loss ends more than 10% above its start
    vanish_depth: float = 0.1  # last hidden layer's activation std below this fraction of the first's, at init
    explode_depth: float = 10.0  # ... above this multiple
    dead: float = 0.5  # fraction of dead ReLU units
    saturated: float = 0.5  # fraction of saturated tanh/sigmoid activations
    chance_margin: float = 0.1  # validation accuracy within this of chance: learned nothing
    ratio_low: float = 2e-4  # a run that learned nothing, with a median update ratio below this: lr too low
    ratio_slow: float = 5e-4  # a run that learns, but slowly (still falling, or not fitting): lr too low
    noise: float = 1.0  # the loss's step-to-step noise in the second half, relative to its level
    ratio_high: float = 1e-2  # the whole run's median update ratio above this (no explosion): lr a bit high
    still_learning: float = 0.15  # the last 30% of the run brought this share of the loss's drop
    val_gain: float = 0.05  # validation accuracy still rose this much over the last third of the epochs
    gap_overfit: float = 0.1  # train - validation accuracy
    fit_acc: float = 0.9  # train accuracy below this, with no gap and a converged loss: too small
    weight_shrink: float = 0.6  # weights' std fell to below this fraction of init: reg holds them down

    def to_dict(self) -> dict:
        return asdict(self)


THRESHOLDS = Thresholds()
RECTIFIER_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "maxout")


def effective_settings(settings: dict) -> dict:
    """The run's settings with the defaults filled in the way the recipe resolves them (init, activation...)."""
    s = dict(settings or {})
    s.setdefault("activation", None)
    activation = s["activation"] or "relu"
    s["activation"] = activation
    if s.get("init") is None:
        s["init"] = "small" if s.get("weight_scale") is not None else (
            "he" if activation in RECTIFIER_ACTIVATIONS else "xavier")
    s.setdefault("preprocess", "standardize")
    s.setdefault("reg", 0.0)
    s.setdefault("dropout", 0.0)
    return s


class _Advice:
    """Collects advice pieces, dropping any that would set what the run already has."""

    def __init__(self, settings):
        self.settings, self.parts, self.named = settings, [], {}

    def set(self, name, value, words: str) -> bool:
        current = self.settings.get(name)
        if current is not None and format_setting(current) == format_setting(value):
            return False
        self.parts.append(f"{words} ({setting(name, value)})")
        self.named[name] = value
        return True

    def say(self, words: str):
        self.parts.append(words)

    def text(self) -> str:
        return "; ".join(self.parts)


def _fan_in_init(s) -> str:
    return "he" if s["activation"] in RECTIFIER_ACTIVATIONS else "xavier"


def _bigger_model(model: str) -> str | None:
    from babysit.train.model_spec import parse_model_spec

    try:
        spec = parse_model_spec(model)
    except Exception:
        return None
    if spec.kind == "fc":
        if not spec.hidden_dims:
            return "fc:100"
        return "fc:" + ",".join(str(max(4 * h, 100)) for h in spec.hidden_dims)
    return None


def _advice_for(cause: str, s: dict, ev: dict) -> str:
    a = _Advice(s)
    lr = s.get("lr")
    if cause == "broken_gradient":
        a.say("fix the backward pass of the layer the gradient check names; do not tune anything before it passes")
    elif cause == "unnormalized_input":
        if not a.set("preprocess", "standardize", "standardize the inputs"):
            a.say("the inputs are still far from unit scale after preprocessing: check the data loading")
    elif cause == "init_too_large":
        if s.get("preprocess") == "none":
            a.set("preprocess", "standardize", "standardize the inputs (the init schemes assume unit variance)")
        if not a.set("init", _fan_in_init(s), "initialize by fan-in"):
            if s.get("normalization") != "batchnorm":
                a.set("normalization", "batchnorm", "add batchnorm")
            else:
                a.say("check the data scale and the loss (a sum instead of a mean over the batch)")
    elif cause == "init_too_small":
        if not a.set("init", _fan_in_init(s), "initialize by fan-in"):
            a.set("normalization", "batchnorm", "add batchnorm")
    elif cause == "lr_too_high":
        if lr:
            a.set("lr", lr / 10, "lower the learning rate 10x")
        a.say("and check the initial loss")
    elif cause == "lr_slightly_high":
        if lr:
            a.set("lr", lr / 3, "lower the learning rate")
        if not s.get("schedule"):
            a.set("schedule", "cosine", "or anneal it")
    elif cause == "dead_units":
        grew = (ev.get("dead_end") or 0) > (ev.get("dead_start") or 0) + 0.2
        if grew and lr:
            a.set("lr", lr / 10, "the units died during training: lower the learning rate")
        else:
            a.say("the units are dead from the start: check the biases' init (not large and negative)")
        if s["activation"] == "relu":
            a.set("activation", "leaky_relu", "or use a leaky ReLU")
    elif cause == "saturated_units":
        if lr:
            a.set("lr", lr / 10, "lower the learning rate")
        if s.get("normalization") != "batchnorm":
            a.set("normalization", "batchnorm", "or add batchnorm")
    elif cause == "lr_too_low":
        if lr:
            a.set("lr", lr * 10, "raise the learning rate 10x")
    elif cause == "no_signal":
        a.say("check that the labels belong to the inputs (not shuffled or misaligned) and that the inputs "
              "are not constant; no setting fixes that")
    elif cause == "capacity":
        bigger = _bigger_model(s.get("model", ""))
        if bigger:
            a.set("model", bigger, "use a bigger model")
        else:
            a.say("use a bigger model (more filters or layers)")
        if s.get("reg"):
            a.set("reg", s["reg"] / 10, "or lower the regularization")
    elif cause == "reg_too_strong":
        a.set("reg", (s.get("reg") or 0) / 10, "lower the regularization 10x")
    elif cause == "too_few_epochs":
        a.set("epochs", int(s.get("epochs") or 10) * 3, "train longer")
    elif cause == "overfitting":
        reg = s.get("reg") or 0.0
        a.set("reg", reg * 10 if reg else 1e-2, "regularize more")
        if not s.get("dropout") and str(s.get("model", "fc")).startswith("fc"):
            a.set("dropout", 0.5, "add dropout")
        a.say("or get more training data")
    return a.text()


def _decide(ev: dict, s: dict, checks, t: Thresholds, monitored: bool) -> tuple[str, float, list[str]]:
    """(cause, confidence, the evidence keys that decided it)."""
    grad = next((c for c in checks if c.check == "gradient_check"), None)
    if grad is not None and grad.status == "fail":
        return "broken_gradient", 0.95, ["gradient_check"]
    chance = ev.get("chance") or 0.0
    val = ev.get("val_acc")
    learned = val is not None and val > chance + t.chance_margin * (1 - chance)
    exploded = (ev.get("nonfinite_at") is not None or ev.get("status") in ("exploded", "diverged")
                or (ev.get("peak_ratio") or 0) > t.explode_peak
                or (ev.get("start") is not None and ev["end"] > ev["start"] * (1 + t.rise)))
    # the data's scale, then the init (visible at iteration 1)
    in_std, in_mean = ev.get("input_std"), ev.get("input_mean")
    off_scale = in_std is not None and (in_std > t.input_std_far or in_std < 1 / t.input_std_far
                                        or abs(in_mean) > t.input_std_far)
    excess = ev.get("init_excess")
    if excess is not None and ev.get("weight_sum_sq_first") is not None:
        excess -= 0.5 * (s.get("reg") or 0.0) * ev["weight_sum_sq_first"]  # the L2 term is not the init's fault
    ln_c = ev.get("ln_c") or 1.0
    too_large_start = excess is not None and excess > t.init_excess * ln_c
    if off_scale:
        cause, _, _ = _decide_model(ev, s, t, monitored, learned, exploded, too_large_start, excess)
        if cause != "healthy":  # whatever went wrong, the init schemes assumed unit-variance inputs
            return "unnormalized_input", 0.8, ["input_std", "input_mean", "init_excess"]
        return cause, 0.6, ["input_std", "val_acc"]
    return _decide_model(ev, s, t, monitored, learned, exploded, too_large_start, excess)


def _decide_model(ev, s, t, monitored, learned, exploded, too_large_start, excess):
    sat0, dead0 = ev.get("saturated_start"), ev.get("dead_start")
    depth = ev.get("act_depth_ratio")
    if too_large_start or (sat0 is not None and sat0 > t.saturated) or (depth is not None and depth > t.explode_depth):
        return "init_too_large", 0.8 if too_large_start else 0.6, ["init_excess", "saturated_start",
                                                                    "act_depth_ratio"]
    if exploded:
        return "lr_too_high", 0.9, ["nonfinite_at", "peak_ratio", "start", "end", "status"]
    if depth is not None and depth < t.vanish_depth and (ev.get("layers") or 0) >= 2:
        return "init_too_small", 0.75, ["act_depth_ratio", "act_std_first", "act_std_last"]
    dead_end, sat_end = ev.get("dead_end"), ev.get("saturated_end")
    if (dead0 is not None and dead0 > t.dead) or (dead_end is not None and dead_end > t.dead):
        return "dead_units", 0.7, ["dead_start", "dead_end"]
    if sat_end is not None and sat_end > t.saturated:
        return "saturated_units", 0.6, ["saturated_start", "saturated_end"]
    ratio = ev.get("ratio_median")
    slow = ratio is not None and ratio < t.ratio_low
    slowish = ratio is not None and ratio < t.ratio_slow
    still = ((ev.get("late_share") or 0) > t.still_learning or (ev.get("val_gain_late") or 0) > t.val_gain)
    weights_shrank = (ev.get("weight_std_change") is not None and ev["weight_std_change"] < t.weight_shrink
                      and (s.get("reg") or 0) > 0)
    gap = ev.get("gap")
    train = ev.get("train_acc")
    if not learned:
        if slow or (not monitored and (ev.get("rel_drop") or 0) < 0.05):
            return "lr_too_low", 0.8 if slow else 0.5, ["ratio_median", "rel_drop", "val_acc"]
        if weights_shrank:
            return "reg_too_strong", 0.6, ["weight_std_change", "train_acc"]
        return "no_signal", 0.7 if (gap or 0) > 0.05 or (ev.get("rel_drop") or 0) > 0.05 else 0.5, \
            ["val_acc", "chance", "train_acc", "ratio_median"]
    if slowish and still:
        return "lr_too_low", 0.75, ["ratio_median", "ratio_low_share", "late_share"]
    if weights_shrank and train is not None and train < t.fit_acc:
        return "reg_too_strong", 0.7, ["weight_std_change", "train_acc", "gap"]
    if gap is not None and gap > t.gap_overfit:
        return "overfitting", 0.8, ["gap", "train_acc", "val_acc"]
    noisy = ev.get("tail_noise") is not None and ev["tail_noise"] > t.noise
    if ratio is not None and ratio > t.ratio_high and noisy:
        return "lr_slightly_high", 0.6, ["ratio_median", "tail_noise", "end"]
    if still:
        return "too_few_epochs", 0.7, ["late_share", "val_gain_late", "ratio_median"]
    if train is not None and train < t.fit_acc:
        if slowish:
            return "lr_too_low", 0.6, ["ratio_median", "train_acc", "lr_decayed"]
        return "capacity", 0.6, ["train_acc", "gap", "late_share", "ratio_median"]
    return "healthy", 0.7 if monitored else 0.5, ["val_acc", "gap", "ratio_median", "late_share"]


def _explain(cause: str, ev: dict) -> str:
    def f(key, fmt="{:.3g}"):
        v = ev.get(key)
        return "?" if v is None else fmt.format(v)

    bits = {
        "broken_gradient": "the gradient check fails",
        "unnormalized_input": f"the inputs have mean {f('input_mean')} and std {f('input_std')}, and the run "
                              f"starts at loss {f('loss_first')} (ln C = {f('ln_c')})",
        "init_too_large": f"the first loss is {f('loss_first')} vs ln C = {f('ln_c')}; saturated at init "
                          f"{f('saturated_start', '{:.0%}')}, activation std last/first layer {f('act_depth_ratio')}",
        "lr_too_high": f"the loss goes from {f('start')} to {f('end')} (peak {f('peak_ratio')}x its first value"
                       + (f", non-finite at iteration {f('nonfinite_at', '{}')}" if ev.get("nonfinite_at") is not None
                          else "") + f", status {f('status', '{}')})",
        "init_too_small": f"at init the last hidden layer's activations have {f('act_depth_ratio')}x the std of "
                          f"the first's ({f('act_std_last')} vs {f('act_std_first')}): they vanish with depth",
        "dead_units": f"dead ReLU units: {f('dead_start', '{:.0%}')} at the start, {f('dead_end', '{:.0%}')} "
                      "at the end (worst layer)",
        "saturated_units": f"saturated activations: {f('saturated_start', '{:.0%}')} at the start, "
                           f"{f('saturated_end', '{:.0%}')} at the end",
        "lr_too_low": f"the update/weight ratio over the whole run has median {f('ratio_median', '{:.1e}')} "
                      f"(the lecture wants ~1e-3); the loss fell {f('rel_drop', '{:.0%}')}, the last 30% of the "
                      f"run brought {f('late_share', '{:.0%}')} of it; validation {f('val_acc', '{:.1%}')}",
        "no_signal": f"validation accuracy {f('val_acc', '{:.1%}')} is at chance ({f('chance', '{:.1%}')}) while "
                     f"the weights move normally (update ratio {f('ratio_median', '{:.1e}')}) and train "
                     f"accuracy reaches {f('train_acc', '{:.1%}')}",
        "capacity": f"train accuracy stalls at {f('train_acc', '{:.1%}')} with validation {f('val_acc', '{:.1%}')}, "
                    f"the loss has converged (the last 30% brought {f('late_share', '{:.0%}')} of its drop) and "
                    f"the updates are healthy ({f('ratio_median', '{:.1e}')})",
        "reg_too_strong": f"the weights shrank to {f('weight_std_change', '{:.0%}')} of their initial std and "
                          f"train accuracy is {f('train_acc', '{:.1%}')}",
        "too_few_epochs": f"the loss was still falling at the end (the last 30% brought {f('late_share', '{:.0%}')} "
                          f"of its drop; validation +{f('val_gain_late', '{:.1%}')} over the last third) with "
                          f"healthy updates ({f('ratio_median', '{:.1e}')})",
        "overfitting": f"train accuracy {f('train_acc', '{:.1%}')} vs validation {f('val_acc', '{:.1%}')}: a "
                       f"{f('gap', '{:.0%}')} gap",
        "lr_slightly_high": f"updates are {f('ratio_median', '{:.1e}')} of the weights per step over the run "
                            f"(median; the lecture wants ~1e-3) and the loss stalls at {f('end')}, jumping by "
                            f"{f('tail_noise')}x its level from step to step",
        "healthy": f"validation {f('val_acc', '{:.1%}')} (train {f('train_acc', '{:.1%}')}), updates "
                   f"{f('ratio_median', '{:.1e}')}, the loss has settled",
    }
    return f"{CAUSES[cause]}: {bits[cause]}"


def diagnose_cause(evidence: dict, settings: dict | None = None, *, checks=(), thresholds: Thresholds = THRESHOLDS,
                   monitored: bool = True) -> Finding:
    """The 'diagnosis' Finding: cause, confidence, the evidence it rests on, and advice in setting markers.

    Inputs: evidence from ``run_evidence``; settings, the run's TrainConfig as a dict; checks, doctor
    Findings about the same setup; thresholds; monitored, whether the monitors were on (without
    update ratios and activation statistics the confidence is lower).
    """
    s = effective_settings(settings or {})
    cause, confidence, keys = _decide(evidence, s, list(checks), thresholds, monitored)
    if not monitored and cause not in ("broken_gradient", "lr_too_high"):
        confidence *= 0.7
    used = {k: evidence.get(k) for k in keys if k in evidence}
    if cause == "broken_gradient":
        grad = next(c for c in checks if c.check == "gradient_check")
        used = {"gradient_check": grad.explanation, "relative_error": grad.value}
    advice = _advice_for(cause, s, evidence)
    status = "pass" if cause == "healthy" else "fail" if cause in ("broken_gradient", "lr_too_high") else "warn"
    details = {"evidence_all": {k: v for k, v in evidence.items() if not isinstance(v, float) or math.isfinite(v)}}
    return Finding("diagnosis", status, cause, "healthy", _explain(cause, evidence), advice, details,
                   cause=cause, confidence=round(min(max(confidence, 0.0), 1.0), 2), evidence=used)
