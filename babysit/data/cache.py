"""Where decoded data sets are cached, and atomic reads/writes of cached ``.npz`` files."""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from babysit.fileio import atomic_path


def default_cache_dir() -> Path:
    """``$BABYSIT_CACHE`` if set, else ``~/.cache/babysit``."""
    env = os.environ.get("BABYSIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "babysit"


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """All arrays of the cached ``path``, or None when it is absent or unreadable.

    A damaged cache file is not an error: the caller rebuilds it.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"ignoring damaged cache file {path} ({exc}); rebuilding it", stacklevel=3)
        return None


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to ``path`` atomically (``babysit.fileio.atomic_path``); False if it cannot.

    Readers never see a half-written file; a read-only cache only costs a warning.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except OSError as exc:
        warnings.warn(f"cannot write cache file {path} ({exc}); continuing without cache", stacklevel=3)
        return False
    return True
