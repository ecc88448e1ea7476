"""Zoo entries without the paths of the machine that made them: a card travels (the shipped model, an export).

A checkpoint records the data it was trained on as given (``folder:/home/me/photos.tar.gz``); a zoo
entry rewrites every absolute path in its metadata: relative to the current folder when it lies
at most one level up (``../shared/data/cifar10-train-jpeg.tar.gz`` from a repository root), else
only its file name (``folder:photos.tar.gz``). Source options after ``?`` are kept. The tensors
are kept as they are; only the metadata (the sidecar and the copy embedded in the weights'
header) changes, and the card's sha256 is that of the weights as they lie in the entry.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from babysit.fileio import dumps

# an optional source scheme ('folder:', 'npz:', 'cifar10:'), an absolute or home path, optional ?options
_PATH_TEXT = re.compile(r"^(?P<scheme>[a-z0-9]+:)?(?P<path>(?:/|~/)[^?]*)(?P<options>\?.*)?$")


def portable_text(text: str, cwd: str | os.PathLike | None = None) -> str:
    """``text`` with its absolute (or ~) path made relative or cut to the file name; other text unchanged."""
    match = _PATH_TEXT.match(text)
    if match is None:
        return text
    path = os.path.expanduser(match["path"])
    relative = os.path.relpath(path, os.fspath(cwd or os.getcwd()))
    if relative.startswith(os.pardir + os.sep + os.pardir) or relative == os.pardir or os.path.isabs(relative):
        relative = os.path.basename(path.rstrip("/")) or relative
    return f"{match['scheme'] or ''}{relative}{match['options'] or ''}"


def portable(value, cwd=None):
    """``value`` (JSON: dicts, lists, strings) with ``portable_text`` applied to every string."""
    if isinstance(value, str):
        return portable_text(value, cwd)
    if isinstance(value, dict):
        return {k: portable(v, cwd) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, cwd) for v in value]
    return value


def portable_command(command: str | None, cwd=None) -> str | None:
    """A command line with ``portable_text`` applied to each word (``--data folder:/abs/x`` -> ``folder:x``)."""
    if command is None:
        return None
    return " ".join(portable_text(word, cwd) for word in command.split(" "))


def absolute_paths(value) -> list[str]:
    """The strings of ``value`` (JSON) that hold an absolute or home path (what ``portable`` rewrites)."""
    if isinstance(value, str):
        return [value] if _PATH_TEXT.match(value) else []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for v in items for s in absolute_paths(v)]


def write_portable_copy(weights: Path, sidecar: Path, dest_weights: Path, dest_sidecar: Path, cwd=None) -> dict:
    """Copy a checkpoint with its metadata's ``train_config`` made portable; returns the new sidecar dict.

    A checkpoint without absolute paths is copied byte for byte; else the weights are written again with the
    same tensors and header entries but the portable metadata (safetensors orders a header its own way, so
    such a copy's sha256 is its own).
    """
    import shutil

    from safetensors import safe_open
    from safetensors.numpy import save_file

    from babysit.train.checkpoint import META_KEY

    meta = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    with safe_open(str(weights), framework="np") as f:
        header = dict(f.metadata() or {})
        embedded = json.loads(header[META_KEY]) if META_KEY in header else None
        if not absolute_paths(meta.get("train_config") or {}) and not (
                embedded and absolute_paths(embedded.get("train_config") or {})):
            shutil.copyfile(weights, dest_weights)
            shutil.copyfile(sidecar, dest_sidecar)
            return meta
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["train_config"] = portable(meta.get("train_config") or {}, cwd)
    if embedded is not None:
        embedded["train_config"] = portable(embedded.get("train_config") or {}, cwd)
        header[META_KEY] = dumps(embedded)
    save_file(tensors, str(dest_weights), metadata=header)
    Path(dest_sidecar).write_text(dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
