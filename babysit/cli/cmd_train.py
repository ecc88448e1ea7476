"""``babysit train``: train one model on a data source and save the best checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

from babysit.doctor import TrainingMonitor, diagnose_solver
from babysit.doctor.monitors import EVERY as MONITOR_EVERY
from babysit.doctor.plots import save_run_plots
from babysit.errors import ConfigError
from babysit.train.callbacks import ProgressBar
from babysit.train.optim import UPDATE_RULES
from babysit.train.recipe import TrainConfig, train_model

DEFAULTS = TrainConfig()


def add_parser(sub, name):
    from babysit.nn.init import INIT_SCHEMES
    from babysit.nn.models import MODEL_ACTIVATIONS

    p = sub.add_parser(name, help="train a model (progress bar, the lecture's epoch lines, best checkpoint)",
                       description="Train a network with minibatch updates, printing the lecture's "
                                   "'Finished epoch' lines, and save the best model (by validation accuracy) "
                                   "as DIR/model.safetensors + DIR/model.json.")
    p.add_argument("--data", default=DEFAULTS.data,
                   help="digits (default, embedded) | cifar10:DIR | folder:PATH | npz:PATH")
    p.add_argument("--model", default=DEFAULTS.model, help="fc:H1,H2,... or conv:F1,F2[/H1,...] (default fc:100)")
    p.add_argument("--activation", choices=MODEL_ACTIVATIONS, default=None, help="nonlinearity (default relu)")
    p.add_argument("--init", choices=INIT_SCHEMES, default=None,
                   help="weight init (default: he for relu, xavier for tanh/sigmoid)")
    p.add_argument("--weight-scale", type=float, default=None, help="std of the weights for --init small")
    p.add_argument("--normalization", choices=("none", "batchnorm"), default="none", help="default none")
    p.add_argument("--dropout", type=float, default=DEFAULTS.dropout, help="drop probability (default 0)")
    p.add_argument("--update", choices=list(UPDATE_RULES), default=DEFAULTS.update,
                   help=f"update rule (default {DEFAULTS.update})")
    p.add_argument("--lr", type=float, default=DEFAULTS.lr, help=f"learning rate (default {DEFAULTS.lr:g})")
    p.add_argument("--reg", type=float, default=DEFAULTS.reg, help="L2 regularization strength (default 0)")
    p.add_argument("--lr-decay", type=float, default=None,
                   help="multiply the learning rate by this after every epoch (default 0.95; 1 with --schedule)")
    p.add_argument("--schedule", default=None,
                   help="decay:FACTOR | step:EPOCHS:GAMMA | exponential:K | cosine[:MIN_LR]")
    p.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help=f"default {DEFAULTS.epochs}")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help=f"default {DEFAULTS.batch_size}")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of the split, init and minibatches")
    p.add_argument("--preprocess", default=DEFAULTS.preprocess,
                   help="none | mean_image | channel_mean | standardize (default) | pca:K | pca_whiten[:K] | zca_whiten "
                        "(fitted on the training split, saved with the model)")
    p.add_argument("--out", type=Path, default=Path("babysit-model"),
                   help="directory for model.safetensors and model.json (default ./babysit-model)")
    p.add_argument("--store", type=Path, default=None,
                   help="also record the run (settings, loss and accuracy series, status) in this SQLite run store")
    p.add_argument("--monitor-every", type=int, default=MONITOR_EVERY, metavar="N",
                   help="sample the training monitors (update/weight ratios, activation and gradient statistics) "
                        f"every N iterations; 0 turns them off (default {MONITOR_EVERY}: a few percent of the time)")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="save the run's plots here: loss (annotated with the diagnosis), accuracy, update ratios, "
                        "activation histograms, weights")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines, only the summary")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out: {args.out} exists and is not a directory")
    config = TrainConfig(
        data=args.data, model=args.model, activation=args.activation, init=args.init,
        weight_scale=args.weight_scale, normalization=None if args.normalization == "none" else args.normalization,
        dropout=args.dropout, update=args.update, lr=args.lr, reg=args.reg, lr_decay=args.lr_decay,
        schedule=args.schedule, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        preprocess=args.preprocess,
    )
    if args.monitor_every < 0:
        raise ConfigError(f"--monitor-every must be >= 0 (0 turns the monitors off); got {args.monitor_every}")
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise ConfigError(f"--plots: {args.plots} exists and is not a directory")
    monitor = TrainingMonitor(every=args.monitor_every) if args.monitor_every else None
    callbacks = [ProgressBar(verbose=not args.quiet), *([monitor] if monitor else [])]
    result = train_model(config, args.out, callbacks=callbacks, verbose=not args.quiet)
    solver = result.solver
    samples = solver.iteration * min(solver.batch_size, len(solver.X_train))
    print(f"status: {solver.status} after {solver.epoch} epoch(s), {solver.iteration} iterations, "
          f"{result.seconds:.1f} s ({samples / max(result.seconds, 1e-9):,.0f} samples/s)")
    if solver.stop_reason:
        print(f"stopped because {solver.stop_reason}: try a lower --lr (the lecture: cost > 3x the first cost "
              "or NaN almost always means the learning rate is too high)")
    if result.checkpoint is not None:
        print(f"best validation accuracy: {solver.best_val_acc:.4f} (epoch {solver.best_epoch})")
        print(f"saved {result.checkpoint} and {result.checkpoint.with_suffix('.json')}")
    else:
        print(f"no checkpoint written: the run ended before its first epoch; {args.out} is unchanged")
    history = monitor.history if monitor else None
    diagnoses = diagnose_solver(solver, monitor)
    print_diagnoses(diagnoses)
    if args.plots is not None:
        written = save_run_plots(solver.loss_history, solver.train_acc_history, solver.val_acc_history, history,
                                 diagnoses, args.plots)
        print(f"plots: {', '.join(str(p) for p in written)}")
    if args.store is not None:
        from babysit.pipeline.record import record_train_run

        run_id = record_train_run(args.store, config.to_dict(), solver, result.seconds, result.checkpoint,
                                  monitor_history=history, diagnoses=diagnoses)
        print(f"recorded as run {run_id} in {args.store} (see `babysit runs --store {args.store}`)")
    if result.checkpoint is None:
        return 1
    return 0


def print_diagnoses(findings) -> None:
    """The end-of-run diagnoses, one row each (as the doctor prints its checks), then what to do."""
    from babysit.doctor.report import format_advice, format_row, marks_for

    marks = marks_for(getattr(sys.stdout, "encoding", None))
    print("diagnosis of the run:")
    for line in [*(format_row(f, marks) for f in findings), *format_advice(findings)]:
        print(line)
