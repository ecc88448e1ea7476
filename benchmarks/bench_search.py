"""The main job on real CIFAR-10, and search throughput with 1 and 2 worker processes.

Usage: python benchmarks/bench_search.py [--tarball PATH] [--budget-minutes 25] [--job-workers N] [--model fc:50] [--no-rungs]
                                         [--throughput-trials 12] [--out DIR] [--skip-job] [--skip-throughput]

1. ``babysit run --data folder:TARBALL --model fc:50 --budget-minutes 25`` (the lecture's 2-layer net
   with 50 hidden units) as a subprocess: wall time, test and validation accuracy, the stage ranges,
   trials per minute during the search.
2. Throughput: the same ``babysit search`` (one stage, N trials x 2 epochs, fixed seed) with
   ``--workers 1`` and ``--workers 2``: trials per minute of each (over the whole search, start-up
   included, and in steady state from the first finished trial on), and whether both found the
   same val_acc for every trial.

The load average is sampled every 10 s throughout (the machine may be shared); it is printed with
the figures. Run by hand; the numbers go to docs/benchmarks.md with the machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TARBALL = REPO / ".." / "shared" / "data" / "cifar10-train-jpeg.tar.gz"
LECTURE_VAL_ACC = 0.53
PYTORCH_REFERENCE_VAL_ACC = 0.536


class LoadSampler:
    """Samples os.getloadavg()[0] every ``period`` seconds in a background thread."""

    def __init__(self, period: float = 10.0):
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        s = self.samples or [float("nan")]
        return {"mean": round(statistics.fmean(s), 2), "min": round(min(s), 2), "max": round(max(s), 2), "n": len(s)}


def babysit(*args, cwd) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "babysit", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    return proc, time.monotonic() - start


def search_rate(store_path: Path, search: str | None = None) -> dict:
    """Trials, their span (first start to last finish) and trials per minute of a search in a store."""
    from babysit.store import RunStore

    with RunStore(store_path, readonly=True) as store:
        runs = [r for r in store.runs() if r["search"] is not None and (search is None or r["search"] == search)]
    span = max(r["finished"] for r in runs) - min(r["started"] for r in runs)
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    # steady state: from the first trial's end (workers started, data loaded) to the last one's
    first_done = sorted(r["finished"] for r in runs)
    steady = (len(runs) - 1) / (first_done[-1] - first_done[0]) * 60 if len(runs) > 1 else float("nan")
    return {"trials": len(runs), "seconds": round(span, 1), "trials_per_minute": round(60 * len(runs) / span, 2),
            "steady_trials_per_minute": round(steady, 2),
            "median_trial_seconds": round(statistics.median(r["seconds"] for r in runs if r["seconds"]), 3),
            "statuses": statuses, "stages": per_stage(runs),
            "val_acc": {(r["stage"], r["trial_index"]): r["val_acc"] for r in runs}}


def per_stage(runs) -> dict:
    """Stage -> trials, their statuses (how many stopped at a rung), epochs, seconds (first start to last finish)
    and the best val_acc of a finished trial."""
    out = {}
    for stage in sorted({r["stage"] for r in runs}):
        rs = [r for r in runs if r["stage"] == stage]
        statuses: dict[str, int] = {}
        for r in rs:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        done = [r["val_acc"] for r in rs if r["status"] == "finished" and r["val_acc"] is not None]
        out[stage] = {"trials": len(rs), "statuses": statuses,
                      "epochs": sorted({r["epochs"] for r in rs if r["epochs"] is not None}),
                      "seconds": round(max(r["finished"] or 0 for r in rs) - min(r["started"] for r in rs), 1),
                      "best_val_acc": max(done) if done else None}
    return out


def bench_job(tarball: Path, budget: float, workers: int | None, out: Path, model: str = "fc:50",
              extra: tuple = ()) -> dict:
    flags = () if workers is None else ("--workers", workers)
    proc, wall = babysit("run", "--data", f"folder:{tarball}", "--model", model, "--budget-minutes", budget,
                         *flags, *extra, "--seed", 0, "--out", out, cwd=REPO)
    (out.parent / "job.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"babysit run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    from babysit.store import RunStore

    with RunStore(out / "runs.sqlite", readonly=True) as store:
        final = next(r for r in store.runs() if r["search"] is None)
        spec = store.searches()[-1]["spec"]
    meta = json.loads((out / "model.json").read_text())
    stage_lines = [line for line in proc.stdout.splitlines() if line.startswith(("stage ", "plan ", "warning: "))]
    rate = search_rate(out / "runs.sqlite")
    rate.pop("val_acc")
    return {
        "command": f"babysit run --data folder:{tarball} --model {model} --budget-minutes {budget:g} "
                   + " ".join(map(str, (*flags, *extra))),
        "wall_seconds": round(wall, 1), "test_acc": final["extra"].get("test_acc"), "val_acc": final["val_acc"],
        "final_epochs": final["epochs"], "best_params": {k: v for k, v in final["params"].items()},
        "search": rate, "stage_epochs": spec["stage_epochs"], "stage_trials_planned": spec["stage_trials"],
        "stage_lines": stage_lines, "checkpoint_metrics": meta.get("metrics"),
    }


def bench_throughput(tarball: Path, trials: int, workers: int, out: Path) -> dict:
    store = out / f"throughput-{workers}.sqlite"
    proc, wall = babysit("search", "--data", f"folder:{tarball}", "--model", "fc:50", "--lr", "1e-4:1e-1:log",
                         "--reg", "1e-4:1e-1:log", "--stages", 1, "--trials", trials, "--epochs", 2, "--seed", 0,
                         "--workers", workers, "--store", store, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"babysit search failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    rate = search_rate(store)
    rate["wall_seconds"] = round(wall, 1)
    return rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--budget-minutes", type=float, default=25.0)
    parser.add_argument("--job-workers", type=int, default=None,
                        help="babysit run --workers (default: babysit run's own default, one per core)")
    parser.add_argument("--throughput-trials", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="keep the job's folder here (default: a temp dir)")
    parser.add_argument("--skip-job", action="store_true")
    parser.add_argument("--model", default="fc:50", help="the job's --model (default fc:50)")
    parser.add_argument("--no-rungs", action="store_true", help="pass --no-rungs to babysit run")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    if not args.tarball.exists():
        print(f"CIFAR-10 tarball not found at {args.tarball}; pass --tarball", file=sys.stderr)
        return 2
    tarball = args.tarball.resolve()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_search_"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": _cpu(), "cores": os.cpu_count(),
              "python": platform.python_version(), "blas": _blas(),
              "kernels": os.environ.get("BABYSIT_KERNELS") or "numpy"}  # babysit.nn.kernels: the job inherits it
    if not args.skip_throughput:
        for workers in (1, 2):
            with LoadSampler() as load:
                report[f"throughput_{workers}_workers"] = bench_throughput(tarball, args.throughput_trials, workers, work)
            report[f"throughput_{workers}_workers"]["load_average"] = load.summary()
        one, two = (report[f"throughput_{w}_workers"].pop("val_acc") for w in (1, 2))
        report["throughput_same_val_acc"] = one == two
    if not args.skip_job:
        with LoadSampler() as load:
            report["job"] = bench_job(tarball, args.budget_minutes, args.job_workers, work / "job", args.model,
                                      ("--no-rungs",) if args.no_rungs else ())
        report["job"]["load_average"] = load.summary()
        report["job"]["reaches_lecture_53"] = (report["job"]["val_acc"] or 0) >= LECTURE_VAL_ACC
        report["job"]["pytorch_reference_val_acc"] = PYTORCH_REFERENCE_VAL_ACC
    print(json.dumps(report, indent=2, default=str))
    print(f"(job folder: {work})", file=sys.stderr)
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas() -> str:
    try:
        import numpy  # noqa: F401  (threadpoolctl reports only the libraries already loaded)
        from threadpoolctl import threadpool_info

        for d in threadpool_info():
            if d.get("internal_api") == "openblas":
                return f"OpenBLAS {d.get('version')} {d.get('architecture')}, {d.get('num_threads')} threads"
    except ImportError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
