"""``babysit init-stats``: the lecture's activation-statistics experiment."""

from __future__ import annotations

from pathlib import Path

from babysit.errors import ConfigError
from babysit.experiments.init_stats import (format_init_stats, init_stats_verdict, plot_init_stats, plot_path,
                                           run_init_stats)
from babysit.nn.init import INIT_SCHEMES
from babysit.nn.activations import ACTIVATIONS


def add_parser(sub, name):
    p = sub.add_parser(name, help="activation statistics of a deep net at initialization (the lecture's experiment)",
                       description="Forward unit-Gaussian data through a deep net and print each layer's "
                                   "activation mean and std, as on the lecture's slides.")
    p.add_argument("--layers", type=int, default=10, help="number of hidden layers (default 10)")
    p.add_argument("--width", type=int, default=500, help="units per layer, and input dimension (default 500)")
    p.add_argument("--samples", type=int, default=1000, help="number of input rows (default 1000)")
    p.add_argument("--activation", default="tanh", choices=sorted(ACTIVATIONS), help="nonlinearity (default tanh)")
    p.add_argument("--init", default="small", choices=INIT_SCHEMES,
                   help="weight init: small = weight-scale * randn (default), xavier, he, zeros")
    p.add_argument("--weight-scale", type=float, default=None, help="std for --init small (default 0.01)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--plot", type=Path, default=None, help="save mean/std plots and histograms to this PNG (a folder: FOLDER/init_stats.png)")
    p.set_defaults(run=run)


FLAGS = {"plot_init_stats.path": "--plot"}


def run(args) -> int:
    if args.weight_scale is not None and args.init != "small":
        raise ConfigError(f"--weight-scale applies to --init small only; got --init {args.init}")
    if args.plot is not None:
        plot_path(args.plot)  # a bad path fails before the experiment runs
    stats = run_init_stats(args.layers, args.width, args.samples, args.activation, args.init,
                           args.weight_scale, args.seed)
    print("\n".join(format_init_stats(stats)))
    cause, verdict = init_stats_verdict(stats)
    print(f"verdict ({cause}): {verdict}")
    if args.plot is not None:
        written = plot_init_stats(stats, args.plot)
        print(f"saved plot to {written}")
    return 0
