"""A restricted unpickler for the official CIFAR-10 "python version" batches.

Those files are Python-2 pickles of dicts holding str/bytes, ints, lists and one
uint8 NumPy array. Plain ``pickle.load`` runs whatever callable a file names, so
a crafted file can execute code. Here ``find_class`` admits only the globals a
NumPy array needs (``_reconstruct``, ``ndarray``, ``dtype``, plus ``_frombuffer``
and ``_codecs.encode`` wrapped to accept plain numeric data / latin-1 text only)
and refuses every other name with a DataError, before anything is called.

Before unpickling, the stream is walked opcode by opcode (``pickletools.genops``, which
only reads): a length field larger than the data left (a truncated file, or a crafted
4 GB ``BINBYTES8``) is refused before the unpickler could allocate for it. ``ndarray`` is
handed out as a marker that only ``_reconstruct`` accepts, with NumPy's own empty shape
``(0,)``, so no opcode can call ``numpy.ndarray(huge_shape)``; the array's bytes then
come from the file itself (its ``__setstate__`` checks they match its shape).
"""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path

import numpy as np
from numpy._core import multiarray as _multiarray

from babysit.errors import DataError


class _NdarrayMarker:
    """What ``numpy.ndarray`` unpickles to: ``_reconstruct``'s first argument, nothing one can call."""

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _NdarrayMarker()


def _reconstruct(subtype, shape, dtype):
    """``numpy._core.multiarray._reconstruct`` for plain ndarrays only, with the empty shape NumPy pickles."""
    if subtype is not _NDARRAY:
        raise DataError(f"pickle builds an array of type {subtype!r}; only numpy.ndarray is allowed")
    if not isinstance(shape, (tuple, list)) or tuple(shape) != (0,) or dtype not in (b"b", "b"):
        raise DataError(f"pickle reconstructs an array as ({shape!r}, {dtype!r}); NumPy writes ((0,), b'b') "
                        "and then the array's own shape, dtype and data")
    return _multiarray._reconstruct(np.ndarray, (0,), b"b")


def _dtype(spec, align=False, copy=False):
    """``numpy.dtype`` limited to numeric types: object arrays could hold anything."""
    dt = np.dtype(spec, align, copy)
    if dt.hasobject or dt.kind not in "biuf":
        raise DataError(f"pickle holds an array of dtype {dt}; only numeric dtypes are allowed")
    return dt


def _frombuffer(buf, dtype, shape, order):
    """``numpy._core.numeric._frombuffer`` (protocol-5 arrays) for numeric dtypes only."""
    dt = _dtype(dtype)
    if not isinstance(buf, (bytes, bytearray, memoryview, pickle.PickleBuffer)):
        raise DataError(f"pickle builds an array from a {type(buf).__name__}; expected bytes")
    return np.frombuffer(buf, dt).reshape(shape, order=order)


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes: latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise DataError(f"pickle calls _codecs.encode({type(text).__name__}, {encoding!r}); only latin-1 text is allowed")
    return text.encode("latin1", errors)


# (module, name) -> what to hand the unpickler. Both module names of
# _reconstruct occur: files written by NumPy < 2 say numpy.core, NumPy 2 numpy._core.
# Re-saved batches may also use _codecs.encode (bytes at protocol 2 under Python 3)
# or _frombuffer (arrays at protocol 5); both are wrapped to admit plain data only.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"refused to unpickle global '{module}.{name}': CIFAR-10 batches only hold "
                f"NumPy arrays (allowed: {', '.join(f'{m}.{n}' for m, n in _ALLOWED)})"
            ) from None

    def persistent_load(self, pid):
        raise DataError(f"refused to unpickle persistent id {pid!r}")


def safe_unpickle(data: bytes, *, where: str = "pickle data") -> object:
    """Unpickle ``data`` (a Python-2 or 3 pickle) admitting only NumPy arrays and builtins.

    Python-2 ``str`` payloads are decoded as latin-1 (which NumPy turns back into
    the array's raw bytes). ``where`` names the file in error messages.
    Raises DataError for refused globals and for corrupted or truncated data.
    """
    _check_lengths(data, where)
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (EOFError, pickle.UnpicklingError) as exc:
        raise DataError(f"{where}: corrupted or truncated pickle ({exc or type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - any other failure means a malformed stream
        raise DataError(f"{where}: corrupted pickle ({type(exc).__name__}: {exc})") from None


def _check_lengths(data: bytes, where: str) -> None:
    """Walk the opcodes without running them: DataError for a length past the end or a malformed opcode."""
    try:
        for _ in pickletools.genops(io.BytesIO(data)):
            pass
    except (ValueError, EOFError) as exc:  # genops: "expected N bytes ... but only M remain", unknown opcode
        raise DataError(f"{where}: corrupted or truncated pickle ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any other failure means a malformed stream
        raise DataError(f"{where}: corrupted pickle ({type(exc).__name__}: {exc})") from None


def safe_unpickle_file(path: Path) -> object:
    """Read ``path`` and unpickle it with :func:`safe_unpickle`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return safe_unpickle(data, where=str(path))
