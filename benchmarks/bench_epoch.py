"""One epoch of the lecture's 2-layer net on the 49,000 CIFAR-10 training images: babysit vs PyTorch.

The lecture's setup: 3072-50-10 (affine - relu - affine - softmax), weights 0.0001 * randn,
mean-image preprocessing, SGD with momentum 0.9, batch 100, L2 reg 1.43e-3 and per-epoch decay
0.9 from the lecture's search. The slide's best lr 9.47e-4 was found with the cs231n trainer's
default momentum 0 (plain SGD); with momentum 0.9 the same step size is lr ~1e-4 (lr 9.47e-4
explodes within the first epoch here), so lr = 1e-4.

- babysit: ``Solver(TwoLayerNet(...), update_rule='momentum', ...)`` for one epoch, including the
  end-of-epoch accuracy checks (1,000 training rows and the 1,000 validation rows).
- PyTorch: the same network (same initial weights), ``torch.optim.SGD(momentum=0.9)`` with weight
  decay on the weights only (= the gradient of 0.5 * reg * |W|^2), a fresh permutation per epoch,
  ``loss.item()`` every step (the Solver records every loss), the same accuracy checks.

Both run in this process, in interleaved rounds (the order alternates), with all cores. Then a
short manual run: ``--manual-epochs`` epochs of each, reporting the best validation accuracy.

Run (the OpenBLAS variables pin old kernels; users don't set them; the script re-executes
itself without them if they are set):

    python benchmarks/bench_epoch.py [--rounds 3] [--manual-epochs 5]
"""

from __future__ import annotations

import os
import sys

PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(k in os.environ for k in PINS) and "numpy" not in sys.modules:
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    print(f"(re-running without {', '.join(k for k in PINS if k in os.environ)})", flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median, openblas_kernel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar10-train-jpeg.tar.gz"
LR, REG, MOMENTUM, DECAY, BATCH = 1e-4, 1.433895e-03, 0.9, 0.9, 100


def load_data(path: Path):
    """The lecture's split (49,000 train / 1,000 val) minus the training mean image, float32."""
    from babysit.data import Preprocessor, load_source

    t0 = time.perf_counter()
    ds = load_source(f"folder:{path}", val_fraction=1000, test_fraction=0, seed=0)
    pre = Preprocessor("mean_image").fit(ds.X_train)
    flat = lambda X: pre.transform(X).reshape(len(X), -1)  # noqa: E731 - the lecture's (N, 3072) rows
    data = {"X_train": flat(ds.X_train), "y_train": ds.y_train, "X_val": flat(ds.X_val), "y_val": ds.y_val}
    return data, time.perf_counter() - t0


def babysit_run(data, epochs: int, seed: int):
    """(seconds of Solver.train(), solver) for ``epochs`` epochs from a fresh model."""
    from babysit.nn import TwoLayerNet
    from babysit.train import Solver

    model = TwoLayerNet(input_dim=3072, hidden_dim=50, num_classes=10, weight_scale=1e-4, reg=REG, seed=seed)
    solver = Solver(model, data, update_rule="momentum", optim_config={"learning_rate": LR, "momentum": MOMENTUM},
                    lr_decay=DECAY, batch_size=BATCH, num_epochs=epochs, verbose=False, seed=seed)
    t0 = time.perf_counter()
    solver.train()
    return time.perf_counter() - t0, solver


def torch_run(data, epochs: int, seed: int):
    """(seconds, best validation accuracy) of the same training in PyTorch."""
    import torch
    import torch.nn.functional as F
    from babysit.nn import TwoLayerNet

    init = TwoLayerNet(input_dim=3072, hidden_dim=50, num_classes=10, weight_scale=1e-4, seed=seed).params
    net = torch.nn.Sequential(torch.nn.Linear(3072, 50), torch.nn.ReLU(), torch.nn.Linear(50, 10))
    with torch.no_grad():
        for layer, i in ((net[0], 1), (net[2], 2)):
            layer.weight.copy_(torch.from_numpy(init[f"W{i}"].T.copy()))
            layer.bias.copy_(torch.from_numpy(init[f"b{i}"]))
    opt = torch.optim.SGD([{"params": [net[0].weight, net[2].weight], "weight_decay": REG},
                           {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0}], lr=LR, momentum=MOMENTUM)
    X = torch.from_numpy(data["X_train"])
    y = torch.from_numpy(data["y_train"])
    X_val = torch.from_numpy(data["X_val"])
    y_val = torch.from_numpy(data["y_val"])
    gen = torch.Generator().manual_seed(seed)
    n, losses, best = len(X), [], 0.0
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(n // BATCH):
            rows = perm[i * BATCH:(i + 1) * BATCH]
            loss = F.cross_entropy(net(X[rows]), y[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            sub = torch.randperm(n, generator=gen)[:1000]
            (net(X[sub]).argmax(1) == y[sub]).float().mean().item()  # the Solver's train-accuracy check
            best = max(best, (net(X_val).argmax(1) == y_val).float().mean().item())
        for group in opt.param_groups:
            group["lr"] *= DECAY
    return time.perf_counter() - t0, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the CIFAR-10 JPEG tarball")
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per library (default 3)")
    parser.add_argument("--manual-epochs", type=int, default=5, help="epochs of the short manual run (0: skip)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="BLAS threads for NumPy and PyTorch (default: all cores)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    torch.set_num_threads(args.threads)
    data, load_seconds = load_data(args.data)
    n = len(data["y_train"])
    print(f"data: {n} train / {len(data['y_val'])} val images from {args.data.name}, "
          f"loaded + mean-image preprocessed in {load_seconds:.1f} s")

    times = {"babysit": [], "pytorch": []}
    for r in range(args.rounds + 1):  # round 0 warms both libraries' thread pools and caches
        order = ["babysit", "pytorch"] if r % 2 == 0 else ["pytorch", "babysit"]
        for name in order:
            if name == "babysit":
                seconds, solver = babysit_run(data, 1, r)
                if solver.status != "finished":  # a run cut short by the guard would time less work
                    raise SystemExit(f"babysit run {solver.status}: {solver.stop_reason}")
            else:
                seconds = torch_run(data, 1, r)[0]
            if r:
                times[name].append(seconds)
    rate = {k: n / median(v) for k, v in times.items()}
    best = {k: n / min(v) for k, v in times.items()}  # the least disturbed epoch: robust on a shared machine
    result = {
        "machine": machine_info(), "blas": openblas_kernel(), "torch_threads": torch.get_num_threads(),
        "epoch_seconds": times, "samples_per_second": rate, "ratio_babysit_over_pytorch": rate["babysit"] / rate["pytorch"],
        "best_samples_per_second": best, "best_ratio": best["babysit"] / best["pytorch"],
    }
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
          f"load average {', '.join(f'{x:.2f}' for x in result['machine']['load_average'])}")
    print(f"NumPy {np.__version__}: {result['blas']}; PyTorch {torch.__version__}: {torch.get_num_threads()} threads")
    for name in times:
        print(f"{name:8s} one epoch: median {median(times[name]):.3f} s over {args.rounds} "
              f"({', '.join(f'{t:.3f}' for t in times[name])}) = {rate[name]:,.0f} samples/s; "
              f"best {min(times[name]):.3f} s = {best[name]:,.0f} samples/s")
    print(f"ratio babysit / PyTorch: {result['ratio_babysit_over_pytorch']:.2f}x (medians), "
          f"{result['best_ratio']:.2f}x (best epochs)")

    if args.manual_epochs:
        secs, solver = babysit_run(data, args.manual_epochs, 0)
        t_secs, t_best = torch_run(data, args.manual_epochs, 0)
        result["manual_run"] = {"epochs": args.manual_epochs, "babysit_best_val_acc": solver.best_val_acc,
                                "babysit_seconds": secs, "babysit_status": solver.status,
                                "pytorch_best_val_acc": t_best, "pytorch_seconds": t_secs,
                                "val_acc_history": solver.val_acc_history}
        print(f"manual run, {args.manual_epochs} epochs (lr {LR:.6e}, reg {REG:.6e}, momentum {MOMENTUM}, "
              f"decay {DECAY}, batch {BATCH}): best val acc babysit {solver.best_val_acc:.3f} "
              f"({secs:.1f} s, {solver.status}), PyTorch {t_best:.3f} ({t_secs:.1f} s)")
        print("babysit val acc per epoch: " + ", ".join(f"{a:.3f}" for a in solver.val_acc_history))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
