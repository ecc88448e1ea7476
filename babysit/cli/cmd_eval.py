"""``babysit eval``: accuracy, loss and per-class accuracy of a checkpoint on a data split."""

from __future__ import annotations

from babysit.fileio import dumps


def add_parser(sub, name):
    p = sub.add_parser(name, help="evaluate a saved model on a data source",
                       description="Load DIR/model.safetensors (+ model.json), match the data's classes to the "
                                   "model's by name, apply the saved preprocessing and report accuracy, "
                                   "loss and per-class accuracy.")
    p.add_argument("--checkpoint", required=True, help="the model.safetensors written by `babysit train` or `babysit run`, or the folder holding it")
    p.add_argument("--data", required=True, help="digits | cifar10:DIR | folder:PATH | npz:PATH")
    p.add_argument("--split", choices=("test", "val", "train", "all"), default="test",
                   help="default test; all: every example of the source (e.g. a held-out folder of new images)")
    p.add_argument("--json", action="store_true", help='print {"accuracy": ..., "loss": ..., "per_class": {...}}')
    p.set_defaults(run=run)


def run(args) -> int:
    from babysit.train.evaluate import evaluate_checkpoint

    import sys

    result, info = evaluate_checkpoint(args.checkpoint, args.data, split=args.split,
                                       say=lambda line: print(line, file=sys.stderr if args.json else sys.stdout))
    if args.json:
        print(dumps(result))
        return 0
    print(f"{info['split']} split of {info['source']}: {info['num_examples']} examples")
    print(f"accuracy {result['accuracy']:.4f}   loss {result['loss']:.4f}")
    width = max(len(name) for name in result["per_class"])
    for name, acc in result["per_class"].items():
        print(f"  {name:<{width}}  {'-' if acc is None else f'{acc:.4f}'}")
    return 0
