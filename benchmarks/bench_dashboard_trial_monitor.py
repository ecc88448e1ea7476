"""What recording the training monitors costs a search trial: the time spent inside the monitor's hooks.

A search trial (``babysit.search.trial.run_trial``) attaches ``TrainingMonitor(every=TRIAL_MONITOR_EVERY)``.
Timing whole trials with and without it is drowned by the load of a shared machine (two runs of the same
trial differ by more than the few percent measured), so this measures the monitor itself: the seconds
spent inside its callbacks (perf_counter around every hook) over the trial's training seconds (medians of ``--rounds`` trials), plus the
diagnoses and the conversion to series, which run once at the end. Both sides slow down alike under load.

Usage: python benchmarks/bench_dashboard_trial_monitor.py [--data digits] [--model fc:100] [--epochs 5]
       [--every 10,50] [--tarball PATH (uses the CIFAR-10 JPEGs, fc:50)]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, prepared_tarball  # noqa: E402

from babysit.doctor import TrainingMonitor, diagnose_solver  # noqa: E402
from babysit.doctor.monitor_series import histogram_series, monitor_series  # noqa: E402
from babysit.doctor.monitors import HOOKS  # noqa: E402
from babysit.search.trial import DataRef, prepared, trial_config  # noqa: E402
from babysit.train.recipe import train_model  # noqa: E402

PARAMS = {"lr": 1e-2, "reg": 1e-3, "update": "momentum", "lr_decay": 0.95, "batch_size": 100}


class TimedMonitor(TrainingMonitor):
    """A TrainingMonitor that adds the time spent in each of its hooks to ``self.spent``."""

    spent = 0.0


def _timed(hook):
    inner = getattr(TrainingMonitor, hook)

    def fire(self, solver, *args):
        t = time.perf_counter()
        inner(self, solver, *args)
        self.spent += time.perf_counter() - t
    return fire


for _hook in HOOKS:
    setattr(TimedMonitor, _hook, _timed(_hook))


def measure(ref, data, model: str, epochs: int, every: int) -> dict:
    monitor = TimedMonitor(every=every)
    config = trial_config(ref, model, PARAMS, epochs, seed=1)
    result = train_model(config, data=data, callbacks=[monitor], verbose=False)
    t = time.perf_counter()
    diagnose_solver(result.solver, monitor)
    series = {**monitor_series(monitor.history), **histogram_series(monitor.history)}
    after = time.perf_counter() - t
    seconds = result.seconds
    points = sum(len(v) for _, v in series.values())
    return {"every": every, "train_seconds": round(seconds, 3), "hooks_seconds": round(monitor.spent, 4),
            "end_seconds": round(after, 4), "share": round((monitor.spent + after) / seconds, 4),
            "iterations": len(result.solver.loss_history), "series": len(series), "points": points}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--model", default="fc:100")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--every", default="10,50")
    parser.add_argument("--tarball", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5, help="trials per setting (medians; one warm-up trial first)")
    args = parser.parse_args(argv)
    if args.tarball is not None:
        loaded = prepared_tarball(args.tarball)
        if loaded is None:
            return 2
        ref, data = loaded
        model = "fc:50"
    else:
        ref = DataRef(args.data, 0, "standardize")
        data, model = prepared(ref), args.model
    measure(ref, data, model, 1, 10)  # warm-up: first calls (imports, BLAS threads) are not the monitor's cost
    rows = []
    for e in args.every.split(","):
        runs = [measure(ref, data, model, args.epochs, int(e)) for _ in range(args.rounds)]
        mid = {k: statistics.median(r[k] for r in runs) for k in ("train_seconds", "hooks_seconds", "end_seconds")}
        rows.append({**runs[0], **mid, "share": round((mid["hooks_seconds"] + mid["end_seconds"]) / mid["train_seconds"], 4),
                     "shares": [r["share"] for r in runs]})
    for r in rows:
        print(f"every={r['every']:>3}: monitor {r['hooks_seconds']:.3f} s in hooks + {r['end_seconds']:.3f} s at the "
              f"end of {r['train_seconds']:.2f} s training = {100 * r['share']:.2f}% ({r['series']} series, "
              f"{r['points']} points)")
    print(json.dumps({"machine": machine_info(), "data": ref.source, "model": model, "epochs": args.epochs,
                      "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
