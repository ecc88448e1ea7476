"""Atomic file writes and strict JSON, for every file babysit writes.

``atomic_write(path, data)`` and ``atomic_path(path)`` put a file in place whole or not at
all: the data goes to a temp file in the same folder, is fsynced, moved over ``path`` with
``os.replace`` and the folder is fsynced. A reader sees the old file or the new one, never
half of one; on any failure (an exception, Ctrl-C) the temp file is removed and ``path``
is untouched.

Permissions: the file gets the mode any newly created file gets, ``0o666`` less the umask
(0644 under the usual umask 022), because the temp file is created the ordinary way
(``open(..., O_CREAT | O_EXCL, 0o666)``), not with mkstemp's private 0600. The mode of a
file being replaced is not carried over.

``to_jsonable(obj)`` / ``dumps(obj)``: strict JSON (RFC 8259) that any parser reads. NaN and
±inf become null, NumPy scalars and arrays Python numbers and lists, tuples and sets lists,
paths strings; ``dumps`` never writes ``NaN``/``Infinity`` (``allow_nan=False``).

This module sits below every package and imports nothing of babysit.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePath

import numpy as np

__all__ = ["atomic_path", "atomic_write", "dumps", "to_jsonable"]


# ---------------------------------------------------------------- atomic writes


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Replace ``path`` with ``data`` (str is written as UTF-8) atomically; returns ``path``.

    The folder must exist. See the module docstring for durability and permissions.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path`` to write; on a clean exit it replaces ``path``.

    For writers that want a path or a file object of their own (``np.savez``, safetensors):
    ``with atomic_path(p) as tmp, open(tmp, "wb") as f: np.savez(f, **arrays)``. The temp
    file exists (empty) when yielded. A writer may replace it with its own file (safetensors
    does, with mode 0600): the final file still gets the umask mode. On an exception the
    temp file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = _create_temp(path)
    try:
        mode = os.stat(tmp).st_mode & 0o777  # what the kernel gave a new file: 0o666 & ~umask
        yield tmp
        if os.stat(tmp).st_mode & 0o777 != mode:
            os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)  # after a successful replace there is nothing left to remove


def _create_temp(path: Path) -> Path:
    """An empty new file ``.NAME.<random>.tmp`` beside ``path``, created with mode 0o666 & ~umask."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"cannot create a temp file beside {path}: every name tried exists")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (the folder's entry for the new file)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- strict JSON


def to_jsonable(obj):
    """``obj`` as plain JSON values: NaN/±inf -> None, NumPy -> Python, tuples/sets -> lists, paths -> str.

    Dict keys become strings the way ``json`` writes them (``1`` -> "1", ``True`` -> "true").
    Raises TypeError for any other type (say which one), before anything is written.
    """
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return str(obj)  # np.str_ and other subclasses as a plain str
    if isinstance(obj, int):
        return int(obj)  # an IntEnum or other subclass as a plain int
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [to_jsonable(v) for v in obj]
        try:
            return sorted(items)  # a canonical order: sets iterate in a per-process order
        except TypeError:
            return items
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):  # np.float32, np.int64, np.bool_, np.str_ ...
        return to_jsonable(obj.item())
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON: {obj!r}")


def dumps(obj, **kwargs) -> str:
    """Strict JSON text of ``obj`` (``to_jsonable`` first; ``allow_nan=False``); kwargs go to ``json.dumps``."""
    return json.dumps(to_jsonable(obj), allow_nan=False, **kwargs)


def _key(key) -> str:
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)  # the text json gives such keys: "true", "null", "1", "0.5"
    return str(key)
