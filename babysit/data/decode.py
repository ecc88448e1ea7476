"""Decoding image bytes to one (N, 3, H, W) uint8 array with Pillow, in a pool of forked workers.

Workers are forked (never spawned) so they inherit the image bytes instead of receiving
them pickled, and they write pixels straight into an anonymous shared mapping, so no
decoded image travels through a pipe. Where fork is unavailable, decoding stays in-process.
"""

from __future__ import annotations

import io
import mmap
import multiprocessing
import os
import sys
import threading

import numpy as np
from PIL import Image, UnidentifiedImageError

from babysit.errors import DataError

# The largest image decoded (8192 x 8192): its RGB pixels take 192 MiB. Pillow warns only past 89 M pixels.
MAX_PIXELS = 8192 * 8192
# Images per decoding task; a folder of one chunk or less is decoded in-process.
CHUNK_IMAGES = 1000

# What forked decode workers share with the parent: set before the fork, so the
# image bytes are inherited (never pickled) and results land in shared memory.
_SHARED: tuple | None = None
_SHARED_LOCK = threading.Lock()  # one parallel decode at a time per process


def decode_rgb(name: str, data: bytes, size: tuple[int, int] | None = None, crop_pct: float = 1.0) -> np.ndarray:
    """One image as (H, W, 3) uint8; DataError naming the file if it cannot be decoded.

    With ``size`` (height, width): resized (bicubic) so that it covers ``size / crop_pct``, then
    centre-cropped to ``size`` (timm's eval transform; crop_pct 1 keeps as much of the image as fits).
    """
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as im:
            if im.width * im.height > MAX_PIXELS:  # a few header bytes can claim a huge image: refuse before decoding
                raise DataError(f"cannot decode image {name}: {im.width}x{im.height} pixels is more than "
                                f"{MAX_PIXELS} (a decompression bomb?); resize it first")
            rgb = im.convert("RGB")
            return np.asarray(rgb if size is None else resize_centre_crop(rgb, size, crop_pct))
    except UnidentifiedImageError:
        raise DataError(f"cannot decode image {name}: not a JPEG or PNG image ({len(data)} bytes"
                        f"{', empty' if not data else ''}, starting {data[:8]!r})") from None
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot decode image {name}: {exc}") from None


def resize_centre_crop(im: Image.Image, size: tuple[int, int], crop_pct: float = 1.0) -> Image.Image:
    """``im`` scaled (keeping its aspect) to cover ``size / crop_pct``, then its centre ``size`` (height, width)."""
    th, tw = size
    w, h = im.size
    scale = max(th / h, tw / w) / crop_pct
    nw, nh = max(tw, round(w * scale)), max(th, round(h * scale))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - tw) // 2, (nh - th) // 2
    return im.crop((left, top, left + tw, top + th))


def resize_image_array(X: np.ndarray, size: tuple[int, int], crop_pct: float = 1.0, *, where: str = "data"):
    """Images ``X`` (N, C, H, W) resized and centre-cropped to ``size`` as ``resize_centre_crop`` does (what
    ``folder:`` images get while decoding): uint8 images with 1 or 3 channels as PIL images (the same rounding
    as decoded JPEGs), any other dtype channel by channel in float32 (PIL mode 'F'); the result keeps the dtype
    of uint8 input, else float32. DataError for arrays that are not images."""
    X = np.asarray(X)
    if X.ndim != 4:
        raise DataError(f"{where}: image_size resizes images (N, C, H, W); its examples have shape {X.shape[1:]}")
    n, c = X.shape[:2]
    if tuple(X.shape[2:]) == tuple(size):
        return X
    as_image = X.dtype == np.uint8 and c in (1, 3)
    out = np.empty((n, c, *size), np.uint8 if as_image else np.float32)
    for i in range(n):
        if as_image:
            hwc = np.ascontiguousarray(X[i].transpose(1, 2, 0))
            im = Image.fromarray(hwc[:, :, 0] if c == 1 else hwc, "L" if c == 1 else "RGB")
            done = np.asarray(resize_centre_crop(im, size, crop_pct))
            out[i] = done[None] if c == 1 else done.transpose(2, 0, 1)
        else:
            for j in range(c):
                im = Image.fromarray(np.ascontiguousarray(X[i, j], dtype=np.float32), "F")
                out[i, j] = np.asarray(resize_centre_crop(im, size, crop_pct))
    return out


def default_workers() -> int:
    """The usable CPUs (this process's affinity), at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def decode_all(names: list[str], blobs: list[bytes], workers: int | None, size: tuple[int, int] | None = None,
               crop_pct: float = 1.0) -> np.ndarray:
    """Decode all images to one (N, 3, H, W) uint8 array, with a process pool when N > CHUNK_IMAGES.

    Inputs: ``names`` (for messages) and ``blobs`` in the same order; ``workers`` processes
    (None: ``default_workers()``; 1 decodes in this process); ``size`` (height, width) and
    ``crop_pct`` resize and centre-crop every image (``resize_centre_crop``), so mixed sizes are
    fine. Without ``size``, raises DataError for images of mixed sizes (naming the first image and
    the first one whose size differs from it); always for undecodable images.
    """
    global _SHARED
    workers = default_workers() if workers is None else max(1, int(workers))
    first = decode_rgb(names[0], blobs[0], size, crop_pct)
    shape = (len(names), 3) + first.shape[:2]
    # Forked workers need no __main__ guard in the caller's script (spawn would re-run it).
    parallel = workers > 1 and len(names) > CHUNK_IMAGES and sys.platform.startswith("linux")
    if not parallel:
        out = np.empty(shape, dtype=np.uint8)
        odd = [_decode_range(names, blobs, out, 0, len(names), size, crop_pct)]
    else:
        # An anonymous shared mapping: the children's writes are visible here.
        buffer = mmap.mmap(-1, int(np.prod(shape)))
        out = np.frombuffer(buffer, dtype=np.uint8).reshape(shape)
        ranges = [(a, min(a + CHUNK_IMAGES, len(names))) for a in range(0, len(names), CHUNK_IMAGES)]
        with _SHARED_LOCK:
            _SHARED = (names, blobs, out, size, crop_pct)
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    odd = pool.starmap(_decode_shared_range, ranges)
            finally:
                _SHARED = None
    odd = [i for i in odd if i is not None]
    if odd:
        i = min(odd)
        (h0, w0), (h1, w1) = first.shape[:2], decode_rgb(names[i], blobs[i]).shape[:2]
        raise DataError(
            f"images of mixed sizes: {names[0]} is {w0}x{h0} but {names[i]} is {w1}x{h1} "
            f"(width x height); all images must have the same size: resize them first"
        )
    return out


def _decode_range(names, blobs, out, start: int, stop: int, size=None, crop_pct: float = 1.0) -> int | None:
    """Decode images ``start:stop`` into ``out`` (N, 3, H, W); the first index of another size, or None."""
    for i in range(start, stop):
        rgb = decode_rgb(names[i], blobs[i], size, crop_pct)
        if rgb.shape[:2] != out.shape[2:]:
            return i
        out[i] = rgb.transpose(2, 0, 1)
    return None


def _decode_shared_range(start: int, stop: int) -> int | None:
    names, blobs, out, size, crop_pct = _SHARED
    return _decode_range(names, blobs, out, start, stop, size, crop_pct)
