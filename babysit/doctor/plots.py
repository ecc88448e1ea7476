"""PNG plots of what the doctor and the monitors measured (matplotlib, no display needed).

Figures are built with ``matplotlib.figure.Figure`` and saved by the Agg
renderer, so nothing touches pyplot's global state or needs a display.
Every function takes plain lists/dicts (what the checks and monitors record)
and a path, and returns the path it wrote.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from babysit.doctor.update_ratio_check import RATIO_BAND

STATUS_COLORS = {"pass": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828"}
VERDICT_COLORS = {"good": "#2e7d32", "too_low": "#1565c0", "too_high": "#c62828"}


def _figure(width=7.0, height=4.0, **kwargs):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path


def _annotate(ax, finding) -> None:
    """Write the finding's verdict in a colored box in the corner of ``ax``."""
    if finding is None:
        return
    text = f"{finding.status.upper()}: {finding.value}" if not isinstance(finding.value, dict) else finding.status.upper()
    wrapped = _wrap(finding.explanation, 70)
    ax.text(0.99, 0.98, f"{text}\n{wrapped}", transform=ax.transAxes, ha="right", va="top", fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": STATUS_COLORS.get(finding.status, "grey")})


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def plot_loss_curve(loss_history, path, finding=None, title="Training loss") -> Path:
    """Loss per iteration (raw and smoothed), annotated with the loss-curve diagnosis."""
    L = np.asarray(list(loss_history), dtype=np.float64)
    fig = _figure()
    ax = fig.add_subplot()
    it = np.arange(1, len(L) + 1)
    finite = np.isfinite(L)
    ax.plot(it[finite], L[finite], color="#90a4ae", lw=0.8, label="loss per iteration")
    if finite.sum() >= 10:
        w = max(1, len(L) // 25)
        smooth = np.convolve(np.where(finite, L, np.nan), np.ones(w) / w, mode="valid")
        centre = it[(w - 1) // 2:(w - 1) // 2 + len(smooth)]  # centred window: no lag behind the raw curve
        ax.plot(centre, smooth, color="#1565c0", lw=1.8, label=f"moving average ({w})")
    details = finding.details if finding is not None else {}
    for key, label in (("drop_at", "drop"), ("peak_at", "peak"), ("nonfinite_at", "NaN/inf")):
        if key in details:
            ax.axvline(details[key], color=STATUS_COLORS.get(finding.status, "grey"), ls="--", lw=1)
            ax.text(details[key], ax.get_ylim()[1], f" {label}", va="top", fontsize=8)
    if finite.any() and np.nanmax(L[finite]) > 50 * max(np.nanmin(L[finite]), 1e-12):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    _annotate(ax, finding)
    return _save(fig, path)


def plot_accuracy(train_acc_history, val_acc_history, path, finding=None) -> Path:
    """Train and validation accuracy per epoch, annotated with the gap diagnosis."""
    fig = _figure()
    ax = fig.add_subplot()
    epochs = np.arange(1, len(train_acc_history) + 1)
    ax.plot(epochs, train_acc_history, "o-", color="#1565c0", label="train")
    ax.plot(np.arange(1, len(val_acc_history) + 1), val_acc_history, "o-", color="#ef6c00", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("Accuracy")
    ax.legend(loc="lower left", fontsize=8)
    _annotate(ax, finding)
    return _save(fig, path)


def plot_update_ratios(update_ratio_history, path, finding=None) -> Path:
    """||update|| / ||W|| per parameter over iterations on a log axis, with the lecture's ~1e-3 band."""
    fig = _figure()
    ax = fig.add_subplot()
    its = update_ratio_history.get("iteration", [])
    for name, values in update_ratio_history.get("params", {}).items():
        v = np.asarray(values, dtype=np.float64)
        v = np.where(v > 0, v, np.nan)  # zero (no update) cannot sit on a log axis
        ax.plot(its[:len(v)], v, "o-" if len(v) < 30 else "-", ms=3, label=name)
    ax.axhspan(RATIO_BAND[0], RATIO_BAND[1], color="#c8e6c9", alpha=0.5, label="healthy band")
    ax.axhline(1e-3, color="#2e7d32", ls="--", lw=1, label="1e-3 (the lecture)")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("||update|| / ||W||")
    ax.set_title("Update / weight ratio per layer")
    ax.legend(loc="lower left", fontsize=7, ncol=2)
    _annotate(ax, finding)
    return _save(fig, path)


def plot_activation_histograms(layer_stats, path, title="Activations at initialization") -> Path:
    """The lecture's figure: layer mean and std across layers on top, one histogram per layer below.

    Inputs: layer_stats, [{'layer', 'mean', 'std', 'histogram': {'counts', 'edges'}}, ...]
    (``activation_stats`` details['layers']).
    """
    n = max(len(layer_stats), 1)
    fig = _figure(max(8.0, 1.7 * n), 6.0)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    ax_mean, ax_std = top.subplots(1, 2)
    idx = np.arange(1, len(layer_stats) + 1)
    ax_mean.plot(idx, [s["mean"] for s in layer_stats], "ob-")
    ax_mean.set_title("layer mean")
    ax_std.plot(idx, [s["std"] for s in layer_stats], "or-")
    ax_std.set_title("layer std")
    for ax in (ax_mean, ax_std):
        ax.set_xticks(idx, [s["layer"] for s in layer_stats], rotation=45, fontsize=7)
    axes = np.atleast_1d(bottom.subplots(1, n, sharey=False))
    for ax, s in zip(axes, layer_stats):
        counts, edges = np.asarray(s["histogram"]["counts"]), np.asarray(s["histogram"]["edges"])
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#5c6bc0")
        ax.set_title(s["layer"], fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    fig.suptitle(title)
    return _save(fig, path)


def plot_weight_stats(weight_history, path, title="Weights over training") -> Path:
    """Mean and std of every weight per epoch (the lecture's "mean/std of weights" panels)."""
    fig = _figure(9.0, 3.8)
    ax_mean, ax_std = fig.subplots(1, 2)
    epochs = weight_history.get("epoch", [])
    for name, series in weight_history.get("params", {}).items():
        ax_mean.plot(epochs[:len(series["mean"])], series["mean"], label=name)
        ax_std.plot(epochs[:len(series["std"])], series["std"], label=name)
    ax_mean.set_title("mean of weights")
    ax_std.set_title("std of weights")
    for ax in (ax_mean, ax_std):
        ax.set_xlabel("epoch")
    ax_std.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def plot_lr_probes(probes, path, finding=None) -> Path:
    """Loss curves of the learning-rate probes, colored by verdict (too_low / good / too_high)."""
    fig = _figure()
    ax = fig.add_subplot()
    for p in probes:
        L = np.asarray(p.get("losses", []), dtype=np.float64)
        L = np.where(np.isfinite(L), L, np.nan)
        ax.plot(np.arange(1, len(L) + 1), L, color=VERDICT_COLORS.get(p["verdict"], "grey"),
                alpha=0.4 + 0.6 * (p["verdict"] == "good"), label=f"lr {p['lr']:g}: {p['verdict']}")
    finite = [x for p in probes for x in p.get("losses", []) if isinstance(x, float) and math.isfinite(x)]
    if finite and max(finite) > 50 * max(min(finite), 1e-12):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("Learning-rate probes")
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    _annotate(ax, finding)
    return _save(fig, path)


def plot_input_batch(X, path, y=None, class_names=None, rows: int = 16) -> Path:
    """The data as the model sees it (Karpathy's "visualize just before the net"): one batch after
    preprocessing as a picture grid (each image min-max scaled for display; flat rows as strips),
    and the per-channel mean and std the model receives."""
    X = np.asarray(X[:rows], dtype=np.float64)
    n = len(X)
    images = X.ndim == 4
    channels = X.shape[1] if images else 1
    fig = _figure(9.0, 5.0)
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2, 1])
    cols = min(8, max(n, 1))
    grid = top.subplots(max(1, math.ceil(n / cols)), cols, squeeze=False)
    for i, ax in enumerate(grid.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        x = X[i]
        img = np.moveaxis(x, 0, -1) if images else x.reshape(1, -1)
        lo, hi = float(np.min(img)), float(np.max(img))
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        if images and channels == 1:
            img = img[..., 0]
        ax.imshow(img, cmap="gray" if (not images or channels == 1) else None, aspect="auto" if not images else None)
        if y is not None:
            label = y[i] if class_names is None else class_names[int(y[i])]
            ax.set_title(str(label), fontsize=7)
    top.suptitle("one batch as the model sees it (after preprocessing; each image scaled to its own range)")
    ax = bottom.subplots()
    per = X.reshape(n, channels, -1) if images else X.reshape(n, 1, -1)
    means, stds = per.mean(axis=(0, 2)), per.std(axis=(0, 2))
    idx = np.arange(channels)
    ax.bar(idx - 0.2, means, 0.4, label="mean")
    ax.bar(idx + 0.2, stds, 0.4, label="std")
    ax.set_xticks(idx, [f"channel {c}" for c in idx] if images else ["all features"])
    ax.axhline(0, color="grey", lw=0.5)
    ax.axhline(1, color="grey", lw=0.5, ls=":")
    ax.legend(fontsize=8)
    ax.set_title("per-channel mean and std (the init schemes assume ~0 and ~1)", fontsize=9)
    return _save(fig, path)


def save_doctor_plots(findings, directory) -> list[Path]:
    """Write every plot the findings have data for into ``directory``; returns the paths written."""
    directory = Path(directory)
    by_name = {f.check: f for f in findings}
    written = []
    if "activation_stats" in by_name and by_name["activation_stats"].details.get("layers"):
        written.append(plot_activation_histograms(by_name["activation_stats"].details["layers"],
                                                  directory / "activation_histograms.png"))
    if "lr_range" in by_name and by_name["lr_range"].details.get("probes"):
        f = by_name["lr_range"]
        written.append(plot_lr_probes(f.details["probes"], directory / "lr_range.png", f))
    if "overfit_small" in by_name and by_name["overfit_small"].details.get("loss_history"):
        from babysit.doctor.diagnoses import diagnose_loss_curve

        f = by_name["overfit_small"]
        curve = f.details["loss_history"]
        written.append(plot_loss_curve(curve, directory / "overfit_loss.png", diagnose_loss_curve(curve),
                                       title=f"Overfitting {f.details['rows']} examples (lr {f.details['lr']:g})"))
        written.append(plot_accuracy(f.details["train_acc_history"], [], directory / "overfit_accuracy.png", f))
        if f.details.get("weights", {}).get("epoch"):
            written.append(plot_weight_stats(f.details["weights"], directory / "overfit_weights.png",
                                             title="Weights while overfitting the small set"))
    if "update_ratio" in by_name and by_name["update_ratio"].details.get("history"):
        f = by_name["update_ratio"]
        written.append(plot_update_ratios(f.details["history"], directory / "update_ratios.png", f))
    return written


def save_run_plots(loss_history, train_acc_history, val_acc_history, monitor_history, findings, directory) -> list[Path]:
    """Plots of a training run: loss, accuracy, update ratios, last activation histograms, weights."""
    directory = Path(directory)
    by_name = {f.check: f for f in findings}
    written = [plot_loss_curve(loss_history, directory / "loss.png", by_name.get("loss_curve"))]
    if len(train_acc_history):
        written.append(plot_accuracy(train_acc_history, val_acc_history, directory / "accuracy.png",
                                     by_name.get("accuracy_gap")))
    history = monitor_history or {}
    if history.get("update_ratio", {}).get("iteration"):
        written.append(plot_update_ratios(history["update_ratio"], directory / "update_ratios.png",
                                          by_name.get("update_ratios")))
    hists = history.get("activations", {}).get("histograms", [])
    if hists:
        last = hists[-1]
        stats = history["activations"]["layers"]
        layer_stats = [{"layer": label, "mean": stats[label]["mean"][-1] if stats[label]["mean"] else 0.0,
                        "std": stats[label]["std"][-1] if stats[label]["std"] else 0.0, "histogram": h}
                       for label, h in last["layers"].items()]
        written.append(plot_activation_histograms(layer_stats, directory / "activation_histograms.png",
                                                  title=f"Activations at iteration {last['iteration']}"))
    if history.get("weights", {}).get("epoch"):
        written.append(plot_weight_stats(history["weights"], directory / "weights.png"))
    return written
