"""Image-folder data sets (``CLASS/*.jpg|jpeg|png``), as a directory tree or an archive.

Images are decoded once with Pillow, converted to RGB and cached as an ``.npz``
(no pickle) keyed by a content hash of the archive or tree, so later loads read
one array file instead of decoding thousands of JPEGs.

The class level is found by descending through single sub-folders that hold no
images (e.g. the ``train/`` at the top of the CIFAR-10 JPEG tarball); the
sub-folders found there are the classes, in sorted order (which reproduces the
CIFAR-10 label order airplane..truck). Images must sit directly in their class
folder; other files (and hidden entries) are ignored.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import mmap
import multiprocessing
import os
import posixpath
import sys
import tarfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from babysit.data.cache import default_cache_dir, read_npz, write_npz
from babysit.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
# Bump when decoding or the cache layout changes: old cache files are then ignored.
CACHE_FORMAT = 1
# Images per decoding task; a folder of one chunk or less is decoded in-process.
CHUNK_IMAGES = 1000


@dataclass(frozen=True)
class FolderLoadInfo:
    """How a load went: where the cache is, whether it hit, how many images were decoded."""

    cache_file: Path
    cache_hit: bool
    images_decoded: int


def read_image_folder(
    path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], FolderLoadInfo]:
    """Decode (or read from cache) every image of a folder tree or archive.

    Inputs: path of a directory or a .tar(.gz|.bz2|.xz)/.tgz/.zip archive; cache_dir
    (default ``$BABYSIT_CACHE`` or ``~/.cache/babysit``); workers, the decode
    processes (default: the usable CPUs, at most 8; 1 decodes in this process).
    Returns X (N, 3, H, W) uint8 in class-then-file-name order, y (N,) int64,
    the sorted class names, and a FolderLoadInfo.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"image folder not found: {root}")
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    if root.is_dir():
        # A tree is hashed by reading every image; keep the bytes for decoding on a miss.
        files, dirs = _scan_tree(root)
        try:
            blobs = {name: (root / name).read_bytes() for name in files}
        except OSError as exc:
            raise DataError(f"cannot read image {exc.filename}: {exc.strerror or exc}") from None
        key = _hash_tree(blobs)
    elif _has_suffix(root, TAR_SUFFIXES + ZIP_SUFFIXES):
        key = _hash_file(root)
    else:
        raise DataError(
            f"folder:{root} must be a directory or an archive "
            f"({', '.join(TAR_SUFFIXES + ZIP_SUFFIXES)}); got a file of another type"
        )

    cache_file = cache_root / f"folder-{key[:40]}.npz"
    cached = _read_cache(cache_file)
    if cached is not None:
        X, y, class_names = cached
        return X, y, class_names, FolderLoadInfo(cache_file, True, 0)

    if not root.is_dir():
        blobs, dirs = _read_archive(root)
        files = list(blobs)
    # Check the layout before spending time on decoding.
    class_names, labelled = _find_classes(root, files, dirs)
    names = [name for name, _ in labelled]
    y = np.array([label for _, label in labelled], dtype=np.int64)
    X = _decode_all(names, [blobs[n] for n in names], workers)
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


# ---------------------------------------------------------------- listing


def _has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes)


def _is_hidden(relpath: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relpath.split("/"))


def _normalize(name: str) -> str | None:
    """Archive member name as a clean relative posix path; None for unsafe or hidden ones."""
    name = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    if name in ("", ".") or name.startswith("..") or _is_hidden(name):
        return None
    return name


def _scan_tree(root: Path) -> tuple[list[str], set[str]]:
    """Relative posix paths of the image files and of the directories under ``root``."""
    files, dirs = [], set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__MACOSX"]
        rel = Path(dirpath).relative_to(root).as_posix()
        rel = "" if rel == "." else rel
        if rel:
            dirs.add(rel)
        for f in filenames:
            if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES):
                files.append(f"{rel}/{f}" if rel else f)
    return sorted(files), dirs


def _decompressed(path: Path) -> io.BytesIO:
    """The archive's bytes, decompressed into memory.

    tarfile reads a compressed stream in many small pieces; parsing an in-memory
    copy is about 1.5x faster, and decoded images take more memory than this anyway.
    """
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:3] == b"BZh":
        data = bz2.decompress(data)
    elif data[:6] == b"\xfd7zXZ\x00":
        data = lzma.decompress(data)
    return io.BytesIO(data)


