"""Hypothesis fuzzing of every parser of untrusted files: the CIFAR unpickler, npz files, image bytes,
checkpoints (safetensors header and embedded metadata) and the run store's SQLite file. Inputs are random
bytes and mutations (flipped, deleted, inserted bytes, truncations) of a valid file. Each either loads or
raises the parser's BabysitError; nothing else escapes, and no payload runs.

Budget: ``FAST_EXAMPLES`` per parser in the default run; the ``slow`` variants try ``SLOW_EXAMPLES``
(``pytest -m slow tests/fuzz``).
"""

from __future__ import annotations

import io
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babysit.errors import BabysitError, CheckpointError, DataError, StoreError

FAST_EXAMPLES = 20
SLOW_EXAMPLES = 600


def _budget(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=examples == FAST_EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _apply(base: bytes, ops) -> bytes:
    data = bytearray(base)
    for where, kind, value in ops:
        i = where % (len(data) + 1)
        if kind == "flip" and i < len(data):
            data[i] ^= value or 1
        elif kind == "delete":
            del data[i:i + 1 + value % 16]
        elif kind == "insert":
            data[i:i] = bytes([value]) * (1 + value % 8)
        elif kind == "truncate":
            del data[i:]
    return bytes(data)


def mutations(base: bytes, header: int | None = None):
    """Mutations of ``base`` (positions biased to its first ``header`` bytes when given), or random bytes."""
    limit = header or len(base)
    op = st.tuples(st.integers(0, max(limit, 1)), st.sampled_from(["flip", "delete", "insert", "truncate"]),
                   st.integers(0, 255))
    return st.one_of(st.lists(op, min_size=1, max_size=6).map(lambda ops: _apply(base, ops)),
                     st.binary(max_size=512))


# -- the CIFAR unpickler --------------------------------------------------------------------------------------

def _batch_pickle() -> bytes:
    rng = np.random.default_rng(0)
    batch = {b"labels": [1, 2, 3], b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), b"batch_label": b"x"}
    return pickle.dumps(batch, protocol=2)


PICKLE = _batch_pickle()


def _unpickle(data: bytes) -> None:
    from babysit.data.cifar10 import read_batch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data_batch_1"
        path.write_bytes(data)
        try:
            read_batch(path, 10)
        except DataError as exc:
            assert str(path) in str(exc)


test_unpickler_fuzz = _budget(FAST_EXAMPLES)(given(mutations(PICKLE, 200))(_unpickle))
test_unpickler_fuzz_slow = pytest.mark.slow(_budget(SLOW_EXAMPLES)(given(mutations(PICKLE, 200))(_unpickle)))


# -- npz files ------------------------------------------------------------------------------------------------

def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, X=np.arange(24, dtype=np.float32).reshape(6, 4), y=np.array([0, 1, 2, 0, 1, 2]),
             class_names=np.array(["a", "b", "c"]))
    return buf.getvalue()


NPZ = _npz()


def _load_npz(data: bytes) -> None:
    from babysit.data.sources import load_source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.npz"
        path.write_bytes(data)
        try:
            load_source(f"npz:{path}", val_fraction=1, test_fraction=1)
        except DataError as exc:
            assert str(path) in str(exc)


test_npz_fuzz = _budget(FAST_EXAMPLES)(given(mutations(NPZ))(_load_npz))
test_npz_fuzz_slow = pytest.mark.slow(_budget(SLOW_EXAMPLES)(given(mutations(NPZ))(_load_npz)))


# -- image bytes ----------------------------------------------------------------------------------------------

def _image(fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


IMAGES = {"PNG": _image("PNG"), "JPEG": _image("JPEG")}


def _decode(data: bytes) -> None:
    from babysit.data.decode import decode_rgb

    try:
        rgb = decode_rgb("x.png", data)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    except DataError as exc:
        assert "x.png" in str(exc)


_images = st.one_of(mutations(IMAGES["PNG"], 64), mutations(IMAGES["JPEG"], 64))
test_image_fuzz = _budget(FAST_EXAMPLES)(given(_images)(_decode))
test_image_fuzz_slow = pytest.mark.slow(_budget(SLOW_EXAMPLES)(given(_images)(_decode)))


# -- checkpoints ----------------------------------------------------------------------------------------------

def _checkpoint() -> bytes:
    from babysit.nn import FullyConnectedNet
    from babysit.train import save_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(Path(tmp) / "model.safetensors", FullyConnectedNet([3], input_dim=4, num_classes=2),
                               class_names=["a", "b"])
        return path.read_bytes()


CHECKPOINT = _checkpoint()
HEADER = 8 + int.from_bytes(CHECKPOINT[:8], "little")


def _load_checkpoint(data: bytes) -> None:
    from babysit.train import load_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        path.write_bytes(data)
        try:
            load_checkpoint(path)
        except CheckpointError as exc:
            assert str(Path(tmp)) in str(exc)


test_checkpoint_fuzz = _budget(FAST_EXAMPLES)(given(mutations(CHECKPOINT, HEADER))(_load_checkpoint))
test_checkpoint_fuzz_slow = pytest.mark.slow(
    _budget(SLOW_EXAMPLES)(given(mutations(CHECKPOINT, HEADER))(_load_checkpoint)))


# -- the run store --------------------------------------------------------------------------------------------

def _store() -> bytes:
    from babysit.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.sqlite"
        with RunStore(path) as store:
            search = store.create_or_open_search("s", {"lr": [1e-3, 1e-1]})
            for i in range(5):
                run = store.start_run(search, 1, i, {"lr": 0.01 * (i + 1)})
                store.log_metrics(run, "loss", [1, 2, 3], [2.3, 1.0, 0.5])
                store.finish_run(run, "finished", {"val_acc": 0.5})
        return path.read_bytes()


STORE = _store()


def _open_store(data: bytes) -> None:
    from babysit.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.sqlite"
        path.write_bytes(data)
        for readonly in (True, False):
            try:
                with RunStore(path, readonly=readonly) as store:
                    for run in store.runs():
                        store.metric_series(run["id"], "loss")
                    store.findings()
                    if not readonly:
                        store.start_run(None, None, None, {"lr": 0.1})
            except StoreError as exc:
                assert str(path) in str(exc)


_stores = st.one_of(mutations(STORE, 100), mutations(STORE))  # the file header, and any page
test_store_fuzz = _budget(FAST_EXAMPLES)(given(_stores)(_open_store))
test_store_fuzz_slow = pytest.mark.slow(_budget(SLOW_EXAMPLES)(given(_stores)(_open_store)))


def test_the_fuzzers_only_catch_babysit_errors():
    """The checks above let every exception but the parser's own BabysitError through (so Hypothesis reports
    it); this pins that the error classes they catch are BabysitErrors, not ValueError or OSError."""
    assert all(issubclass(e, BabysitError) for e in (DataError, CheckpointError, StoreError))
