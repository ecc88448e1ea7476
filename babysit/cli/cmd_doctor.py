"""``babysit doctor``: the lecture's sanity checks on a model and a data set, explained."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from babysit.cli.kernel_option import add_kernels_argument
from babysit.errors import ConfigError
from babysit.fileio import atomic_write, dumps

DEFAULT_CHECKS_HELP = ("initial_loss,regularization,gradient_check,overfit_small,lr_range,activation_stats,update_ratio,"
                       "input_baseline")


def add_parser(sub, name):
    from babysit.nn.init import INIT_SCHEMES
    from babysit.nn.models import MODEL_ACTIVATIONS
    from babysit.train.optim import UPDATE_RULES
    from babysit.train.recipe import TrainConfig

    p = sub.add_parser(name, help="sanity-check a model on a data set before training (the lecture's babysitting)",
                       description="Run the lecture's checks on a fresh model: initial loss ~ ln(C), "
                                   "regularization raises the loss, gradient check, overfit 20 examples, "
                                   "learning-rate probes, activation statistics at init, update/weight ratio, an "
                                   "input-independent baseline (zeroed inputs must do clearly worse). "
                                   "Exit 0 when nothing fails, 1 when a check fails, 2 on bad input.")
    p.add_argument("--data", default="digits", help="digits (default, embedded) | cifar10:DIR | folder:PATH | npz:PATH")
    p.add_argument("--model", default="fc:50", help="fc:H1,H2,... or conv:F1,F2[/H1,...] (default fc:50)")
    p.add_argument("--activation", choices=MODEL_ACTIVATIONS, default=None, help="nonlinearity (default relu)")
    p.add_argument("--init", choices=INIT_SCHEMES, default=None,
                   help="weight init (default: he for relu, xavier for tanh/sigmoid)")
    p.add_argument("--weight-scale", type=float, default=None, help="std of the weights for --init small")
    p.add_argument("--normalization", choices=("none", "batchnorm"), default="none", help="default none")
    p.add_argument("--dropout", type=float, default=0.0, help="drop probability (default 0)")
    p.add_argument("--reg", type=float, default=0.0, help="L2 strength of the model (default 0)")
    p.add_argument("--lr", type=float, default=None,
                   help="a learning rate to judge (update_ratio, and overfit_small's first try); "
                        "default: lr_range's suggestion, the working rate whose update ratio is nearest 1e-3")
    p.add_argument("--update", choices=list(UPDATE_RULES), default="sgd",
                   help="update rule of the lr probes and update ratio (default sgd, as in the lecture)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size,
                   help=f"minibatch size of the short runs (default {TrainConfig.batch_size}, the recipe's)")
    p.add_argument("--preprocess", default="standardize",
                   help="none | mean_image | channel_mean | standardize (default: the init schemes assume "
                        "unit-variance inputs) | pca:K | pca_whiten[:K] | zca_whiten")
    p.add_argument("--checks", default=None, help=f"comma-separated subset of {DEFAULT_CHECKS_HELP} (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, init and sampling (default 0)")
    p.add_argument("--json", type=Path, default=None, help='write {"findings": [...]} to this file')
    p.add_argument("--plots", type=Path, default=None,
                   help="save PNG plots into this directory (the checks', and input_batch.png: one batch as the "
                        "model sees it, with per-channel statistics)")
    add_kernels_argument(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from babysit.data import prepare
    from babysit.doctor import resolve_checks, run_doctor, worst_status
    from babysit.doctor.inputs import as_dataset
    from babysit.doctor.report import format_advice, format_row, format_summary, marks_for
    from babysit.train.recipe import TrainConfig, model_factory
    from babysit.validation import AT_LEAST_ONE, POSITIVE, check_int, check_optional_float

    # Everything that can be wrong with the command line fails here, before any data is read.
    checks = resolve_checks(args.checks)
    check_optional_float("doctor", "lr", args.lr, POSITIVE)
    check_int("doctor", "batch_size", args.batch_size, AT_LEAST_ONE)
    if args.json is not None and not args.json.parent.exists():
        raise ConfigError(f"--json: directory {args.json.parent} does not exist")
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise ConfigError(f"--plots: {args.plots} exists and is not a directory")
    config = TrainConfig(data=args.data, preprocess=args.preprocess, seed=args.seed, model=args.model,
                         activation=args.activation, init=args.init, weight_scale=args.weight_scale,
                         normalization=None if args.normalization == "none" else args.normalization,
                         dropout=args.dropout, reg=args.reg)

    start = time.perf_counter()
    dataset, _ = prepare(config.data, config.preprocess, config.seed)
    as_dataset(dataset)  # one-class data and the like: a clear error now
    make_model = model_factory(config, dataset.input_shape, dataset.num_classes)
    model = make_model()  # a spec that cannot be built fails here, as bad input
    marks = marks_for(getattr(sys.stdout, "encoding", None))
    print(f"babysit doctor: {args.data} ({len(dataset.y_train)} training rows, {dataset.num_classes} classes, "
          f"preprocess {args.preprocess}), model {config.model_spec()} ({model.num_params():,} parameters), "
          f"seed {args.seed}")
    findings = run_doctor(make_model, dataset, checks, args.seed, lr=args.lr, update_rule=args.update,
                          batch_size=args.batch_size, on_finding=lambda f: print(format_row(f, marks), flush=True))
    seconds = time.perf_counter() - start
    for line in format_advice(findings, getattr(args, "flags", None) or {}):
        print(line)
    print()
    print(format_summary(findings, seconds))
    if args.json is not None:
        atomic_write(args.json, dumps({"findings": [f.to_dict() for f in findings]}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plots is not None:
        from babysit.doctor.plots import save_doctor_plots

        from babysit.doctor.plots import plot_input_batch

        batch = plot_input_batch(dataset.X_train, args.plots / "input_batch.png", dataset.y_train, dataset.class_names)
        for path in [*save_doctor_plots(findings, args.plots), batch]:
            print(f"wrote {path}")
    return 1 if worst_status(findings) == "fail" else 0
