"""``--publish NAME`` and ``--zoo DIR``: what train, run and finetune share to put their model into the zoo."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def add_zoo_argument(p) -> None:
    p.add_argument("--zoo", type=Path, default=None, metavar="DIR",
                   help="the model zoo folder (default $BABYSIT_ZOO, else ~/.cache/babysit/zoo)")


def add_publish_arguments(p) -> None:
    p.add_argument("--publish", default=None, metavar="NAME",
                   help="add the trained model to the model zoo as NAME (card with weights sha256, data, recipe, metrics)")
    p.add_argument("--license", default="unspecified", help="license written into the published model's card")
    add_zoo_argument(p)


def made_with() -> str:
    """The command line of this process, as a user would type it."""
    return "babysit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def publish(args, checkpoint, metrics: dict | None = None, say=print) -> dict | None:
    """Add ``checkpoint`` to the zoo as ``args.publish`` (nothing without ``--publish``); returns its card."""
    if not getattr(args, "publish", None) or checkpoint is None:
        return None
    from babysit.zoo import Zoo

    zoo = Zoo(args.zoo)
    card = zoo.add(args.publish, checkpoint, license=args.license, metrics=metrics, made_with=made_with())
    say(f"published as {args.publish!r} in the zoo {zoo.root} (sha256 {card['sha256'][:12]}...; "
        f"babysit finetune --from {args.publish} ...)")
    return card
