"""``babysit features``: penultimate-layer features of a checkpoint on a data source, into an .npz."""

from __future__ import annotations

from pathlib import Path

from babysit.cli.publishing import add_zoo_argument

SPLIT_CHOICES = ("all", "train", "val", "test")


def add_parser(sub, name):
    p = sub.add_parser(name, help="penultimate-layer features of a model (the CNN as a fixed feature extractor)",
                       description="Run a checkpoint (or zoo model) over a data source in eval mode, batched, and "
                                   "save the outputs of its last layer before the classifier as FILE.npz: features "
                                   "(N, D), labels (N,), class_names, split (the split of each row).")
    p.add_argument("--checkpoint", required=True, help="model.safetensors, its folder, or a zoo name")
    p.add_argument("--data", required=True, help="digits | cifar10:DIR | folder:PATH | npz:PATH (options after ?)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="all", help="default all (every example)")
    p.add_argument("--batch-size", type=int, default=500, help="default 500")
    p.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    add_zoo_argument(p)
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from babysit.fileio import atomic_path
    from babysit.train.evaluate import checkpoint_examples
    from babysit.train.features import penultimate_features
    from babysit.validation import AT_LEAST_ONE, check_int
    from babysit.zoo import Zoo, resolve_checkpoint

    check_int("features", "batch_size", args.batch_size, AT_LEAST_ONE)
    path = resolve_checkpoint(args.checkpoint, Zoo(args.zoo))
    model, X, y, splits, class_names, info = checkpoint_examples(path, args.data, args.split, say=print,
                                                                 match=False)
    features = penultimate_features(model, X, args.batch_size)
    out = args.out if args.out.suffix == ".npz" else args.out.with_name(args.out.name + ".npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, features=features, labels=y, class_names=np.array(class_names, dtype=np.str_),
                     split=np.array(splits, dtype=np.str_))
    print(f"wrote {out}: features {features.shape} ({features.dtype}) of {info['num_examples']} examples "
          f"({args.split} of {args.data})")
    return 0
