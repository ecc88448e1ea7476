"""How the model shipped with babysit (``babysit/zoo/models/cifar10-convnet``) was made.

    python benchmarks/make_shipped_model.py --tar ../shared/data/cifar10-train-jpeg.tar.gz --work /tmp/ship

1. Train (skipped when WORK/cifar10-pretrain holds the checkpoint already): TRAIN_COMMAND below.
2. Score it on its own held-out test split (5,000 of the training JPEGs, split off with seed 0,
   never trained on) and on the official-format fixture ``../shared/data/cifar-10-batches-py-sample``
   (1,200 images that come from CIFAR-10's training set, so the model saw their JPEG versions:
   that figure checks loading, not generalization).
3. Add it to the zoo folder ``babysit/zoo/models`` (the card records all of the above).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

NAME = "cifar10-convnet"
TRAIN_COMMAND = ("babysit train --data folder:{tar} --model conv:16,32/64 --normalization batchnorm --update adam "
                 "--lr 2e-3 --epochs 3 --batch-size 100 --seed 0 --monitor-every 0 --quiet --out {out}")
SHIPPED = Path(__file__).resolve().parents[1] / "babysit" / "zoo" / "models"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tar", type=Path, required=True)
    parser.add_argument("--fixture", type=Path, default=None, help="cifar-10-batches-py-sample (default: beside the tar)")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    out = args.work / "cifar10-pretrain"
    train = TRAIN_COMMAND.format(tar=args.tar, out=out)
    if not (out / "model.safetensors").is_file():
        subprocess.run([sys.executable, "-m", *shlex.split(train)], check=True)

    from babysit.train.checkpoint import load_checkpoint
    from babysit.train.evaluate import evaluate_checkpoint
    from babysit.zoo import Zoo

    _, meta = load_checkpoint(out)
    source = meta["train_config"]["data"]
    test, info = evaluate_checkpoint(out, source, split="test")
    metrics = {**meta["metrics"], "test_acc": test["accuracy"], "test_loss": test["loss"],
               "test_examples": info["num_examples"],
               "test_split": "the 5,000-image test split of the training JPEGs (stratified, seed 0), never trained on"}
    fixture = args.fixture or args.tar.parent / "cifar-10-batches-py-sample"
    if fixture.is_dir():
        seen, finfo = evaluate_checkpoint(out, f"cifar10:{fixture}", split="all")
        metrics.update({"fixture_acc": seen["accuracy"], "fixture_examples": finfo["num_examples"],
                        "fixture": "../shared/data/cifar-10-batches-py-sample, every image (from CIFAR-10's "
                                   "training set: seen in training, a loading check, not a held-out figure)"})
    trained_on = {"data": "folder:../shared/data/cifar10-train-jpeg.tar.gz", "seed": 0,
                  "description": "the 50,000 CIFAR-10 training images re-encoded as JPEG (quality 75), 10 classes; "
                                 "stratified split with seed 0: 40,000 train / 5,000 val / 5,000 test"}
    card = Zoo(SHIPPED, shipped=None).add(
        NAME, out, replace=True, metrics=metrics, trained_on=trained_on,
        description="small ConvNet (conv16-conv32-fc64, batchnorm) trained by babysit on the CIFAR-10 training JPEGs",
        license="unspecified (the babysit repository has no license file); training images: CIFAR-10 (Krizhevsky, 2009)",
        made_with=TRAIN_COMMAND.format(tar="../shared/data/cifar10-train-jpeg.tar.gz", out="cifar10-pretrain")
        + f"; then python benchmarks/make_shipped_model.py --tar ../shared/data/cifar10-train-jpeg.tar.gz --work DIR",
    )
    print(f"{NAME}: val {metrics['val_acc']:.4f}, test {metrics['test_acc']:.4f}"
          + (f", fixture {metrics['fixture_acc']:.4f}" if "fixture_acc" in metrics else "") + f"; sha256 {card['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
