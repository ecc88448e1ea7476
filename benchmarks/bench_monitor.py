"""What the training monitors cost: epochs of the 2-layer net on CIFAR-10 with and without them.

``babysit train`` and ``babysit run``'s final training attach a ``TrainingMonitor(every=10)``
by default (update/weight ratios, weight, activation and gradient statistics, per-epoch
histograms). Measured: seconds per epoch (minibatch steps + the end-of-epoch accuracy checks)
of fc:50 on the 40,000 CIFAR-10 training images with no monitor, every=10 and every=1, in
interleaved rounds (medians), all cores.

Usage: python benchmarks/bench_monitor.py [--tarball PATH] [--rounds 5] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_TARBALL, machine_info, prepared_tarball  # noqa: E402

from babysit.doctor import TrainingMonitor  # noqa: E402
from babysit.search.trial import trial_config  # noqa: E402
from babysit.train.recipe import train_model  # noqa: E402

PARAMS = {"lr": 1e-2, "reg": 1e-2, "update": "momentum", "lr_decay": 0.95, "batch_size": 100}
VARIANTS = {"none": None, "every=10": 10, "every=1": 1}


def epoch_seconds(ref, data, every: int | None, epochs: int) -> float:
    """Seconds per epoch of fc:50 trained by the recipe, with the TrainingMonitor sampling every ``every`` (None: off)."""
    callbacks = [TrainingMonitor(every=every)] if every else []
    config = trial_config(ref, "fc:50", PARAMS, epochs, seed=1)
    return train_model(config, data=data, callbacks=callbacks, verbose=False).seconds / epochs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--every", default=None,
                        help="comma-separated sampling periods to measure instead of 10 and 1 (e.g. 10,50: a search "
                             "trial's)")
    args = parser.parse_args(argv)
    variants = VARIANTS if args.every is None else {
        "none": None, **{f"every={int(e)}": int(e) for e in args.every.split(",")}}
    loaded = prepared_tarball(args.tarball)
    if loaded is None:
        return 2
    ref, data = loaded
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
            times[name].append(epoch_seconds(ref, data, variants[name], args.epochs))
    base = statistics.median(times["none"])
    rows = {name: {"epoch_seconds": round(statistics.median(t), 4),
                   "overhead": f"{statistics.median(t) / base - 1:+.1%}"} for name, t in times.items()}
    for name, row in rows.items():
        print(f"{name:>9}: {row['epoch_seconds']:.3f} s/epoch ({row['overhead']})")
    print(json.dumps({"machine": machine_info(), "rounds": args.rounds, "epochs": args.epochs, "results": rows,
                      "all": times}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
