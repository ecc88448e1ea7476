"""The bad-input corpus: crafted files of every kind babysit reads, each with the loader that reads it.

``build(root)`` writes them under ``root`` and returns ``[(kind, name, loader, path)]``; ``LOADERS`` maps a
loader name to the call (``load(loader, path, cache)``). ``MARKER`` is the file a payload that executed
code would create: its absence proves nothing ran.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sqlite3
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

MARKER = "EXECUTED"


def _cifar_batch(n: int = 4, labels=None) -> dict:
    rng = np.random.default_rng(0)
    return {b"batch_label": b"fuzz", b"labels": list(labels if labels is not None else range(n)),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}


class _Reduce:
    """An object whose pickle calls ``func(*args)`` when loaded (what a crafted file does)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _pickles(root: Path) -> dict[str, bytes]:
    marker = str(root / MARKER)
    valid = pickle.dumps(_cifar_batch(), protocol=2)
    out = {
        "os_system": pickle.dumps(_Reduce(os.system, f"touch {marker}")),
        "eval": pickle.dumps(_Reduce(eval, f"open({marker!r}, 'w')")),
        "exec_in_batch": pickle.dumps({b"data": _Reduce(exec, f"open({marker!r}, 'w')"), b"labels": [0]}),
        "nested_global": pickle.dumps({b"labels": [0], b"data": [[_Reduce(os.system, f"touch {marker}")]]}),
        "subprocess_global": b"\x80\x02csubprocess\nPopen\n(X\x05\x00\x00\x00touchtR.",
        "getattr_chain": b"\x80\x02cbuiltins\ngetattr\n(cbuiltins\nobject\nX\x0b\x00\x00\x00__subclasses__tR.",
        "ndarray_called": b"\x80\x02cnumpy\nndarray\n((J\x00\xe1\xf5\x05J\x00\xe1\xf5\x05tR.",  # ndarray((1e8, 1e8))
        "reconstruct_huge": b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n(J\xff\xff\xff\x7f\x85C\x01btR.",
        "truncated": valid[: len(valid) // 2],
        "huge_binbytes8": b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.",
        "huge_binunicode": b"\x80\x02X" + struct.pack("<I", 2**32 - 1) + b"abc.",
        "huge_short_binbytes_count": b"\x80\x03B" + struct.pack("<I", 2**31) + b".",
        "persistent_id": b"\x80\x02X\x01\x00\x00\x00aQ.",
        "empty": b"",
        "not_a_pickle": b"GIF89a not a pickle at all",
        "a_list_not_a_dict": pickle.dumps([1, 2, 3], protocol=2),
        "object_array": pickle.dumps({b"data": np.array([object()] * 3072, dtype=object).reshape(1, 3072), b"labels": [0]}),
        "float_data": pickle.dumps({b"data": np.zeros((1, 3072), np.float64), b"labels": [0]}, protocol=2),
        "label_out_of_range": pickle.dumps(_cifar_batch(labels=[0, 1, 2, 42]), protocol=2),
        "label_negative": pickle.dumps(_cifar_batch(labels=[0, 1, -1, 3]), protocol=2),
        "labels_mismatched": pickle.dumps(_cifar_batch(labels=[0, 1]), protocol=2),
        "labels_strings": pickle.dumps({**_cifar_batch(), b"labels": ["a", "b", "c", "d"]}, protocol=2),
        "wrong_width": pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2),
    }
    return out


def _png(w: int, h: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h)).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png() -> bytes:
    """A small PNG whose header claims 30000 x 30000 pixels (0.9 G pixels)."""
    import zlib

    w = h = 30000
    raw = zlib.compress(b"\0" * (w // 8 + 1) * 64, 9)  # the data is truncated: only the header matters
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def _folders(root: Path) -> dict[str, Path]:
    """Image folders (two classes each) with one bad file among good ones."""
    good = _png(8, 8)
    cases = {
        "truncated_png": good[: len(good) // 2],
        "zero_bytes": b"",
        "text_named_png": b"this is not an image",
        "bomb_header": _bomb_png(),
        "other_size": _png(9, 7),
        "gif_named_png": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    }
    out = {}
    for name, bad in cases.items():
        folder = root / "folders" / name
        for cls in ("a", "b"):
            (folder / cls).mkdir(parents=True)
            for i in range(3):
                (folder / cls / f"{i}.png").write_bytes(good)
        (folder / "b" / "bad.png").write_bytes(bad)
        out[name] = folder
    # mixed modes (grey, palette, RGBA) of one size are converted, not refused: a benign case
    folder = root / "folders" / "mixed_modes_ok"
    for cls, mode in (("a", "L"), ("b", "P"), ("c", "RGBA")):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            (folder / cls / f"{i}.png").write_bytes(_png(8, 8, mode))
    out["mixed_modes_ok"] = folder
    # a symlink out of the tree to a file that is not an image, and a dangling one
    for name, target in (("symlink_to_passwd", "/etc/passwd"), ("symlink_dangling", "/nonexistent/x.png")):
        folder = root / "folders" / name
        for cls in ("a", "b"):
            (folder / cls).mkdir(parents=True)
            for i in range(3):
                (folder / cls / f"{i}.png").write_bytes(good)
        os.symlink(target, folder / "a" / "link.png")
        out[name] = folder
    return out


def _archives(root: Path) -> dict[str, Path]:
    good = _png(8, 8)
    out = {}
    # members escaping the archive (../, absolute): never read as classes, never written anywhere
    path = root / "traversal.tar"
    with tarfile.open(path, "w") as tf:
        for name in ("a/0.png", "a/1.png", "b/0.png", "b/1.png", "../evil/0.png", "/abs/0.png", "a/../../up.png"):
            info = tarfile.TarInfo(name)
            info.size = len(good)
            tf.addfile(info, io.BytesIO(good))
    out["tar_traversal_ok"] = path
    path = root / "traversal.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("a/0.png", "a/1.png", "b/0.png", "b/1.png", "../evil/0.png", "/abs/1.png"):
            zf.writestr(name, good)
    out["zip_traversal_ok"] = path
    path = root / "bomb.tar.gz"
    import gzip

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        info = tarfile.TarInfo("a/0.png")
        info.size = 300 * 2**20
        tf.addfile(info, io.BytesIO(b"\0" * info.size))
    path.write_bytes(gzip.compress(raw.getvalue(), 9))
    out["tar_gz_bomb"] = path
    path = root / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/0.png", b"\0" * (300 * 2**20))
    out["zip_bomb"] = path
    path = root / "truncated.tar.gz"
    path.write_bytes(out["tar_gz_bomb"].read_bytes()[:5000])
    out["tar_gz_truncated"] = path
    path = root / "garbage.zip"
    path.write_bytes(b"PK\x03\x04" + os.urandom(200))
    out["zip_garbage"] = path
    return out


def _npzs(root: Path) -> dict[str, Path]:
    X = np.random.default_rng(0).standard_normal((20, 6)).astype(np.float32)
    y = np.arange(20) % 4
    nan = X.copy()
    nan[3, 2] = np.nan
    inf = X.copy()
    inf[5, 1] = np.inf
    cases = {
        "object_array": dict(X=np.array([object()] * 20, dtype=object), y=y),
        "string_features": dict(X=np.array(["a"] * 20), y=y),
        "complex_features": dict(X=X.astype(np.complex64), y=y),
        "nan_features": dict(X=nan, y=y),
        "inf_features": dict(X=inf, y=y),
        "label_42": dict(X=X, y=np.where(y == 3, 42, y)),
        "label_negative": dict(X=X, y=np.where(y == 3, -1, y)),
        "float_labels": dict(X=X, y=y.astype(np.float32) + 0.5),
        "mismatched_lengths": dict(X=X, y=y[:15]),
        "labels_2d": dict(X=X, y=y.reshape(4, 5)),
        "no_y": dict(X=X),
        "empty": dict(X=X[:0], y=y[:0]),
        "class_names_duplicated": dict(X=X, y=y, class_names=np.array(["a", "a", "b", "c"])),
    }
    out = {}
    for name, arrays in cases.items():
        path = root / f"{name}.npz"
        if arrays["X"].dtype == object:
            np.savez(path, **arrays)  # np.savez pickles object arrays; the loader must refuse to unpickle
        else:
            np.savez(path, **arrays)
        out[name] = path
    (root / "pickle_named.npz").write_bytes(pickle.dumps({"X": X}))
    out["pickle_named_npz"] = root / "pickle_named.npz"
    (root / "zero.npz").write_bytes(b"")
    out["zero_bytes"] = root / "zero.npz"
    return out


def _checkpoints(root: Path) -> dict[str, Path]:
    from safetensors.numpy import save_file

    from babysit.nn import FullyConnectedNet
    from babysit.train import save_checkpoint

    model = FullyConnectedNet([5], input_dim=6, num_classes=3, seed=0)
    base = root / "ckpt-base"
    weights = save_checkpoint(base / "model.safetensors", model, class_names=["a", "b", "c"])
    data = weights.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])

    def write(name, raw: bytes, sidecar: bytes | None = None) -> Path:
        folder = root / f"ckpt-{name}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(raw)
        (folder / "model.json").write_bytes(sidecar if sidecar is not None else (base / "model.json").read_bytes())
        return folder / "model.safetensors"

    def with_header(h: dict) -> bytes:
        text = json.dumps(h).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + data[8 + n:]

    meta = json.loads(header["__metadata__"]["babysit_meta"])
    wrong_shape = {**header, "W1": {**header["W1"], "shape": [7, 5]}}
    wrong_dtype = {**header, "W1": {**header["W1"], "dtype": "F64"}}
    bad_arch = {**header, "__metadata__": {**header["__metadata__"],
                                         "babysit_meta": json.dumps({**meta, "architecture": {"type": "Nope"}})}}
    deep = "[" * 100000 + "]" * 100000
    cases = {
        "truncated": data[: len(data) - 10],
        "header_truncated": data[: 8 + n // 2],
        "huge_header_length": struct.pack("<Q", 2**62) + data[8:],
        "header_length_past_end": struct.pack("<Q", n + 10**6) + data[8:],
        "header_not_json": struct.pack("<Q", 8) + b"not json" + data[8 + n:],
        "wrong_shape": with_header(wrong_shape),
        "wrong_dtype": with_header(wrong_dtype),
        "unknown_architecture": with_header(bad_arch),
        "offsets_overlap": with_header({**header, "W1": {**header["W1"], "data_offsets": [0, 10**9]}}),
        "empty": b"",
    }
    out = {name: write(name, raw) for name, raw in cases.items()}
    # a checkpoint written before the metadata was embedded, with a damaged sidecar
    legacy = root / "legacy.safetensors"
    save_file({"W1": np.zeros((6, 5), np.float32)}, str(legacy), metadata={"format": "babysit-checkpoint"})
    for name, sidecar in (("legacy_sidecar_truncated", (base / "model.json").read_bytes()[:40]),
                          ("legacy_sidecar_deeply_nested", deep.encode()),
                          ("legacy_sidecar_huge_int", b'{"format": "babysit-checkpoint", "format_version": 1' + b"1" * 5000 + b"}")):
        out[name] = write(name, legacy.read_bytes(), sidecar)
    return out


def _stores(root: Path) -> dict[str, Path]:
    from babysit.store import RunStore

    out = {}
    path = root / "random.sqlite"
    path.write_bytes(os.urandom(8192))
    out["random_file"] = path
    path = root / "text.sqlite"
    path.write_text("id,lr\n1,0.1\n")
    out["text_file"] = path
    path = root / "newer.sqlite"
    with RunStore(path) as store:
        store.start_run(None, None, None, {"lr": 0.1})
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    out["newer_schema"] = path
    path = root / "foreign.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE accounts (id INTEGER)")
    db.commit()
    db.close()
    out["other_app_database"] = path
    path = root / "damaged.sqlite"
    with RunStore(path) as store:
        for i in range(200):
            store.start_run(None, None, None, {"lr": 0.1, "pad": "x" * 500, "i": i})
    raw = bytearray(path.read_bytes())
    page = 4096
    raw[3 * page: 13 * page] = os.urandom(10 * page)  # damaged pages in the middle of the runs table
    path.write_bytes(bytes(raw))
    out["damaged_page"] = path
    path = root / "header_damaged.sqlite"
    raw = bytearray(root.joinpath("newer.sqlite").read_bytes())
    raw[:16] = b"SQLite format 2\0"
    path.write_bytes(bytes(raw))
    out["damaged_header"] = path
    return out


def build(root: Path) -> list[tuple[str, str, str, Path]]:
    """Write the whole corpus under ``root``: [(kind, name, loader, path)]."""
    root.mkdir(parents=True, exist_ok=True)
    items = []
    (root / "pickles").mkdir()
    for name, data in _pickles(root).items():
        path = root / "pickles" / name
        path.write_bytes(data)
        items.append(("cifar pickle", name, "cifar_batch", path))
    for name, path in _folders(root).items():
        items.append(("image folder", name, "source_folder", path))
    for name, path in _archives(root / "archives" if (root / "archives").mkdir() is None else root).items():
        items.append(("image archive", name, "source_folder", path))
    (root / "npz").mkdir()
    for name, path in _npzs(root / "npz").items():
        items.append(("npz", name, "source_npz", path))
    for name, path in _checkpoints(root).items():
        items.append(("checkpoint", name, "checkpoint", path))
    (root / "stores").mkdir()
    for name, path in _stores(root / "stores").items():
        items.append(("run store", name, "store_read", path))
        items.append(("run store", name, "store_write", path))
    return items
