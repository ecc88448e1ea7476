"""Image-folder data sets (``CLASS/*.jpg|jpeg|png``), as a directory tree or an archive.

Images are decoded once with Pillow, converted to RGB and cached as an ``.npz``
(no pickle) keyed by a content hash of the archive or tree, so later loads read
one array file instead of decoding thousands of JPEGs. This module finds the
classes, hashes and caches; ``archives`` lists and reads the files, ``decode``
turns them into pixels.

The class level is found by descending through single sub-folders that hold no
images (e.g. the ``train/`` at the top of the CIFAR-10 JPEG tarball); the
sub-folders found there are the classes, in sorted order (which reproduces the
CIFAR-10 label order airplane..truck). Images must sit directly in their class
folder; other files (and hidden entries) are ignored.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babysit.data.archives import ARCHIVE_SUFFIXES, is_archive, read_archive, read_tree, scan_tree
from babysit.data.cache import default_cache_dir, read_npz, write_npz
from babysit.data.decode import decode_all
from babysit.errors import DataError

# Bump when decoding or the cache layout changes: old cache files are then ignored.
CACHE_FORMAT = 1


@dataclass(frozen=True)
class FolderLoadInfo:
    """How a load went: where the cache is, whether it hit, how many images were decoded."""

    cache_file: Path
    cache_hit: bool
    images_decoded: int


def read_image_folder(
    path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, workers: int | None = None,
    image_size: tuple[int, int] | None = None, crop_pct: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, list[str], FolderLoadInfo]:
    """Decode (or read from cache) every image of a folder tree or archive.

    Inputs: path of a directory or a .tar(.gz|.bz2|.xz)/.tgz/.zip archive; cache_dir
    (default ``$BABYSIT_CACHE`` or ``~/.cache/babysit``); workers, the decode
    processes (default: the usable CPUs, at most 8; 1 decodes in this process);
    image_size (height, width) and crop_pct: resize and centre-crop every image
    (``decode.resize_centre_crop``), so images of mixed sizes load (cached per size).
    Returns X (N, 3, H, W) uint8 in class-then-file-name order, y (N,) int64,
    the sorted class names, and a FolderLoadInfo.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"image folder not found: {root}")
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    if root.is_dir():
        # A tree is hashed by reading every image; keep the bytes for decoding on a miss.
        files, dirs = scan_tree(root)
        blobs = read_tree(root, files)
        key = _hash_tree(blobs)
    elif is_archive(root):
        key = _hash_file(root)
    else:
        raise DataError(
            f"folder:{root} must be a directory or an archive "
            f"({', '.join(ARCHIVE_SUFFIXES)}); got a file of another type"
        )

    cache_file = cache_root / f"folder-{key[:40]}.npz"
    if image_size is not None:  # images decoded at their own size serve when that is the size asked for
        cached = _read_cache(cache_file)
        if cached is not None and tuple(cached[0].shape[2:]) == tuple(image_size):
            X, y, class_names = cached
            return X, y, class_names, FolderLoadInfo(cache_file, True, 0)
        cache_file = cache_root / f"folder-{key[:40]}-{image_size[0]}x{image_size[1]}-crop{crop_pct:g}.npz"
    cached = _read_cache(cache_file)
    if cached is not None:
        X, y, class_names = cached
        return X, y, class_names, FolderLoadInfo(cache_file, True, 0)

    if not root.is_dir():
        blobs, dirs = read_archive(root)
        files = list(blobs)
    # Check the layout before spending time on decoding.
    class_names, labelled = _find_classes(root, files, dirs)
    names = [name for name, _ in labelled]
    y = np.array([label for _, label in labelled], dtype=np.int64)
    try:
        X = decode_all(names, [blobs[n] for n in names], workers, image_size, crop_pct)
    except DataError as exc:  # the image is named relative to the folder: say which folder
        raise DataError(f"image folder {root}: {exc}") from None
    write_npz(
        cache_file,
        {
            "format": np.array(CACHE_FORMAT),
            "X": X,
            "y": y,
            "class_names": np.array(class_names, dtype=np.str_),
            "files": np.array(names, dtype=np.str_),
        },
    )
    return X, y, class_names, FolderLoadInfo(cache_file, False, len(names))


# ---------------------------------------------------------------- classes


def _find_classes(root: Path, files: list[str], dirs: set[str]) -> tuple[list[str], list[tuple[str, int]]]:
    """Class names (sorted) and ``(file, label)`` pairs, after locating the class level."""
    children: dict[str, set[str]] = {}
    for d in dirs:
        children.setdefault(posixpath.dirname(d), set()).add(d)
    direct: dict[str, list[str]] = {}
    for f in files:
        direct.setdefault(posixpath.dirname(f), []).append(f)

    level = ""
    while not direct.get(level) and len(children.get(level, ())) == 1:
        (level,) = children[level]
    shown = f"{root}/{level}" if level else str(root)
    class_dirs = sorted(children.get(level, ()))
    if direct.get(level) and class_dirs:
        raise DataError(
            f"{shown} holds {len(direct[level])} images directly beside sub-folders; "
            f"expected one sub-folder per class holding that class's images"
        )
    if len(class_dirs) < 2:
        found = [posixpath.basename(d) for d in class_dirs] or (
            [posixpath.basename(level)] if level and direct.get(level) else []
        )
        raise DataError(
            f"{root} has {len(found)} class folder(s) {found}; an image folder needs at least "
            f"2 classes, one sub-folder per class (CLASS/*.jpg|jpeg|png)"
        )

    class_names = [posixpath.basename(d) for d in class_dirs]
    labelled = []
    for label, d in enumerate(class_dirs):
        images = direct.get(d, [])
        if not images:
            sub = sorted(posixpath.basename(c) for c in children.get(d, ()))
            hint = f" (it has sub-folders {sub[:5]}: point folder: at the level whose sub-folders are the classes)" if sub else ""
            raise DataError(f"empty class folder {root}/{d}: no .jpg/.jpeg/.png images in it{hint}")
        labelled.extend((f, label) for f in sorted(images))
    return class_names, labelled


# ---------------------------------------------------------------- hashing


def _hash_file(path: Path) -> str:
    h = hashlib.sha256(f"babysit-folder-archive-v{CACHE_FORMAT}\0".encode())
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return h.hexdigest()


def _hash_tree(blobs: dict[str, bytes]) -> str:
    h = hashlib.sha256(f"babysit-folder-tree-v{CACHE_FORMAT}\0".encode())
    for name in sorted(blobs):
        data = blobs[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


# ---------------------------------------------------------------- cache


def _read_cache(cache_file: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    arrays = read_npz(cache_file)
    if arrays is None:
        return None
    try:
        X, y, names = arrays["X"], arrays["y"], arrays["class_names"]
        ok = (
            int(arrays["format"]) == CACHE_FORMAT
            and X.dtype == np.uint8
            and X.ndim == 4
            and X.shape[1] == 3
            and y.shape == (X.shape[0],)
            and y.dtype == np.int64
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        return None
    return X, y, [str(n) for n in names]
