"""The lecture's activation-statistics experiment (slides "Lets look at some activation statistics").

A deep net (10 layers of 500 units by default) is fed unit-Gaussian data and the
mean and std of every layer's activations are printed: with tanh and
``0.01 * randn`` they collapse to zero, with ``1.0 * randn`` they saturate at
~0.98, Xavier keeps tanh alive (0.63 -> 0.23) but halves ReLU at every layer,
and He's extra /2 keeps ReLU near 0.8. The layers are the engine's own
(``Affine`` with zero bias, then the activation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babysit.nn.activations import ACTIVATIONS, make_activation
from babysit.nn.affine import Affine
from babysit.nn.init import resolve_init
from babysit.fileio import atomic_path
from babysit.validation import AT_LEAST_ONE, NON_NEGATIVE, check_choice, check_int, invalid


@dataclass
class InitStats:
    """What the experiment measured: input and per-layer activation mean/std."""

    activation: str
    init: str
    weight_scale: float | None
    input_mean: float
    input_std: float
    layer_means: list[float]
    layer_stds: list[float]
    activations: list[np.ndarray] = field(repr=False, default_factory=list)


def run_init_stats(layers: int = 10, width: int = 500, samples: int = 1000, activation: str = "tanh",
                   init: str | None = "small", weight_scale: float | None = None, seed: int | None = 0,
                   dtype=np.float64) -> InitStats:
    """Forward unit-Gaussian data (samples, width) through ``layers`` affine+activation layers.

    ``init='small'`` uses ``weight_scale`` (default 0.01, the slide's); other
    schemes ignore it. Returns the per-layer statistics and the activations.
    """
    for name, v in (("layers", layers), ("width", width), ("samples", samples)):
        check_int("run_init_stats", name, v, AT_LEAST_ONE)
    check_choice("run_init_stats", "activation", activation, ACTIVATIONS)
    if seed is not None:
        check_int("run_init_stats", "seed", seed, NON_NEGATIVE)
    if init == "small" and weight_scale is None:
        weight_scale = 0.01
    scheme, scale = resolve_init(init, weight_scale if init in (None, "small") else None, activation,
                                 "run_init_stats")
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((samples, width)).astype(dtype)
    x, outs = D, []
    for _ in range(layers):
        affine = Affine(x.shape[1], width, init=scheme, weight_scale=scale, dtype=dtype, rng=rng)
        act = make_activation(activation, dtype=dtype)
        x = act.forward(affine.forward(x))
        outs.append(x)
    return InitStats(activation, scheme, scale, float(np.mean(D)), float(np.std(D)),
                     [float(np.mean(h)) for h in outs], [float(np.std(h)) for h in outs], outs)


def format_init_stats(stats: InitStats) -> list[str]:
    """The slide's printout: ``input layer had mean 0.000927 and std 0.998388`` then one line per layer."""
    lines = [f"input layer had mean {stats.input_mean:f} and std {stats.input_std:f}"]
    lines += [f"hidden layer {i} had mean {m:f} and std {s:f}"
              for i, (m, s) in enumerate(zip(stats.layer_means, stats.layer_stds), start=1)]
    return lines


VANISH = 0.1  # a layer's std below this fraction of the first layer's: the activations are collapsing
EXPLODE = 10.0  # ... above this multiple: they are blowing up
SATURATED = 0.5  # tanh/sigmoid: this fraction of the activations on the flat tails (|tanh| > 0.99)


def init_stats_verdict(stats: InitStats) -> tuple[str, str]:
    """What the table shows, in words, and its cause (``babysit.doctor.causes``).

    Collapse to zero (std below 10% of the first layer's: weights too small), saturation of
    tanh/sigmoid (half the activations on the flat tails: too large), growth (10x: too large),
    else healthy.
    """
    stds, n = stats.layer_stds, len(stats.layer_stds)
    first = stds[0]
    scale = f"{stats.init} x {stats.weight_scale:g}" if stats.init == "small" else stats.init
    if first == 0.0:
        return "init_too_small", (f"every activation is 0 from layer 1 on ({scale} init): all units compute the "
                                  "same thing and no gradient can tell them apart")
    for k, a in enumerate(stats.activations, start=1):
        tails = (np.abs(a) > 0.99) if stats.activation == "tanh" else (
            (a < 0.01) | (a > 0.99) if stats.activation == "sigmoid" else None)
        share = float(np.mean(tails)) if tails is not None else 0.0
        if share > SATURATED:
            return "init_too_large", (f"the {stats.activation} units saturate by layer {k} ({share:.0%} of the "
                                      f"activations at +-1): the local gradients are ~0, the weights are too "
                                      f"large ({scale}); use xavier for {stats.activation}")
    collapsed = next((k for k, sd in enumerate(stds, start=1) if sd < VANISH * first), None)
    if collapsed is not None:
        fix = "he" if stats.activation in ("relu", "leaky_relu", "prelu", "elu") else "xavier"
        return "init_too_small", (f"activations collapse towards zero by layer {collapsed} (std {first:.3g} in layer "
                                  f"1, {stds[collapsed - 1]:.2g} in layer {collapsed}, {stds[-1]:.2g} in layer {n}): "
                                  f"the weights are too small ({scale}) for {stats.activation}; use {fix}")
    grown = next((k for k, sd in enumerate(stds, start=1) if sd > EXPLODE * first), None)
    if grown is not None:
        return "init_too_large", (f"activations grow with depth (std {first:.3g} in layer 1, {stds[grown - 1]:.3g} in "
                                  f"layer {grown}): the weights are too large ({scale})")
    return "healthy", (f"activations keep their scale through all {n} layers (std {first:.3g} in layer 1, "
                       f"{stds[-1]:.3g} in layer {n}): {scale} suits {stats.activation}")


PLOT_NAME = "init_stats.png"  # the file written into a folder given as the plot's path


def plot_path(path) -> Path:
    """Where ``plot_init_stats(stats, path)`` writes: ``path`` itself, ``path/init_stats.png`` for a folder,
    ``path.png`` for a name without a suffix (the image format follows the suffix: .png, .pdf, .svg)."""
    path = Path(path)
    if path.is_dir():
        path = path / PLOT_NAME
    elif not path.suffix:
        path = path.with_name(path.name + ".png")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise invalid("plot_init_stats", "path", "a folder or an image file name ending in "
                      + ", ".join(f".{f}" for f in sorted(formats)), str(path))
    if not path.parent.is_dir():
        raise invalid("plot_init_stats", "path", f"in an existing folder ({path.parent} does not exist)", str(path))
    return path


def plot_init_stats(stats: InitStats, path) -> Path:
    """Save the slide's figures as one image (atomically): layer mean, layer std, and a histogram per layer.

    Returns the path written (``plot_path(path)``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(stats.layer_means)
    fig = plt.figure(figsize=(max(10, 1.6 * n), 6.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    ax_mean, ax_std = top.subplots(1, 2)
    layers = np.arange(1, n + 1)
    ax_mean.plot(layers, stats.layer_means, "ob-")
    ax_mean.set_title("layer mean")
    ax_std.plot(layers, stats.layer_stds, "or-")
    ax_std.set_title("layer std")
    for ax in (ax_mean, ax_std):
        ax.set_xlabel("hidden layer")
        ax.set_xticks(layers)
    scale = f" x {stats.weight_scale:g}" if stats.init == "small" else ""
    top.suptitle(f"{n} layers, {stats.activation}, init {stats.init}{scale}")
    lo = -1.0 if stats.activation in ("tanh", "sigmoid") or min(stats.layer_means) < 0 else 0.0
    hist_axes = np.atleast_1d(bottom.subplots(1, n, sharey=True))
    for i, (ax, h) in enumerate(zip(hist_axes, stats.activations), start=1):
        ax.hist(h.ravel(), 30, range=(lo, 1.0))
        ax.set_title(f"layer {i}", fontsize=8)
        ax.tick_params(labelsize=6)
    bottom.suptitle("activation histograms")
    target = plot_path(path)
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=100, format=target.suffix[1:].lower())
    finally:
        plt.close(fig)
    return target
