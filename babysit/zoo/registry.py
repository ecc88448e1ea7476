"""The model zoo: a folder of entries, each a checkpoint (safetensors + sidecar) and its card.

    zoo = Zoo()                         # $BABYSIT_ZOO, else ~/.cache/babysit/zoo (or Zoo(DIR): --zoo DIR)
    zoo.add("mine", "runs/a")           # atomically: staged in a hidden folder, then renamed into place
    zoo.names(); zoo.card("mine"); zoo.checkpoint("mine")   # the entry's folder, after checking its sha256
    zoo.remove("mine"); zoo.export("mine", "dir/")

An entry ``ZOO/NAME/`` holds ``model.safetensors``, ``model.json`` (so ``load_checkpoint`` reads it
as any checkpoint) and ``card.json``. The models shipped with babysit (``babysit/zoo/models/``) are
read-only entries of every zoo. A crash while adding leaves only a hidden staging folder, which
listing ignores and the next add sweeps away: never a half entry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

from babysit.errors import CheckpointError, ConfigError
from babysit.fileio import atomic_write, dumps
from babysit.zoo.card import check_card, make_card, sha256_file
from babysit.zoo.portable import portable, portable_command, write_portable_copy

CARD_NAME = "card.json"
WEIGHTS_NAME = "model.safetensors"
SIDECAR_NAME = "model.json"
SHIPPED = Path(__file__).with_name("models")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STAGING_PREFIX = ".staging-"


def default_zoo_dir() -> Path:
    """``$BABYSIT_ZOO`` if set, else the zoo folder of babysit's cache (``~/.cache/babysit/zoo``)."""
    from babysit.data.cache import default_cache_dir

    env = os.environ.get("BABYSIT_ZOO")
    return Path(env).expanduser() if env else default_cache_dir() / "zoo"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"zoo entry name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit", parameter="name")
    return name


