"""``babysit search``: coarse-to-fine random search in log space, trials on local processes or a Dask cluster."""

from __future__ import annotations

from pathlib import Path

from babysit.cli.kernel_option import add_kernels_argument
from babysit.errors import ConfigError

# flags for every searchable hyperparameter: --lr, --reg, --hidden, --dropout, --lr-decay, ...
# (the lecture's own lr 1e-6:1e-3 and reg 1e-5:1e5 are for raw pixels and 1e-4 init: --preprocess none --init small)
EXAMPLES = {
    "lr": "1e-3:1e-1:log", "reg": "1e-5:1e1:log", "hidden": "50,100,200", "dropout": "0:0.5",
    "lr_decay": "0.9", "momentum": "0.5:0.99", "horizon": "80", "batch_size": "100", "update": "momentum",
    "weight_scale": "1e-4:1e-1:log", "init": "he,xavier", "activation": "relu,tanh", "normalization": "none,batchnorm",
    "lr_mult": "0.01:1:log",
}
# With --from and without --lr / --lr-mult, finetuning's ranges: a pretrained model wants lower rates than a fresh
# one, and its pretrained blocks at most the classifier's rate (lr_mult <= 1, fastai's discriminative rates)
FINETUNE_LR_RANGE = "1e-4:1e-2:log"
FINETUNE_LR_MULT_RANGE = "0.01:1:log"
# Without --lr the search takes the doctor's lr range (as ``babysit run`` does); without --lr and --reg,
# reg spans babysit run's range too (pipeline.search_ranges.REG_RANGE).
# library parameter -> flag, where the names differ (the CLI alone knows its flags; see cli.main.error_message)
FLAGS = {"hyperparameter.name": "--param", "address": "--cluster", "finetune_from": "--from",
         **{name: "--" + name.replace("_", "-") for name in (*EXAMPLES, "strategy", "freeze_epochs", "train_bn")}}


def add_parser(sub, name):
    from babysit.cli.publishing import add_zoo_argument
    from babysit.search.hyperparameters import HYPERPARAMETERS

    p = sub.add_parser(
        name, help="coarse-to-fine random search of hyperparameters (the lecture's cross-validation strategy)",
        description="Stage 1 samples the whole ranges for a few epochs; each later stage narrows every range to "
                    "the best trials and trains twice as long. One line per trial, as in the lecture; every "
                    "trial is recorded in the run store, and re-running the same command resumes.")
    p.add_argument("--data", default="digits", help="digits (default) | cifar10:DIR | folder:PATH | npz:PATH")
    p.add_argument("--model", default=None, help="fc:H1,H2,... or conv:F1,F2[/H1,...] (default fc:100; with --from "
                                                "the checkpoint's)")
    p.add_argument("--preprocess", default=None, help="preprocessing fitted on the training split "
                   "(default standardize; see babysit train --help; with --from the checkpoint's own)")
    f = p.add_argument_group("finetuning (--from): every trial finetunes a pretrained model, as babysit finetune does; "
                             "lr, --lr-mult and reg are searched")
    f.add_argument("--from", dest="base", default=None, metavar="NAME|CHECKPOINT",
                   help="a zoo name (babysit zoo list) or a model.safetensors / its folder")
    f.add_argument("--strategy", default="head", help="head | top:K | all | scratch, for every trial (default head)")
    f.add_argument("--freeze-epochs", type=int, default=0,
                   help="classifier-only epochs first in every trial, then unfreeze (fastai; default 0)")
    f.add_argument("--train-bn", action="store_true", help="keep BatchNorm layers of frozen blocks trainable")
    add_zoo_argument(f)
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
    from babysit.search.executors import default_workers

    p.add_argument("--no-rungs", dest="rungs", action="store_false", default=None,
                   help="give every trial of a stage its full epochs (default: stop clearly lost trials at a rung, "
                        "the best go on from it; babysit.search.rungs; a search stored without rungs resumes "
                        "without them)")
    p.add_argument("--stage-examples", default=None, metavar="N1,N2,...",
                   help="training examples per stage, a stratified subset of the training split ('all': the whole "
                        "split), one per stage, e.g. 5000,all (default: the whole split in every stage)")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, default=None,
                    help=f"local processes running trials, one BLAS thread each (default: one per core, "
                         f"{default_workers()} here; 1: this process, every core)")
    ex.add_argument("--cluster", default=None, metavar="ADDRESS",
                    help="run the trials on the Dask scheduler at ADDRESS (tcp://HOST:PORT)")
    p.add_argument("--store", type=Path, required=True, help="the run store (SQLite file; created if missing)")
    p.add_argument("--name", default="search", help="name of the search in the store (default 'search')")
    p.add_argument("--top", type=int, default=10, help="rows of the final ranked table (default 10)")
    add_kernels_argument(p)
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

    config = TrainConfig(model=args.model or TrainConfig.model, seed=args.seed)  # bad model or seed: fail before the data
    dataset, _ = prepared(DataRef(args.data, args.seed, args.preprocess or TrainConfig.preprocess))
    update = texts.get("update", TrainConfig.update)
    if "," in update:
        update = TrainConfig.update
    make = model_factory(config, dataset.input_shape, dataset.num_classes)
    findings = run_doctor(make, dataset, checks=["lr_range"], seed=args.seed, update_rule=update)
    (low, high), note, _ = lr_range_from(findings, update)
    return f"{low:.3g}:{high:.3g}:log", note


