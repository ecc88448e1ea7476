"""What a stratified subset costs in the choice of hyperparameters (CIFAR-10; the coarse stages of `babysit run`).

Where an epoch is long (a ConvNet on CIFAR-10: ~23.5 s for 40,000 images), `babysit run`'s
planner lets the coarse stages train on a stratified subset of the training split
(``babysit.pipeline.plan.stage_subsets``). A coarse stage is only there to rank configurations,
so the question is whether the subset ranks them as the whole split does.

Measured: N configurations drawn as stage 1 draws them (``RandomSampler`` over the lr and reg
ranges, seed 0; the trial seeds of stage 1), each trained for E epochs by the search's own trial
(``babysit.search.trial.run_trial``, two 1-thread worker processes) on the whole training split
and on stratified subsets of several sizes, all validated on the whole validation split. Per
subset: Spearman's rank correlation with the whole split's validation accuracies, how many of the
whole split's best 3 are in the subset's best 3, the *regret* (the whole-split accuracy of the
subset's pick, minus that of the whole split's own pick), and the mean seconds of a trial that trained all its epochs.

Usage: python benchmarks/bench_subsets.py [--model conv:32,64] [--configs 10] [--epochs 1]
       [--fractions 0.1,0.25,0.5] [--lr 1e-3:3.16e-2:log] [--reg 1e-5:1e1:log] [--horizon N] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_TARBALL, machine_info, prepared_tarball  # noqa: E402

from babysit.search.executors import make_executor  # noqa: E402
from babysit.search.samplers import RandomSampler  # noqa: E402
from babysit.search.search_space import SearchSpace  # noqa: E402
from babysit.search.trial import TrialTask, run_trial, trial_seed  # noqa: E402

TOP = 3


def ranks(values) -> np.ndarray:
    """Average ranks (1 = lowest) of ``values``, ties sharing their mean rank."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="mergesort")
    out = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[order[j + 1]] == values[order[i]]:
            j += 1
        out[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a, b) -> float:
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def best(values, k: int = 1) -> list[int]:
    """Indexes of the ``k`` highest values (ties: lower index)."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]


def compare(subset_acc: list[float], whole_acc: list[float]) -> dict:
    pick = best(subset_acc)[0]
    return {
        "spearman": round(spearman(subset_acc, whole_acc), 3),
        f"top{TOP}_shared": len(set(best(subset_acc, TOP)) & set(best(whole_acc, TOP))),
        "pick": pick, "pick_whole_val_acc": whole_acc[pick],
        "regret": round(whole_acc[pick] - max(whole_acc), 4),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--model", default="conv:32,64")
    parser.add_argument("--configs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--fractions", default="0.1,0.25,0.5")
    parser.add_argument("--lr", default="1e-3:3.16e-2:log")
    parser.add_argument("--reg", default="1e-5:1e1:log")
    parser.add_argument("--horizon", type=int, default=None, help="the trials' horizon (babysit run: the final epochs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    loaded = prepared_tarball(args.tarball)
    if loaded is None:
        return 2
    ref, (dataset, _) = loaded
    whole = len(dataset.y_train)
    sizes = [int(round(float(f) * whole)) for f in args.fractions.split(",")] + [None]
    fixed = {"update": "momentum", "lr_decay": 0.95, "batch_size": 100,
             **({"horizon": args.horizon} if args.horizon else {})}
    space = SearchSpace.parse({"lr": args.lr, "reg": args.reg})
    configs = [{**c, **fixed} for c in RandomSampler(space, seed=(0, 1)).configs(args.configs)]
    tasks = [TrialTask(ref, args.model, c, args.epochs, trial_seed(0, 1, i), stage=1, index=i, train_examples=n)
             for n in sizes for i, c in enumerate(configs)]
    start = time.perf_counter()
    results: dict[tuple, object] = {}
    with make_executor(args.workers) as executor:
        for task, record in executor.run(run_trial, tasks):
            results[(task.train_examples, task.index)] = record
            print(f"{task.train_examples or whole:>6} examples, config {task.index}: {record.status} "
                  f"val_acc {record.metrics.get('val_acc')} in {record.metrics.get('seconds', 0):.1f} s", flush=True)
    wall = time.perf_counter() - start

    def acc(n):
        return [float(results[(n, i)].metrics.get("val_acc") or 0.0) for i in range(len(configs))]

    whole_acc = acc(None)
    report = {"machine": machine_info(), "model": args.model, "configs": len(configs), "epochs": args.epochs,
              "lr": args.lr, "reg": args.reg, "horizon": args.horizon, "train_examples": whole,
              "wall_seconds": round(wall, 1), "whole_val_acc": whole_acc,
              "params": [{k: c[k] for k in ("lr", "reg")} for c in configs], "subsets": {}}
    for n in sizes:
        # the trials that trained every epoch (an exploded one ends within a few iterations)
        seconds = [float(results[(n, i)].metrics.get("seconds") or 0.0) for i in range(len(configs))
                   if results[(n, i)].status == "finished"]
        row = {"seconds_per_trial": round(float(np.mean(seconds)), 2) if seconds else None, "val_acc": acc(n),
               "finished": len(seconds)}
        if n is not None:
            row.update(compare(acc(n), whole_acc))
        report["subsets"][str(n or whole)] = row
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)
    print(f"\n| training examples | mean s / finished trial | Spearman vs whole | best {TOP} shared | regret (val acc) |")
    print("|---:|---:|---:|---:|---:|")
    for key, row in report["subsets"].items():
        print(f"| {int(key):,} | {row['seconds_per_trial']} | {row.get('spearman', 1.0)} | "
              f"{row.get(f'top{TOP}_shared', TOP)} of {TOP} | {row.get('regret', 0.0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
