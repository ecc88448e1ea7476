"""Time to load the 50,000 CIFAR-10 training JPEGs: cold (decode + write the cache) and cached.

Usage: python benchmarks/bench_data_load.py [--tarball PATH] [--repeats 3] [--workers N]

Cold runs use a fresh, empty cache directory each time, so they read the tarball,
decode every JPEG with Pillow and write the .npz cache; they run once with one
process and once with the default number of decode processes. Cached runs read
that .npz. The OS page cache is warm for both (the tarball is read once first),
so the figures are CPU cost, not disk speed. Prints a table and the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

from babysit.data import load_source, read_image_folder  # noqa: E402
from babysit.data.decode import default_workers  # noqa: E402

DEFAULT_TARBALL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10-train-jpeg.tar.gz"


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the decode workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _cold(tarball: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one load into an empty cache."""
    with tempfile.TemporaryDirectory(prefix="babysit-bench-") as cache:
        c0, t0 = _cpu_seconds(), time.perf_counter()
        X, y, _, info = read_image_folder(tarball, cache_dir=cache, workers=workers)
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    assert not info.cache_hit and X.shape == (50000, 3, 32, 32), (X.shape, info)
    return seconds, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL.resolve())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=default_workers(), help="decode processes for the parallel cold run")
    args = parser.parse_args(argv)
    if not args.tarball.is_file():
        print(f"tarball not found: {args.tarball}", file=sys.stderr)
        return 2

    machine = machine_info()
    args.tarball.read_bytes()  # warm the page cache: time CPU work, not the disk
    variants = {"cold, 1 process": 1}
    if args.workers > 1:
        variants[f"cold, {args.workers} processes"] = args.workers
    cold: dict[str, list[float]] = {name: [] for name in variants}
    cold_cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so load from other users hits all variants alike
        for name, workers in variants.items():
            wall, cpu = _cold(args.tarball, workers)
            cold[name].append(wall)
            cold_cpu[name].append(cpu)

    with tempfile.TemporaryDirectory(prefix="babysit-bench-") as cache:
        read_image_folder(args.tarball, cache_dir=cache)
        cached, via_source, cached_cpu, via_source_cpu = [], [], [], []
        for _ in range(max(args.repeats, 5)):
            c0, t0 = _cpu_seconds(), time.perf_counter()
            X, _, _, info = read_image_folder(args.tarball, cache_dir=cache)
            cached.append(time.perf_counter() - t0)
            cached_cpu.append(_cpu_seconds() - c0)
            assert info.cache_hit
            c0, t0 = _cpu_seconds(), time.perf_counter()
            d = load_source(f"folder:{args.tarball}", cache_dir=cache, val_fraction=1000, test_fraction=1000)
            via_source.append(time.perf_counter() - t0)
            via_source_cpu.append(_cpu_seconds() - c0)
        cache_mb = info.cache_file.stat().st_size / 1e6

    rows = {**cold, "cached (.npz read)": cached, "cached + split (load_source)": via_source}
    cpu = {**cold_cpu, "cached (.npz read)": cached_cpu, "cached + split (load_source)": via_source_cpu}
    print(f"CIFAR-10 JPEG tarball: {args.tarball} ({args.tarball.stat().st_size / 1e6:.1f} MB, "
          f"50,000 images -> X {X.shape} {X.dtype}, cache file {cache_mb:.0f} MB)")
    print(f"splits via load_source: train {len(d.y_train)}, val {len(d.y_val)}, test {len(d.y_test)}")
    print()
    print(f"{'variant':<32} {'median s':>9} {'min s':>8} {'images/s':>10} {'CPU s':>7}  runs")
    for name, times in rows.items():
        med = statistics.median(times)
        print(f"{name:<32} {med:>9.3f} {min(times):>8.3f} {50000 / med:>10,.0f} "
              f"{statistics.median(cpu[name]):>7.2f}  {len(times)}")
    print("(wall-clock seconds; CPU s = user + system of this process and its decode workers, median)")
    print()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, "
          f"NumPy {np.__version__}, Pillow {PIL.__version__}; {machine['date']}")
    print(f"load average before: {tuple(round(v, 2) for v in machine['load_average'])}, "
          f"after: {tuple(round(v, 2) for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