def _read_archive(path: Path) -> tuple[dict[str, bytes], set[str]]:
    """Bytes of every image member of a tar or zip archive, and every directory in it."""
    blobs: dict[str, bytes] = {}
    dirs: set[str] = set()
    try:
        if _has_suffix(path, ZIP_SUFFIXES):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    name = _normalize(info.filename)
                    if name is None:
                        continue
                    if info.is_dir():
                        dirs.add(name)
                    elif name.lower().endswith(IMAGE_SUFFIXES):
                        blobs[name] = zf.read(info)
        else:
            with tarfile.open(fileobj=_decompressed(path), mode="r:") as tf:
                for member in tf:
                    name = _normalize(member.name)
                    if name is None:
                        continue
                    if member.isdir():
                        dirs.add(name)
                    elif member.isfile() and name.lower().endswith(IMAGE_SUFFIXES):
                        blobs[name] = tf.extractfile(member).read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise DataError(f"cannot read archive {path}: corrupted or truncated ({exc})") from None
    for name in blobs:
        _add_parents(name, dirs)
    return blobs, dirs


def _add_parents(name: str, dirs: set[str]) -> None:
    """Archives need not list directories: every member's parents are directories too."""
    parent = posixpath.dirname(name)
    while parent and parent not in dirs:
        dirs.add(parent)
        parent = posixpath.dirname(parent)


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


# ---------------------------------------------------------------- decoding


def _decode_rgb(name: str, data: bytes) -> np.ndarray:
    """One image as (H, W, 3) uint8; DataError naming the file if it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot decode image {name}: {exc}") from None


def _decode_range(names, blobs, out, start: int, stop: int) -> int | None:
    """Decode images ``start:stop`` into ``out`` (N, 3, H, W); the first index of another size, or None."""
    size = out.shape[2:]
    for i in range(start, stop):
        rgb = _decode_rgb(names[i], blobs[i])
        if rgb.shape[:2] != size:
            return i
        out[i] = rgb.transpose(2, 0, 1)
    return None


# What forked decode workers share with the parent: set before the fork, so the
# image bytes are inherited (never pickled) and results land in shared memory.
_SHARED: tuple | None = None
_SHARED_LOCK = threading.Lock()  # one parallel decode at a time per process


def _decode_shared_range(start: int, stop: int) -> int | None:
    names, blobs, out = _SHARED
    return _decode_range(names, blobs, out, start, stop)


def _default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _decode_all(names: list[str], blobs: list[bytes], workers: int | None) -> np.ndarray:
    """Decode all images to one (N, 3, H, W) uint8 array, with a process pool when N > CHUNK_IMAGES.

    Raises DataError for undecodable images and for images of mixed sizes (naming
    the first image and the first one whose size differs from it).
    """
    global _SHARED
    workers = _default_workers() if workers is None else max(1, int(workers))
    first = _decode_rgb(names[0], blobs[0])
    shape = (len(names), 3) + first.shape[:2]
    # Forked workers inherit the data and need no __main__ guard in the caller's
    # script (spawn would re-run it); where fork is unavailable, decode in-process.
    parallel = workers > 1 and len(names) > CHUNK_IMAGES and sys.platform.startswith("linux")
    if not parallel:
        out = np.empty(shape, dtype=np.uint8)
        odd = [_decode_range(names, blobs, out, 0, len(names))]
    else:
        # An anonymous shared mapping: the children's writes are visible here, so
        # no decoded pixels travel through pipes.
        buffer = mmap.mmap(-1, int(np.prod(shape)))
        out = np.frombuffer(buffer, dtype=np.uint8).reshape(shape)
        ranges = [(a, min(a + CHUNK_IMAGES, len(names))) for a in range(0, len(names), CHUNK_IMAGES)]
        with _SHARED_LOCK:
            _SHARED = (names, blobs, out)
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    odd = pool.starmap(_decode_shared_range, ranges)
            finally:
                _SHARED = None
    odd = [i for i in odd if i is not None]
    if odd:
        i = min(odd)
        (h0, w0), (h1, w1) = first.shape[:2], _decode_rgb(names[i], blobs[i]).shape[:2]
        raise DataError(
            f"images of mixed sizes: {names[0]} is {w0}x{h0} but {names[i]} is {w1}x{h1} "
            f"(width x height); all images must have the same size: resize them first"
        )
    return out
