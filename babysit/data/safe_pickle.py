"""A restricted unpickler for the official CIFAR-10 "python version" batches.

Those files are Python-2 pickles of dicts holding str/bytes, ints, lists and one
uint8 NumPy array. Plain ``pickle.load`` runs whatever callable a file names, so
a crafted file can execute code. Here ``find_class`` admits only the globals a
NumPy array needs (``_reconstruct``, ``ndarray``, ``dtype``, plus ``_frombuffer``
and ``_codecs.encode`` wrapped to accept plain numeric data / latin-1 text only)
and refuses every other name with a DataError, before anything is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from numpy._core import multiarray as _multiarray

from babysit.errors import DataError


def _reconstruct(subtype, shape, dtype):
    """``numpy._core.multiarray._reconstruct`` for plain ndarrays only."""
    if subtype is not np.ndarray:
        raise DataError(f"pickle builds an array of type {subtype!r}; only numpy.ndarray is allowed")
    return _multiarray._reconstruct(subtype, shape, dtype)


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
    ("numpy", "ndarray"): np.ndarray,
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
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (EOFError, pickle.UnpicklingError) as exc:
        raise DataError(f"{where}: corrupted or truncated pickle ({exc or type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - any other failure means a malformed stream
        raise DataError(f"{where}: corrupted pickle ({type(exc).__name__}: {exc})") from None


def safe_unpickle_file(path: Path) -> object:
    """Read ``path`` and unpickle it with :func:`safe_unpickle`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return safe_unpickle(data, where=str(path))