class Zoo:
    """The zoo at ``root`` (default ``default_zoo_dir()``), plus the shipped models."""

    def __init__(self, root=None, *, shipped: Path | None = SHIPPED):
        self.root = Path(root).expanduser() if root is not None else default_zoo_dir()
        self.shipped = shipped

    # -- reading ------------------------------------------------------------
    def _entries(self) -> dict[str, Path]:
        found = {}
        for base in (self.shipped, self.root):
            if base is not None and base.is_dir():
                for d in sorted(base.iterdir()):
                    if d.is_dir() and not d.name.startswith((".", "_")):
                        found.setdefault(d.name, d)
        return found

    def names(self) -> list[str]:
        return sorted(self._entries())

    def is_shipped(self, name: str) -> bool:
        return self.shipped is not None and (self.shipped / name).is_dir()

    def entry_dir(self, name: str) -> Path:
        """The folder of entry ``name``; CheckpointError listing the known names when there is none."""
        entry = self._entries().get(name)
        if entry is None:
            known = ", ".join(self.names()) or "none"
            raise CheckpointError(f"no model {name!r} in the zoo {self.root} (known: {known}; "
                                  "add one with `babysit zoo add NAME --checkpoint DIR`)")
        return entry

    def card(self, name: str) -> dict:
        """The card of ``name``, checked for every field (not the weights: see ``checkpoint``)."""
        path = self.entry_dir(name) / CARD_NAME
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"zoo entry {name!r} is incomplete: {path} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"zoo entry {name!r}: {path} is not a readable card ({exc})") from None
        return check_card(card, path)

    def checkpoint(self, name: str) -> Path:
        """The checkpoint folder of ``name`` after checking its weights against the card's sha256."""
        card = self.card(name)
        weights = self.entry_dir(name) / WEIGHTS_NAME
        if not weights.is_file():
            raise CheckpointError(f"zoo entry {name!r} is incomplete: {weights} is missing")
        digest = sha256_file(weights)
        if digest != card["sha256"]:
            raise CheckpointError(f"zoo entry {name!r}: {weights} has sha256 {digest[:16]}..., but its card says "
                                  f"{card['sha256'][:16]}...: the weights are corrupted or were replaced; "
                                  "remove the entry and add it again")
        return weights.parent

    # -- writing ------------------------------------------------------------
    def add(self, name: str, checkpoint, *, description: str = "", license: str = "unspecified",
            metrics: dict | None = None, made_with: str | None = None, trained_on: dict | None = None,
            replace: bool = False) -> dict:
        """Add the checkpoint at ``checkpoint`` (file or folder) as entry ``name``; returns its card.

        The checkpoint is loaded first (a corrupted one is refused), copied with its card into a
        hidden staging folder, and the folder renamed into place in one step.
        """
        from babysit.train.checkpoint import checkpoint_paths, load_checkpoint

        check_name(name)
        if self.is_shipped(name):
            raise CheckpointError(f"{name!r} is a model shipped with babysit; choose another name")
        target = self.root / name
        if target.exists() and not replace:
            raise CheckpointError(f"the zoo {self.root} has an entry {name!r} already "
                                  "(remove it first, or pass --replace)")
        _, meta = load_checkpoint(checkpoint)
        weights, sidecar = checkpoint_paths(checkpoint)
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()
        stage = self.root / f"{STAGING_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
        stage.mkdir()
        try:
            # no paths of this machine in the entry (babysit.zoo.portable); the tensors are copied byte for byte
            written = write_portable_copy(weights, sidecar, stage / WEIGHTS_NAME, stage / SIDECAR_NAME)
            meta = {**meta, "train_config": written["train_config"]}
            card = make_card(name, stage / WEIGHTS_NAME, meta, description=description, license=license,
                             metrics=portable(metrics), made_with=portable_command(made_with),
                             trained_on=portable(trained_on))
            atomic_write(stage / CARD_NAME, dumps(card, indent=2) + "\n")
            for f in stage.iterdir():
                _fsync(f)
            if target.exists():  # --replace: move the old entry aside first, so a crash keeps one of the two
                old = self.root / f"{STAGING_PREFIX}old-{name}-{uuid.uuid4().hex[:8]}"
                os.replace(target, old)
                os.replace(stage, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(stage, target)
            _fsync(self.root)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return card

    def remove(self, name: str) -> Path:
        """Delete the entry ``name`` (renamed away first, so no half entry is ever listed)."""
        entry = self.entry_dir(name)
        if self.is_shipped(name) and entry.parent == self.shipped:
            raise CheckpointError(f"{name!r} is a model shipped with babysit; it cannot be removed")
        trash = self.root / f"{STAGING_PREFIX}removed-{name}-{uuid.uuid4().hex[:8]}"
        os.replace(entry, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return entry

    def export(self, name: str, dest) -> Path:
        """Copy entry ``name`` (checked) into the folder ``dest``: a checkpoint folder with its card."""
        source = self.checkpoint(name)
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise CheckpointError(f"export destination {dest} is not empty; give a new or empty folder")
        dest.mkdir(parents=True, exist_ok=True)
        for f in (WEIGHTS_NAME, SIDECAR_NAME, CARD_NAME):
            shutil.copyfile(source / f, dest / f)
        return dest

    def _sweep_staging(self) -> None:
        """Remove what an add killed half-way left behind."""
        for d in self.root.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(d, ignore_errors=True)


def resolve_checkpoint(spec, zoo: Zoo | None = None) -> Path:
    """A checkpoint path from ``--from``: an existing file or folder as it is, else a zoo name (checked)."""
    path = Path(str(spec)).expanduser()
    if path.exists() or path.with_name(path.name + ".safetensors").exists():
        return path
    if NAME_PATTERN.fullmatch(str(spec)):
        return (zoo or Zoo()).checkpoint(str(spec))
    raise CheckpointError(f"{spec!r} is neither a checkpoint (no such file or folder) nor a zoo name")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
