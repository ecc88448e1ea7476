"""How many final-training epochs a configuration needs to reach a test accuracy (CIFAR-10, the main job's final run).

`babysit run`'s test accuracy is that of its final training: the search's best configuration trained
longer. Given a good configuration (default: the one the 25-minute fc:50 job picked, lr 1.01e-2,
reg 1.20e-2), this trains it as the final training does (``trial_config`` with ``horizon`` = the
epochs: the whole lr decay 0.95 per epoch of an E-epoch run) for each E and reports the best epoch's
validation accuracy, the test accuracy of that model on the folder's own test split and the seconds.
It bounds what a budget can reach: a job whose final training fits only E epochs cannot do better
than this row, whatever its search finds.

With ``--threads 1,2`` each row is trained once per BLAS thread count (threadpoolctl), and ``--cpu-time``
adds the process CPU seconds: what decides how many threads the final training should take (a 2-thread
OpenBLAS epoch collapsed under load in session 2; run it once quiet and once beside
``nice -n 19 python -c 'while 1: pass' &``).

Usage: python benchmarks/bench_final_epochs.py [--epochs 10,20,40,80] [--lr 1.01e-2] [--reg 1.20e-2] [--model fc:50]
       [--threads 1,2] [--seeds 0,1,2,3] [--tarball PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_TARBALL, machine_info, prepared_tarball  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from babysit.search.trial import trial_config, trial_seed  # noqa: E402
from babysit.train.evaluate import evaluate  # noqa: E402
from babysit.train.recipe import train_model  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--model", default="fc:50")
    parser.add_argument("--epochs", default="10,20,40,80")
    parser.add_argument("--lr", type=float, default=1.01e-2)
    parser.add_argument("--reg", type=float, default=1.20e-2)
    parser.add_argument("--seeds", default="0", help="job seeds, e.g. 0,1,2,3: each row is trained once per seed, "
                                                     "from the seed a 2-stage job's final gets (trial_seed(seed, 3, 0))")
    parser.add_argument("--threads", default=None, help="BLAS thread counts to train each row with, e.g. 1,2 "
                                                        "(default: as the process has them)")
    args = parser.parse_args(argv)
    loaded = prepared_tarball(args.tarball)
    if loaded is None:
        return 2
    ref, data = loaded
    dataset = data[0]
    rows = []
    threads = [None] if args.threads is None else [int(t) for t in args.threads.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    for epochs, limit, seed in ((int(e), t, s) for e in args.epochs.split(",") for t in threads for s in seeds):
        params = {"lr": args.lr, "reg": args.reg, "update": "momentum", "lr_decay": 0.95, "batch_size": 100,
                  "horizon": epochs}
        config = trial_config(ref, args.model, params, epochs, trial_seed(seed, 3, 0))
        start, cpu = time.perf_counter(), time.process_time()
        with threadpool_limits(limits=limit) if limit else contextlib.nullcontext():
            result = train_model(config, data=data, verbose=False)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        test = evaluate(result.model, dataset.X_test, dataset.y_test, dataset.class_names)["accuracy"]
        rows.append({"epochs": epochs, "seed": seed, "val_acc": result.solver.best_val_acc, "best_epoch": result.solver.best_epoch,
                     "test_acc": test, "seconds": round(seconds, 2), "threads": limit,
                     "seconds_per_epoch": round(result.seconds / epochs, 3), "cpu_seconds": round(cpu, 2),
                     "load": os.getloadavg()[0]})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"machine": machine_info(), "model": args.model, "lr": args.lr, "reg": args.reg, "rows": rows},
                     indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
