"""Transfer learning on CIFAR-10 JPEGs: pretrain on classes 0-4, learn classes 5-9 from few images.

    python benchmarks/bench_transfer.py --tar ../shared/data/cifar10-train-jpeg.tar.gz --work /tmp/transfer

1. Pretrain (once; reused when WORK/pretrain-0-4 exists) with
   ``babysit train --data 'folder:TAR?classes=0-4' --model conv:16,32/64 --normalization batchnorm
   --update adam --lr 2e-3 --epochs 2 --seed 0 --monitor-every 0 --out WORK/pretrain-0-4``.
2. For each N images per class of classes 5-9 (``folder:TAR?classes=5-9&per_class=N&val_per_class=40``)
   and each strategy (head, top:2, all, scratch), ``finetune_model`` with the same budget for every
   strategy: Adam, the iterations of ITERS[N] in minibatches of BATCH[N]; lr 1e-2 for the new
   classifier with lr_mult 0.1 on the pretrained blocks that train (top:2, all); scratch trains
   every layer at 2e-3, the rate that trained the pretrained model from scratch. (A first run
   with lr 1e-3 everywhere left the new classifier near its random init after 30-300 steps:
   every strategy near or below chance at 10 and 100 images per class.)
3. Score each on the held-out test split of classes 5-9 (500 images per class, never trained on),
   and write WORK/transfer.json (after every run) and the markdown table WORK/transfer.md.

With ``--search-lr`` (session 2), the fixed rates of step 2 are replaced per strategy and N by a short
coarse-to-fine search (``babysit search --from``'s machinery: ``DataRef.finetune``, 2 stages of
SEARCH_TRIALS trials, half then the whole budget, lr in SEARCH_LR and lr_mult in SEARCH_LR_MULT for
top:2 and all) that picks the best *validation* accuracy (the 200-image val split; the test split is
never looked at); then every run seed trains with the chosen rates. Results go to
WORK/transfer-searched.json / .md; the searches to WORK/searches.sqlite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ITERS = {10: 30, 100: 100, 1000: 300}  # iterations per run: the same for every strategy
BATCH = {10: 10, 100: 50, 1000: 50}
STRATEGIES = ("head", "top:2", "all", "scratch")
LR, LR_MULT, SCRATCH_LR = 1e-2, 0.1, 2e-3
SEARCH_TRIALS, SEARCH_LR, SEARCH_LR_MULT = 5, "1e-4:1e-1:log", "0.01:1:log"


def pretrain(tar: Path, work: Path, epochs: int) -> Path:
    out = work / "pretrain-0-4"
    if not (out / "model.safetensors").is_file():
        cmd = [sys.executable, "-m", "babysit", "train", "--data", f"folder:{tar}?classes=0-4", "--model",
               "conv:16,32/64", "--normalization", "batchnorm", "--update", "adam", "--lr", "2e-3", "--epochs",
               str(epochs), "--seed", "0", "--monitor-every", "0", "--quiet", "--out", str(out)]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return out


def source(tar: Path, n: int) -> str:
    return f"folder:{tar}?classes=5-9&per_class={n}&val_per_class=40"


def epochs_of(n: int) -> int:
    return max(1, ITERS[n] * BATCH[n] // (5 * n))


def run_one(base: Path, tar: Path, n: int, strategy: str, seed: int = 0, *, lr: float | None = None,
            lr_mult: float | None = None, data=None) -> dict:
    from babysit.train.evaluate import evaluate
    from babysit.train.finetune import FinetuneSpec, finetune_model
    from babysit.train.recipe import TrainConfig

    if lr is None:
        lr = SCRATCH_LR if strategy == "scratch" else LR
    if lr_mult is None:
        lr_mult = LR_MULT if strategy in ("top:2", "all") else 1.0
    config = TrainConfig(data=source(tar, n), update="adam", lr=lr, epochs=epochs_of(n), batch_size=BATCH[n], seed=0,
                         run_seed=seed)
    spec = FinetuneSpec(strategy=strategy, lr_mult=lr_mult)
    start = time.perf_counter()
    result = finetune_model(base, config, spec, verbose=False, data=data)
    seconds = time.perf_counter() - start
    X, y = result.dataset.split("test")
    test = evaluate(result.model, X, y, result.dataset.class_names)
    s = result.solver
    return {"per_class": n, "strategy": strategy, "seed": seed, "lr": lr, "lr_mult": lr_mult,
            "test_acc": test["accuracy"], "val_acc": s.best_val_acc,
            "val_acc_history": s.val_acc_history, "epochs": s.epoch, "iterations": s.iteration,
            "train_seconds": s.seconds, "seconds": seconds, "test_examples": int(len(y))}


def table(rows: list[dict], rates: bool = False) -> str:
    """One line per (N, strategy): test accuracy per seed and their mean, best val, iterations, train seconds
    (with ``rates``: also the searched lr / lr_mult and the search's trials and seconds)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["per_class"], r["strategy"]), []).append(r)
    lines = ["| images per class | strategy | test acc (classes 5-9), per run seed | mean | best val acc (mean) "
             "| iterations | train s (mean) |" + (" lr / lr_mult (searched) | search: trials, s |" if rates else ""),
             "|---:|---|---|---:|---:|---:|---:|" + ("---|---:|" if rates else "")]
    for (n, strategy), runs in groups.items():
        runs = sorted(runs, key=lambda r: r.get("seed", 0))
        accs = [r["test_acc"] for r in runs]
        mean = lambda key: sum(r[key] for r in runs) / len(runs)  # noqa: E731
        lines.append(f"| {n} | {strategy} | {' / '.join(f'{a:.3f}' for a in accs)} | {sum(accs) / len(accs):.3f} | "
                     f"{mean('val_acc'):.3f} | {runs[0]['iterations']} | {mean('train_seconds'):.0f} |"
                     + (f" {runs[0]['lr']:.2g} / {runs[0]['lr_mult']:.2g} | {runs[0]['search_trials']}, "
                        f"{runs[0]['search_seconds']:.0f} |" if rates else ""))
    return "\n".join(lines) + "\n"


def searched_rates(base: Path, tar: Path, n: int, strategy: str, store) -> dict:
    """The lr (and lr_mult) of the best validation accuracy of a short coarse-to-fine search, and its cost."""
    from babysit.search.driver import SearchSpec, run_search
    from babysit.search.executors import make_executor
    from babysit.search.search_space import SearchSpace
    from babysit.search.trial import DataRef, FinetuneRef
    from babysit.train.checkpoint import load_checkpoint
    from babysit.train.finetune import model_spec_of

    texts = {"lr": SEARCH_LR, **({"lr_mult": SEARCH_LR_MULT} if strategy in ("top:2", "all") else {}),
             "update": "adam", "batch_size": str(BATCH[n])}  # fixed: the runs' own
    ref = DataRef(source(tar, n), 0, finetune=FinetuneRef(str(base.resolve()), "pretrain-0-4", strategy))
    spec = SearchSpec(ref, model_spec_of(load_checkpoint(base)[0].config()), SearchSpace.parse(texts),
                      (SEARCH_TRIALS, SEARCH_TRIALS), (max(1, epochs_of(n) // 2), epochs_of(n)), seed=0)
    start = time.perf_counter()
    with make_executor(1, None) as executor:
        outcome = run_search(spec, store, executor, name=f"{n}-{strategy}")
    best = outcome.best
    return {"lr": best.params["lr"], "lr_mult": best.params.get("lr_mult", 1.0), "search_val_acc": best.val_acc,
            "search_trials": len(outcome.records), "search_seconds": time.perf_counter() - start}


def main_searched(args, base: Path) -> int:
    from babysit.search.trial import DataRef, FinetuneRef, prepared
    from babysit.store import RunStore

    tar = args.tar.resolve()
    results_file = args.work / "transfer-searched.json"
    rows = json.loads(results_file.read_text()) if results_file.exists() else []
    done = {(r["per_class"], r["strategy"], r["seed"]) for r in rows}
    with RunStore(args.work / "searches.sqlite") as store:
        for n in (int(v) for v in args.per_class.split(",")):
            for strategy in args.strategies.split(","):
                rates = searched_rates(base, tar, n, strategy, store)
                print(json.dumps({"per_class": n, "strategy": strategy, **rates}), flush=True)
                data = prepared(DataRef(source(tar, n), 0, finetune=FinetuneRef(str(base.resolve()), "pretrain-0-4",
                                                                                  strategy)))
                for seed in (int(v) for v in args.seeds.split(",")):
                    if (n, strategy, seed) in done:
                        continue
                    row = {**run_one(base, tar, n, strategy, seed, lr=rates["lr"], lr_mult=rates["lr_mult"],
                                     data=data), **{k: v for k, v in rates.items() if k.startswith("search")}}
                    print(json.dumps({k: v for k, v in row.items() if k != "val_acc_history"}), flush=True)
                    rows.append(row)
                    results_file.write_text(json.dumps(rows, indent=1))
                    (args.work / "transfer-searched.md").write_text(table(rows, rates=True))
    print(table(rows, rates=True))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tar", type=Path, required=True, help="cifar10-train-jpeg.tar.gz")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--per-class", default="10,100,1000")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--seeds", default="0", help="run seeds (init of the new classifier / scratch model, "
                                                     "minibatch order): the split and the N images stay the same")
    parser.add_argument("--search-lr", action="store_true", help="rates per strategy from a short search (see above)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    base = pretrain(args.tar.resolve(), args.work, args.pretrain_epochs)
    if args.search_lr:
        return main_searched(args, base)
    results_file = args.work / "transfer.json"
    rows = json.loads(results_file.read_text()) if results_file.exists() else []
    done = {(r["per_class"], r["strategy"], r.get("seed", 0)) for r in rows}
    for seed in (int(v) for v in args.seeds.split(",")):
        for n in (int(v) for v in args.per_class.split(",")):
            for strategy in args.strategies.split(","):
                if (n, strategy, seed) in done:
                    continue
                row = run_one(base, args.tar.resolve(), n, strategy, seed)
                print(json.dumps({k: v for k, v in row.items() if k != "val_acc_history"}), flush=True)
                rows.append(row)
                results_file.write_text(json.dumps(rows, indent=1))
                (args.work / "transfer.md").write_text(table(rows))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
