"""``babysit run``: the lecture's whole recipe (doctor, coarse-to-fine search, final training, report)."""

from __future__ import annotations

from pathlib import Path

from babysit.cli.kernel_option import add_kernels_argument
from babysit.cli.publishing import add_publish_arguments, publish


def add_parser(sub, name):
    from babysit.pipeline.main_job import JobConfig

    d = JobConfig()
    p = sub.add_parser(
        name, help="the whole recipe: doctor, coarse-to-fine search, train the best longer, test, report",
        description="Load and preprocess the data (fitted on the training split), run the doctor's sanity checks "
                    "(its learning-rate range seeds the search), search learning rate and regularization from "
                    "coarse to fine within the time budget, train the best configuration longer, evaluate it on "
                    "the held-out test split, and write DIR/model.safetensors + model.json, DIR/runs.sqlite and "
                    "DIR/report.html + report.md. With no options: the embedded digits, within its one-minute default budget.")
    p.add_argument("--data", default=d.data, help="digits (default, embedded) | cifar10:DIR | folder:PATH | npz:PATH")
    p.add_argument("--model", default=d.model, help=f"fc:H1,H2,... or conv:F1,F2[/H1,...] (default {d.model})")
    p.add_argument("--budget-minutes", type=float, default=d.budget_minutes,
                   help=f"wall-clock budget for the whole job (default {d.budget_minutes:g})")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the split, the sampling and the trials")
    from babysit.search.executors import default_workers

    p.add_argument("--workers", type=int, default=default_workers(),
                   help=f"local processes running trials, one BLAS thread each (default: one per core, "
                        f"{default_workers()} here; 1: this process, every core)")
    p.add_argument("--no-rungs", dest="rungs", action="store_false",
                   help="give every trial of a stage its full epochs (default: stop clearly lost trials at a rung, "
                        "babysit.search.rungs)")
    p.add_argument("--preprocess", default=d.preprocess, help=f"default {d.preprocess} (see babysit train --help)")
    p.add_argument("--out", type=Path, default=Path("runs/latest"), help="output folder (default runs/latest)")
    add_publish_arguments(p)
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", dest="start", action="store_const", const="resume", default="auto",
                       help="resume the unfinished job in --out (refused when there is none); without --resume or "
                            "--fresh an unfinished job with the same settings is resumed, one with others refused")
    again.add_argument("--fresh", dest="start", action="store_const", const="fresh",
                       help="start a new job in --out even if an unfinished one is there (its history is kept)")
    add_kernels_argument(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from babysit.pipeline.main_job import JobConfig, run_job
    from babysit.search.console import SearchPrinter

    config = JobConfig(data=args.data, model=args.model, budget_minutes=args.budget_minutes, seed=args.seed,
                       workers=args.workers, preprocess=args.preprocess, rungs=args.rungs)
    result = run_job(config, args.out, observer=SearchPrinter(), mode=args.start)
    t = result.timings
    print(f"done in {t['total']:.1f} s (budget {config.budget_minutes:g} min). Wrote {result.out}/:")
    if result.checkpoint is not None:
        print(f"  {result.checkpoint} + model.json   (babysit eval --checkpoint {result.checkpoint} --data {config.data})")
    print(f"  {result.store}   (babysit runs --store {result.store})")
    print(f"  {result.report_html} and {result.report_md.name}")
    print(f"live view of the store: babysit dashboard --store {result.store}")
    if result.test is not None:
        print(f"test accuracy {result.test['accuracy']:.4f}, validation accuracy "
              f"{result.final.metrics()['val_acc']:.4f}")
    publish(args, result.checkpoint, {**result.final.metrics(), **({"test_acc": result.test["accuracy"]}
                                                                   if result.test is not None else {})})
    return 0 if result.checkpoint is not None else 1
