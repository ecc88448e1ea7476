"""``babysit search``: coarse-to-fine random search in log space, trials on local processes or a Dask cluster."""

from __future__ import annotations

from pathlib import Path

from babysit.errors import ConfigError

# flags for every searchable hyperparameter: --lr, --reg, --hidden, --dropout, --lr-decay, ...
# (the lecture's own lr 1e-6:1e-3 and reg 1e-5:1e5 are for raw pixels and 1e-4 init: --preprocess none --init small)
EXAMPLES = {
    "lr": "1e-3:1e-1:log", "reg": "1e-5:1e1:log", "hidden": "50,100,200", "dropout": "0:0.5",
    "lr_decay": "0.9", "momentum": "0.5:0.99", "horizon": "80", "batch_size": "100", "update": "momentum",
    "weight_scale": "1e-4:1e-1:log", "init": "he,xavier", "activation": "relu,tanh", "normalization": "none,batchnorm",
}
# Without --lr the search takes the doctor's lr range (as ``babysit run`` does); without --lr and --reg,
# reg spans babysit run's range too (pipeline.search_ranges.REG_RANGE).
# library parameter -> flag, where the names differ (the CLI alone knows its flags; see cli.main.error_message)
FLAGS = {"hyperparameter.name": "--param", "address": "--cluster",
         **{name: "--" + name.replace("_", "-") for name in EXAMPLES}}


def add_parser(sub, name):
    from babysit.search.hyperparameters import HYPERPARAMETERS

    p = sub.add_parser(
        name, help="coarse-to-fine random search of hyperparameters (the lecture's cross-validation strategy)",
        description="Stage 1 samples the whole ranges for a few epochs; each later stage narrows every range to "
                    "the best trials and trains twice as long. One line per trial, as in the lecture; every "
                    "trial is recorded in the run store, and re-running the same command resumes.")
    p.add_argument("--data", default="digits", help="digits (default) | cifar10:DIR | folder:PATH | npz:PATH")
    p.add_argument("--model", default="fc:100", help="fc:H1,H2,... or conv:F1,F2[/H1,...] (default fc:100)")
    p.add_argument("--preprocess", default="standardize", help="preprocessing fitted on the training split "
                   "(default standardize; see babysit train --help)")
    g = p.add_argument_group("hyperparameter ranges (LOW:HIGH:log, LOW:HIGH, A,B,C; one value = fixed)")
    for hp in HYPERPARAMETERS.values():
        flag = "--" + hp.name.replace("_", "-")
        g.add_argument(flag, dest=f"hp_{hp.name}", default=None, metavar="RANGE",
                       help=f"{hp.help} (e.g. {EXAMPLES.get(hp.name, '')})")
    g.add_argument("--param", action="append", default=[], metavar="NAME=RANGE",
                   help="any hyperparameter by name, e.g. --param lr=1e-4:1e-2:log")
    p.add_argument("--sampler", choices=("random", "grid"), default="random", help="default random")
    p.add_argument("--stages", type=int, default=2, help="coarse-to-fine stages (default 2)")
    p.add_argument("--trials", type=int, default=10, help="trials per stage (default 10)")
    p.add_argument("--epochs", type=int, default=5, help="epochs in stage 1, doubled every stage (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the sampling and the trials")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: this process)")
    ex.add_argument("--cluster", default=None, metavar="ADDRESS",
                    help="run the trials on the Dask scheduler at ADDRESS (tcp://HOST:PORT)")
    p.add_argument("--store", type=Path, required=True, help="the run store (SQLite file; created if missing)")
    p.add_argument("--name", default="search", help="name of the search in the store (default 'search')")
    p.add_argument("--top", type=int, default=10, help="rows of the final ranked table (default 10)")
    p.set_defaults(run=run)


def space_texts(args) -> dict[str, str]:
    """Hyperparameter name -> range text from the flags and --param NAME=RANGE; reg gets babysit run's range
    when neither lr nor reg is given; lr, when not given, is left out (``run`` asks the doctor for it)."""
    from babysit.search.hyperparameters import HYPERPARAMETERS, hyperparameter

    texts = {n: getattr(args, f"hp_{n}") for n in HYPERPARAMETERS if getattr(args, f"hp_{n}", None) is not None}
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ConfigError(f"--param: expected NAME=RANGE, as in lr=1e-6:1e-3:log; got {item!r}")
        name = name.strip().replace("-", "_")
        hyperparameter(name)  # unknown names fail here, with the known ones listed
        if name in texts:
            raise ConfigError(f"--param {item!r}: {name} is already given")
        texts[name] = text.strip()
    if "lr" not in texts and "reg" not in texts:
        from babysit.pipeline.search_ranges import REG_RANGE

        texts = {"reg": f"{REG_RANGE[0]:g}:{REG_RANGE[1]:g}:log", **texts}
    return texts


def doctor_lr_text(args, texts) -> tuple[str, str]:
    """The lr range text from the doctor's lr_range probe on this data and model (``lr_range_from``), and the note
    saying where it came from. The probes use the search's update rule when it is fixed, else the recipe's."""
    from babysit.doctor import run_doctor
    from babysit.pipeline.search_ranges import lr_range_from
    from babysit.search.trial import DataRef, prepared
    from babysit.train.recipe import TrainConfig, model_factory

    config = TrainConfig(model=args.model, seed=args.seed)  # a bad model or seed fails before the data is read
    dataset, _ = prepared(DataRef(args.data, args.seed, args.preprocess))
    update = texts.get("update", TrainConfig.update)
    if "," in update:
        update = TrainConfig.update
    make = model_factory(config, dataset.input_shape, dataset.num_classes)
    findings = run_doctor(make, dataset, checks=["lr_range"], seed=args.seed, update_rule=update)
    (low, high), note, _ = lr_range_from(findings, update)
    return f"{low:.3g}:{high:.3g}:log", note


def run(args) -> int:
    from babysit.search.console import SearchPrinter
    from babysit.search.driver import SearchSpec, check_setup, run_search
    from babysit.search.executors import make_executor
    from babysit.search.search_space import SearchSpace
    from babysit.search.trial import DataRef
    from babysit.store import RunStore

    texts = space_texts(args)
    SearchSpace.parse(texts)  # malformed ranges or choices fail before the doctor's probes run
    if "lr" not in texts:
        texts["lr"], note = doctor_lr_text(args, texts)
        print(f"lr range: {note}")
    space = SearchSpace.parse(texts)
    spec = SearchSpec.from_cli(data=DataRef(args.data, args.seed, args.preprocess), model=args.model, space=space,
                               stages=args.stages, trials=args.trials, epochs=args.epochs, seed=args.seed,
                               sampler=args.sampler)
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1; got {args.top}")
    check_setup(spec)  # bad data or model: fail before a store or a worker exists
    with make_executor(args.workers, args.cluster) as executor, RunStore(args.store) as store:
        outcome = run_search(spec, store, executor, name=args.name, observer=SearchPrinter(top=args.top))
    print(f"runs recorded in {args.store} (search {args.name!r}); list them with `babysit runs --store {args.store}`")
    return 0 if outcome.best is not None else 1
