"""``babysit finetune``: a pretrained model (zoo name or checkpoint) retrained on new classes."""

from __future__ import annotations

from pathlib import Path

from babysit.cli.kernel_option import add_kernels_argument
from babysit.cli.publishing import add_publish_arguments
from babysit.train.callbacks import ProgressBar
from babysit.train.finetune import STRATEGY_SYNTAX
from babysit.train.optim import UPDATE_RULES
from babysit.train.recipe import TrainConfig

DEFAULTS = TrainConfig()
DEFAULT_LR = 1e-3
DEFAULT_EPOCHS = 5


def add_parser(sub, name):
    p = sub.add_parser(name, help="finetune a pretrained model (zoo name or checkpoint) on new data",
                       description="Transfer learning, as the lecture says: keep a pretrained network's body, give it "
                                   "a new classifier for the new classes (shared class names keep their weights), and "
                                   "train only the classifier (head: the CNN as a fixed feature extractor), the top K "
                                   "blocks (top:K), or everything (all); scratch trains the same architecture from a "
                                   "fresh init for comparison. The data is preprocessed with the model's own fitted "
                                   "preprocessing; folder: images are loaded at the model's input size.")
    p.add_argument("--from", dest="base", required=True, metavar="NAME|CHECKPOINT",
                   help="a zoo name (babysit zoo list) or a model.safetensors / its folder")
    p.add_argument("--data", required=True, help="digits | cifar10:DIR | folder:PATH | npz:PATH, options after ? "
                                                 "(classes=5-9&per_class=100&image_size=64)")
    p.add_argument("--strategy", default="head", help=f"{STRATEGY_SYNTAX} (default head)")
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"learning rate of the classifier (default {DEFAULT_LR:g})")
    p.add_argument("--lr-mult", type=float, default=1.0,
                   help="factor on --lr for the pretrained blocks that train (top:K, all), e.g. 0.1 (default 1)")
    p.add_argument("--freeze-epochs", type=int, default=0,
                   help="train only the classifier for this many of the epochs first, then unfreeze (fastai)")
    p.add_argument("--train-bn", action="store_true",
                   help="keep BatchNorm layers of frozen blocks trainable (else they stay in eval mode, statistics fixed)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"epochs in all (default {DEFAULT_EPOCHS})")
    p.add_argument("--update", choices=list(UPDATE_RULES), default=DEFAULTS.update,
                   help=f"update rule (default {DEFAULTS.update})")
    p.add_argument("--reg", type=float, default=DEFAULTS.reg, help="L2 regularization strength (default 0)")
    p.add_argument("--lr-decay", type=float, default=None, help="per-epoch learning-rate factor (default 0.95)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help=f"default {DEFAULTS.batch_size}")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of the split, the new classifier and minibatches")
    p.add_argument("--image-size", default=None, metavar="S|HxW",
                   help="resize and centre-crop folder: images to this size (default: the model's input size)")
    p.add_argument("--out", type=Path, default=Path("babysit-finetuned"),
                   help="folder for model.safetensors + model.json and the training state, saved every epoch "
                        "(default ./babysit-finetuned)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the killed finetuning in --out from its last complete epoch (same settings)")
    again.add_argument("--fresh", action="store_true", help="start over even if --out holds a finetuning")
    p.add_argument("--store", type=Path, default=None, help="also record the run in this SQLite run store")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines, only the summary")
    add_publish_arguments(p)
    add_kernels_argument(p)
    p.set_defaults(run=run)


FLAGS = {"batch_size": "--batch-size", "lr_decay": "--lr-decay", "lr_mult": "--lr-mult", "num_epochs": "--epochs",
         "freeze_epochs": "--freeze-epochs", "finetune_from": "--from", "train_bn": "--train-bn"}


def run(args) -> int:
    import contextlib

    from babysit.cli.publishing import publish
    from babysit.data.source_options import parse_image_size, with_options
    from babysit.train.finetune import finetune_model
    from babysit.validation import check_directory
    from babysit.zoo import Zoo, resolve_checkpoint

    data = args.data
    if args.image_size is not None:
        h, w = parse_image_size(args.image_size)
        data = with_options(data, image_size=f"{h}x{w}")
    config = TrainConfig(data=data, update=args.update, lr=args.lr, reg=args.reg, lr_decay=args.lr_decay,
                         epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, finetune_from=args.base,
                         strategy=args.strategy, lr_mult=args.lr_mult, freeze_epochs=args.freeze_epochs,
                         train_bn=args.train_bn)
    check_directory("finetune", "out", args.out)
    base = resolve_checkpoint(args.base, Zoo(args.zoo))
    store = contextlib.nullcontext(None)
    if args.store is not None:
        from babysit.store import RunStore

        store = RunStore(args.store)
    with store as runs:
        run_id = runs.start_run(None, None, None, {**config.to_dict(), "base_model": args.base}) \
            if runs is not None else None
        result = finetune_model(base, config, out=args.out, fresh=args.fresh, resume=args.resume,
                                callbacks=[ProgressBar(verbose=not args.quiet)], verbose=not args.quiet, say=print)
        test = _test_metrics(result)
        if runs is not None:
            from babysit.store.recording import record_run

            record_run(runs, run_id, result.record(extra_metrics=test))
    solver = result.solver
    print(f"status: {solver.status} after {solver.epoch} epoch(s), {result.seconds:.1f} s; frozen parameters: "
          f"{', '.join(result.model.frozen_params) or 'none'}")
    if result.checkpoint is None:
        print(f"no checkpoint written: the run ended before its first epoch; {args.out} is unchanged")
        return 1
    print(f"best validation accuracy: {solver.best_val_acc:.4f} (epoch {solver.best_epoch})"
          + (f"; test accuracy {test['test_acc']:.4f} on {test['test_examples']} held-out examples" if test else ""))
    print(f"saved {result.checkpoint} and {result.checkpoint.with_suffix('.json')}")
    if run_id is not None:
        print(f"recorded as run {run_id} in {args.store}")
    publish(args, result.checkpoint, {**solver.metrics(), **test})
    return 0


def _test_metrics(result) -> dict:
    """Accuracy of the finetuned model on the held-out test split (empty when the split is)."""
    from babysit.train.evaluate import evaluate

    X, y = result.dataset.split("test")
    if len(y) == 0:
        return {}
    scores = evaluate(result.model, X, y, result.dataset.class_names)
    return {"test_acc": scores["accuracy"], "test_loss": scores["loss"], "test_examples": int(len(y))}
