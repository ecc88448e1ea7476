"""Listing the images of an image folder: a directory tree or a .tar(.gz|.bz2|.xz)/.tgz/.zip archive.

Names are relative posix paths (``train/cat/0001.jpg``; an absolute member name is made
relative). Hidden entries (``.name``, ``__MACOSX``) and members reaching outside the
archive (``..``) are skipped; only ``IMAGE_SUFFIXES`` files count as images. Nothing is
extracted to disk. Symlinks in a folder tree are followed (a data set may be a farm of links);
a dangling or unreadable one is a DataError naming it.

Archive bombs: images are already compressed, so an image archive inflates little. A
compressed tar or a zip member that inflates past ``MAX_INFLATION`` x its compressed size
and past ``BOMB_FLOOR_BYTES`` is refused (DataError) before it fills memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import tarfile
import zipfile
import zlib
from pathlib import Path

from babysit.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
ARCHIVE_SUFFIXES = TAR_SUFFIXES + ZIP_SUFFIXES
MAX_INFLATION = 50  # decompressed / compressed bytes an image archive stays far below (JPEG, PNG: ~1)
BOMB_FLOOR_BYTES = 256 * 2**20  # below this much inflated data, no ratio is refused
DECOMPRESS_CHUNK = 16 * 2**20


def is_archive(path: Path) -> bool:
    """Whether ``path`` is named like an archive this module reads."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def scan_tree(root: Path) -> tuple[list[str], set[str]]:
    """Relative posix paths of the image files (sorted) and of the directories under ``root``."""
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


def read_tree(root: Path, files: list[str]) -> dict[str, bytes]:
    """The bytes of each of ``files`` under ``root``; DataError naming an unreadable one."""
    try:
        return {name: (root / name).read_bytes() for name in files}
    except OSError as exc:
        raise DataError(f"cannot read image {exc.filename}: {exc.strerror or exc}") from None


def read_archive(path: Path) -> tuple[dict[str, bytes], set[str]]:
    """Bytes of every image member of a tar or zip archive, and every directory in it."""
    blobs: dict[str, bytes] = {}
    dirs: set[str] = set()
    try:
        if path.name.lower().endswith(ZIP_SUFFIXES):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    name = _normalize(info.filename)
                    if name is None:
                        continue
                    if info.is_dir():
                        dirs.add(name)
                    elif name.lower().endswith(IMAGE_SUFFIXES):
                        _check_inflation(path, info.file_size, info.compress_size, f"member {info.filename}")
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


def _is_hidden(relpath: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relpath.split("/"))


def _normalize(name: str) -> str | None:
    """Archive member name as a clean relative posix path; None for unsafe or hidden ones."""
    name = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    if name in ("", ".") or name.startswith("..") or _is_hidden(name):
        return None
    return name


def _decompressed(path: Path) -> io.BytesIO:
    """The archive's bytes, decompressed into memory (the compression found by its magic bytes).

    tarfile reads a compressed stream in many small pieces; parsing an in-memory
    copy is about 1.5x faster, and decoded images take more memory than this anyway.
    """
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = _inflate(path, data, lambda: zlib.decompressobj(wbits=31), gzip.BadGzipFile)
    elif data[:3] == b"BZh":
        data = _inflate(path, data, bz2.BZ2Decompressor, OSError)
    elif data[:6] == b"\xfd7zXZ\x00":
        data = _inflate(path, data, lzma.LZMADecompressor, lzma.LZMAError)
    return io.BytesIO(data)


def _inflate(path: Path, data: bytes, make, error) -> bytes:
    """Decompress every stream of ``data`` (concatenated gzip/bz2/xz members), at most ``MAX_INFLATION`` x
    its size past ``BOMB_FLOOR_BYTES``: DataError for a bomb, ``error`` for a truncated stream."""
    limit = max(BOMB_FLOOR_BYTES, MAX_INFLATION * len(data))
    out, size, rest = [], 0, data
    while rest:
        d = make()
        chunk = d.decompress(rest, DECOMPRESS_CHUNK)
        while True:
            size += len(chunk)
            out.append(chunk)
            _check_inflation(path, size, len(data), "its compressed stream", limit)
            if d.eof:
                break
            if hasattr(d, "unconsumed_tail"):  # zlib: the input it has not read yet comes back
                if not d.unconsumed_tail and not chunk:
                    break
                chunk = d.decompress(d.unconsumed_tail, DECOMPRESS_CHUNK)
            else:  # bz2, lzma: they keep the input; b"" asks for more output
                if d.needs_input:
                    break
                chunk = d.decompress(b"", DECOMPRESS_CHUNK)
        if not d.eof:
            raise error("compressed stream ended before its end marker (truncated)")
        rest = d.unused_data.lstrip(b"\0")  # tar.gz files may be padded with zeros
    return b"".join(out)


def _check_inflation(path: Path, inflated: int, compressed: int, what: str, limit: int | None = None) -> None:
    limit = max(BOMB_FLOOR_BYTES, MAX_INFLATION * compressed) if limit is None else limit
    if inflated > limit:
        raise DataError(f"cannot read archive {path}: {what} inflates to more than {limit // 2**20} MiB from "
                        f"{compressed} compressed bytes ({MAX_INFLATION}x at most past {BOMB_FLOOR_BYTES // 2**20} MiB): "
                        "a decompression bomb, not an image archive")


def _add_parents(name: str, dirs: set[str]) -> None:
    """Archives need not list directories: every member's parents are directories too."""
    parent = posixpath.dirname(name)
    while parent and parent not in dirs:
        dirs.add(parent)
        parent = posixpath.dirname(parent)
