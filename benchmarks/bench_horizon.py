"""Short-horizon bias of a coarse search, and what ``horizon`` does about it (CIFAR-10, the 2-layer net).

A coarse stage trains each configuration for a few epochs and keeps the best; the final
training runs the winner for many more. With the long run's per-epoch lr decay (0.95), a
10-epoch trial ends with its rate at 60% of the start instead of the 80-epoch run's 1.7%, so
it prefers rates too low for the long run. The ``horizon`` hyperparameter of a trial
(``babysit.train.TrainConfig.horizon``) compresses the long run's decay into the trial's epochs.

Measured: best validation accuracy of 10-epoch trials at several learning rates, with the
plain decay and with ``horizon=80``, and of 80-epoch runs at the same rates (reg 1e-2).
Which rate wins each column is the figure that matters.

Usage: python benchmarks/bench_horizon.py [--tarball PATH] [--reg 1e-2] [--skip-long]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_TARBALL, machine_info, prepared_tarball  # noqa: E402

from babysit.search.trial import trial_config  # noqa: E402
from babysit.train.recipe import train_model  # noqa: E402

LRS = (2e-3, 5e-3, 1e-2, 2e-2, 4e-2)
SHORT, LONG = 10, 80


def best_val_acc(ref, data, params: dict, epochs: int) -> float:
    """The best epoch's validation accuracy of fc:50 trained by the recipe (init seed 1, minibatch seed 2)."""
    config = trial_config(ref, "fc:50", params, epochs, seed=1)
    return float(train_model(config, data=data, verbose=False).solver.best_val_acc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--reg", type=float, default=1e-2)
    parser.add_argument("--skip-long", action="store_true", help="only the 10-epoch trials")
    args = parser.parse_args(argv)
    loaded = prepared_tarball(args.tarball)
    if loaded is None:
        return 2
    ref, data = loaded
    base = {"reg": args.reg, "update": "momentum", "lr_decay": 0.95, "batch_size": 100}
    rows = []
    for lr in LRS:
        row = {"lr": lr}
        start = time.perf_counter()
        row[f"{SHORT}_epochs_decay_0.95"] = best_val_acc(ref, data, {**base, "lr": lr}, SHORT)
        row[f"{SHORT}_epochs_horizon_{LONG}"] = best_val_acc(ref, data, {**base, "lr": lr, "horizon": LONG}, SHORT)
        if not args.skip_long:
            row[f"{LONG}_epochs"] = best_val_acc(ref, data, {**base, "lr": lr}, LONG)
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    winners = {k: max(rows, key=lambda r: r[k])["lr"] for k in rows[0] if k not in ("lr", "seconds")}
    print(json.dumps({"machine": machine_info(), "reg": args.reg, "rows": rows, "best_lr": winners}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