def finetune_ref(args, texts: dict):
    """(FinetuneRef, the checkpoint's --model spec) of ``--from``; adds lr_mult's default range to ``texts`` when the
    strategy trains pretrained blocks. ConfigError for settings that do not fit the checkpoint."""
    from babysit.search.trial import FinetuneRef
    from babysit.train.checkpoint import load_checkpoint
    from babysit.train.finetune import model_spec_of
    from babysit.train.recipe import TrainConfig
    from babysit.zoo import Zoo, resolve_checkpoint

    for flag, given in (("--preprocess", args.preprocess), ("--model", args.model)):
        if given is not None:
            raise ConfigError(f"{flag}: a search --from {args.base} trains that checkpoint's model on data preprocessed "
                              f"its own way; leave {flag} out")
    config = TrainConfig(finetune_from=args.base, strategy=args.strategy, freeze_epochs=args.freeze_epochs,
                         train_bn=args.train_bn)  # checks the settings
    base = resolve_checkpoint(args.base, Zoo(args.zoo))
    pretrained, _ = load_checkpoint(base)
    config.finetune_spec().trainable_blocks(pretrained.blocks)  # top:K larger than the model fails here
    pretrained_train = args.strategy not in ("head", "scratch")
    if "lr_mult" not in texts and pretrained_train:
        texts["lr_mult"] = FINETUNE_LR_MULT_RANGE
    elif "lr_mult" in texts and not pretrained_train:
        raise ConfigError(f"--lr-mult: strategy {args.strategy} trains no pretrained block, so lr_mult has no effect; "
                          "leave it out, or use top:K (K >= 2) or all")
    ref = FinetuneRef(str(Path(base).resolve()), args.base, args.strategy, args.freeze_epochs, args.train_bn)
    return ref, model_spec_of(pretrained.config())


def stage_examples(text: str | None, stages: int) -> tuple[int | None, ...] | None:
    """``--stage-examples 5000,all`` -> (5000, None): one count (or 'all') per stage; None without the flag."""
    if text is None:
        return None
    parts = [part.strip().lower() for part in text.split(",")]
    if len(parts) != stages or not all(part == "all" or (part.isdigit() and int(part) >= 1) for part in parts):
        raise ConfigError(f"--stage-examples: expected one count >= 1 or 'all' per stage ({stages} with --stages "
                          f"{stages}), as in {','.join(['5000'] * (stages - 1) + ['all'])}; got {text!r}")
    return tuple(None if part == "all" else int(part) for part in parts)


def search_rungs(args) -> bool:
    """Whether the search stops lost trials at rungs: not with --no-rungs; by default yes, except for a search
    of this name stored without rungs (run before they were the default, or with --no-rungs): re-running its
    command resumes it as it was, instead of refusing a spec that differs only by the new default."""
    if args.rungs is not None:
        return args.rungs
    if Path(args.store).exists():
        from babysit.store import RunStore

        with RunStore(args.store) as store:
            stored = next((s for s in store.searches() if s["name"] == args.name), None)
        if stored is not None and "rungs" not in stored["spec"]:
            print(f"search {args.name!r} in {args.store} was stored without rungs: it goes on without them")
            return False
    return True


def run(args) -> int:
    from babysit.search.console import SearchPrinter
    from babysit.search.driver import SearchSpec, check_setup, run_search
    from babysit.search.executors import default_workers, make_executor
    from babysit.search.rungs import Rungs
    from babysit.search.search_space import SearchSpace
    from babysit.search.trial import DataRef
    from babysit.store import RunStore

    texts = space_texts(args)
    if args.base is None:
        given = [flag for flag, on in (("--lr-mult", "lr_mult" in texts), ("--strategy", args.strategy != "head"),
                                       ("--freeze-epochs", args.freeze_epochs != 0), ("--train-bn", args.train_bn)) if on]
        if given:
            raise ConfigError(f"{', '.join(given)}: finetuning settings; give --from NAME|CHECKPOINT (the pretrained "
                              "model) too")
    SearchSpace.parse(texts)  # malformed ranges or choices fail before the doctor's probes run
    finetune, model = finetune_ref(args, texts) if args.base is not None else (None, args.model or "fc:100")
    if "lr" not in texts:
        if finetune is not None:
            texts["lr"] = FINETUNE_LR_RANGE
            print(f"lr range: {FINETUNE_LR_RANGE} (finetuning's default; give --lr to choose)")
        else:
            texts["lr"], note = doctor_lr_text(args, texts)
            print(f"lr range: {note}")
    space = SearchSpace.parse(texts)
    if finetune is not None:
        print(f"every trial finetunes {args.base} ({finetune.base}): strategy {finetune.strategy}, freeze_epochs "
              f"{finetune.freeze_epochs}, train_bn {finetune.train_bn}; the data preprocessed as it was")
    data = DataRef(args.data, args.seed, args.preprocess or "standardize", finetune=finetune)
    spec = SearchSpec.from_cli(data=data, model=model, space=space,
                               stages=args.stages, trials=args.trials, epochs=args.epochs, seed=args.seed,
                               sampler=args.sampler, rungs=Rungs() if search_rungs(args) else None,
                               stage_examples=stage_examples(args.stage_examples, args.stages))
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1; got {args.top}")
    check_setup(spec)  # bad data or model: fail before a store or a worker exists
    workers = None if args.cluster else default_workers() if args.workers is None else args.workers
    with make_executor(workers, args.cluster) as executor, RunStore(args.store) as store:
        outcome = run_search(spec, store, executor, name=args.name, observer=SearchPrinter(top=args.top))
    print(f"runs recorded in {args.store} (search {args.name!r}); list them with `babysit runs --store {args.store}`")
    return 0 if outcome.best is not None else 1
