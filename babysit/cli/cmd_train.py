"""``babysit train``: train one model on a data source and save the best checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

from babysit.cli.kernel_option import add_kernels_argument
from babysit.cli.publishing import add_publish_arguments, publish
from babysit.doctor.monitors import EVERY as MONITOR_EVERY
from babysit.train.callbacks import ProgressBar
from babysit.train.optim import UPDATE_RULES
from babysit.train.recipe import TrainConfig

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
    p.add_argument("--fresh", action="store_true",
                   help="replace the checkpoint in --out even if it is of a training with other settings "
                        "(without it, that is refused: a re-run with the same settings replaces it)")
    p.add_argument("--store", type=Path, default=None,
                   help="also record the run (settings, loss and accuracy series, status) in this SQLite run store")
    p.add_argument("--monitor-every", type=int, default=MONITOR_EVERY, metavar="N",
                   help="sample the training monitors (update/weight ratios, activation and gradient statistics) "
                        f"every N iterations; 0 turns them off (default {MONITOR_EVERY}: a few percent of the time)")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="save the run's plots here: loss (annotated with the diagnosis), accuracy, update ratios, "
                        "activation histograms, weights")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help='write the run\'s result and diagnoses ({"result": {...}, "findings": [...]}) to this file')
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines, only the summary")
    add_publish_arguments(p)
    add_kernels_argument(p)
    p.set_defaults(run=run)


# library parameter -> the flag a user typed (for error messages: only the CLI knows its flags)
FLAGS = {"batch_size": "--batch-size", "lr_decay": "--lr-decay", "weight_scale": "--weight-scale",
         "monitor_every": "--monitor-every", "num_epochs": "--epochs", "p": "--dropout"}


def run(args) -> int:
    from babysit.errors import ConfigError
    from babysit.pipeline.training import train_job

    if args.json is not None and not args.json.parent.exists():
        raise ConfigError(f"--json: directory {args.json.parent} does not exist")
    config = TrainConfig(
        data=args.data, model=args.model, activation=args.activation, init=args.init,
        weight_scale=args.weight_scale, normalization=None if args.normalization == "none" else args.normalization,
        dropout=args.dropout, update=args.update, lr=args.lr, reg=args.reg, lr_decay=args.lr_decay,
        schedule=args.schedule, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        preprocess=args.preprocess,
    )
    job = train_job(config, args.out, store=args.store, plots=args.plots, monitor_every=args.monitor_every,
                    callbacks=[ProgressBar(verbose=not args.quiet)], verbose=not args.quiet, fresh=args.fresh)
    result, solver = job.run.result, job.run.solver
    samples = solver.iteration * min(solver.batch_size, len(solver.X_train))
    print(f"status: {solver.status} after {solver.epoch} epoch(s), {solver.iteration} iterations, "
          f"{result.seconds:.1f} s ({samples / max(result.seconds, 1e-9):,.0f} samples/s)")
    if solver.nonfinite is not None:  # NaN/inf in the data, a gradient or the loss: the reason says what to do
        print(f"stopped because {solver.stop_reason}")
    elif solver.status in ("exploded", "diverged"):
        print(f"stopped because {solver.stop_reason}: try a lower --lr (the lecture: cost > 3x the first cost "
              "or NaN almost always means the learning rate is too high)")
    if result.checkpoint is not None:
        print(f"best validation accuracy: {solver.best_val_acc:.4f} (epoch {solver.best_epoch})")
        print(f"saved {result.checkpoint} and {result.checkpoint.with_suffix('.json')}")
        publish(args, result.checkpoint, solver.metrics())
    else:
        print(f"no checkpoint written: the run ended before its first epoch; {args.out} is unchanged")
    print_diagnoses(job.run.diagnoses, getattr(args, "flags", None) or {})
    if args.json is not None:
        from babysit.fileio import atomic_write, dumps

        payload = {"result": {**solver.metrics(), "status": solver.status, "epochs": solver.epoch,
                              "iterations": solver.iteration, "seconds": result.seconds,
                              "checkpoint": str(result.checkpoint) if result.checkpoint else None,
                              "run_id": job.run_id, "settings": result.config.to_dict()},
                   "findings": [f.to_dict() for f in job.run.diagnoses]}
        atomic_write(args.json, dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    if job.plots:
        print(f"plots: {', '.join(str(p) for p in job.plots)}")
    if job.run_id is not None:
        print(f"recorded as run {job.run_id} in {args.store} (see `babysit runs --store {args.store}`)")
    return 0 if result.checkpoint is not None else 1


def print_diagnoses(findings, flags=None) -> None:
    """The end-of-run diagnoses, one row each (as the doctor prints its checks), then what to do, in CLI flags."""
    from babysit.doctor.report import format_advice, format_row, marks_for

    marks = marks_for(getattr(sys.stdout, "encoding", None))
    print("diagnosis of the run:")
    for line in [*(format_row(f, marks) for f in findings), *format_advice(findings, flags or {})]:
        print(line)
