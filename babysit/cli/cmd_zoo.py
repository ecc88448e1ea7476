"""``babysit zoo list|show|add|remove|export``: the local model zoo and the models shipped with babysit."""

from __future__ import annotations

import tempfile
from pathlib import Path

from babysit.cli.publishing import add_zoo_argument
from babysit.fileio import dumps


def add_parser(sub, name):
    p = sub.add_parser(name, help="the model zoo: pretrained models with cards (list, show, add, remove, export)",
                       description="A folder of pretrained models (default $BABYSIT_ZOO, else ~/.cache/babysit/zoo), "
                                   "each a checkpoint plus a card (architecture, sha256 of the weights, input, "
                                   "preprocessing, classes, data, recipe, metrics, body/classifier, license), and the "
                                   "models shipped with babysit. Use one with `babysit finetune --from NAME`.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    ls = actions.add_parser("list", help="the models, one line each")
    show = actions.add_parser("show", help="a model's card")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print the card as JSON")
    add = actions.add_parser("add", help="add a checkpoint as NAME (atomically)")
    add.add_argument("name")
    add.add_argument("--checkpoint", required=True, help="model.safetensors, or the folder holding it")
    add.add_argument("--description", default="", help="one line about the model")
    add.add_argument("--license", default="unspecified", help="the weights' license (default unspecified)")
    add.add_argument("--evaluate", action="store_true",
                     help="measure the test accuracy on the checkpoint's own data source (its test split) for the card")
    add.add_argument("--made-with", default=None, help="the command that trained it, for the card")
    add.add_argument("--replace", action="store_true", help="replace an entry of that name")
    add.add_argument("--torch-weights", type=Path, default=None, metavar="FILE.safetensors",
                     help="take the weights from this PyTorch state_dict (nn.Sequential names, as `export --torch` "
                          "writes them) and the architecture, classes and preprocessing from --checkpoint")
    rm = actions.add_parser("remove", help="delete a model from the zoo")
    rm.add_argument("name")
    ex = actions.add_parser("export", help="copy a model (checkpoint + card) into a folder")
    ex.add_argument("name")
    ex.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    ex.add_argument("--torch", action="store_true",
                    help="write a PyTorch state_dict (safetensors, nn.Sequential names) instead of the babysit checkpoint")
    for q in (ls, show, add, rm, ex):
        add_zoo_argument(q)
    p.set_defaults(run=run)


def run(args) -> int:
    from babysit.zoo import Zoo

    zoo = Zoo(args.zoo)
    return ACTIONS[args.action](zoo, args)


def _list(zoo, args) -> int:
    names = zoo.names()
    if not names:
        print(f"no models in {zoo.root} (add one: babysit zoo add NAME --checkpoint DIR)")
        return 0
    for name in names:
        where = "shipped" if zoo.is_shipped(name) else "local"
        try:
            card = zoo.card(name)
        except Exception as exc:  # noqa: BLE001 - a broken entry is listed with its problem, not fatal to the list
            print(f"{name:<24} {where:<8} unreadable: {exc}")
            continue
        m = card.get("metrics") or {}
        acc = m.get("test_acc", m.get("val_acc"))
        which = "test" if "test_acc" in m else "val"
        arch = card["architecture"]
        print(f"{name:<24} {where:<8} {arch.get('type')} {card['input']['shape']} {len(card['class_names'])} classes"
              f"{f'  {which} acc {acc:.4f}' if isinstance(acc, float) else ''}  {card.get('description', '')}")
    return 0


def _show(zoo, args) -> int:
    card = zoo.card(args.name)
    if args.json:
        print(dumps(card, indent=2))
        return 0
    for key, value in card.items():
        text = dumps(value) if isinstance(value, dict | list) else str(value)
        print(f"{key}: {text if len(text) < 300 else text[:300] + ' ...'}")
    return 0


def _add(zoo, args) -> int:
    metrics = None
    if args.evaluate:
        from babysit.train.checkpoint import load_checkpoint
        from babysit.train.evaluate import evaluate_checkpoint

        _, meta = load_checkpoint(args.checkpoint)
        data = (meta.get("train_config") or {}).get("data")
        result, info = evaluate_checkpoint(args.checkpoint, data, split="test")
        metrics = {**(meta.get("metrics") or {}), "test_acc": result["accuracy"], "test_loss": result["loss"],
                   "test_examples": info["num_examples"], "test_split_of": data}
    checkpoint = args.checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        if args.torch_weights is not None:
            checkpoint = _with_torch_weights(args.checkpoint, args.torch_weights, Path(tmp))
        card = zoo.add(args.name, checkpoint, description=args.description, license=args.license, metrics=metrics,
                       made_with=args.made_with, replace=args.replace)
    print(f"added {args.name!r} to {zoo.root} (sha256 {card['sha256']})")
    return 0


def _with_torch_weights(like, weights, folder: Path) -> Path:
    """A checkpoint in ``folder``: ``like``'s architecture, classes and preprocessing with the PyTorch weights."""
    from babysit.train.checkpoint import load_checkpoint, save_checkpoint
    from babysit.zoo.torch_weights import load_torch_state_dict

    model, meta = load_checkpoint(like)
    load_torch_state_dict(model, weights)
    return save_checkpoint(folder / "model.safetensors", model, preprocessor=meta["preprocessor"],
                           class_names=meta["class_names"], train_config={**meta.get("train_config", {}),
                                                                          "torch_weights": str(weights)})


def _remove(zoo, args) -> int:
    zoo.remove(args.name)
    print(f"removed {args.name!r} from {zoo.root}")
    return 0


def _export(zoo, args) -> int:
    if args.torch:
        from babysit.zoo.torch_weights import export_torch

        path = export_torch(zoo.checkpoint(args.name), args.out / "model.safetensors")
        print(f"wrote the PyTorch state_dict {path} (torch: model.load_state_dict(safetensors.torch.load_file(...)))")
        return 0
    print(f"exported {args.name!r} to {zoo.export(args.name, args.out)}")
    return 0


ACTIONS = {"list": _list, "show": _show, "add": _add, "remove": _remove, "export": _export}
