"""babysit.fileio: strict JSON and atomic writes (complete or absent, umask permissions, no temp files left)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from babysit.fileio import atomic_path, atomic_write, dumps, to_jsonable


@pytest.fixture
def umask():
    """Set the process umask for one test: ``umask(0o077)``; the old one comes back afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


# ---------------------------------------------------------------- JSON


def test_non_finite_floats_become_null_at_any_depth():
    obj = {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf, "d": (np.float32("nan"), 2)}],
           "e": np.array([[1.0, np.nan], [np.inf, -0.0]]), "f": np.float64(np.inf)}
    assert to_jsonable(obj) == {"a": None, "b": [1.0, None, {"c": None, "d": [None, 2]}],
                                "e": [[1.0, None], [None, -0.0]], "f": None}
    text = dumps(obj)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["b"][1] is None


def test_numpy_values_become_plain_python_ones():
    out = to_jsonable({"f": np.float32(0.5), "i": np.int64(3), "u": np.uint8(255), "b": np.bool_(True),
                       "s": np.str_("cat"), "a": np.arange(3, dtype=np.int16), "z": np.array(2.5)})
    assert out == {"f": 0.5, "i": 3, "u": 255, "b": True, "s": "cat", "a": [0, 1, 2], "z": 2.5}
    assert [type(out[k]) for k in "fiubsaz"] == [float, int, int, bool, str, list, float]
    assert type(out["a"][0]) is int


def test_tuples_sets_paths_and_keys():
    out = to_jsonable({1: (1, 2), False: {"b", "a"}, None: Path("/tmp/x"), np.int64(7): frozenset({3, 1}),
                       2.5: ()})
    assert out == {"1": [1, 2], "false": ["a", "b"], "null": "/tmp/x", "7": [1, 3], "2.5": []}
    assert dumps({"b": 1, "a": [1, 2]}, sort_keys=True, separators=(",", ":")) == '{"a":[1,2],"b":1}'


def test_unknown_types_are_a_type_error_naming_them():
    with pytest.raises(TypeError, match="cannot write a object as JSON"):
        to_jsonable({"ok": 1, "bad": [object()]})
    with pytest.raises(TypeError, match="cannot write a complex as JSON"):
        dumps(1j)


# ---------------------------------------------------------------- atomic writes


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_writes_bytes_and_text_and_replaces(tmp_path):
    target = tmp_path / "out.json"
    assert atomic_write(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    atomic_write(str(target), dumps({"x": "é", "y": math.nan}) + "\n")
    assert json.loads(target.read_text("utf-8")) == {"x": "é", "y": None}
    atomic_write(target, b"x" * (3 << 20))  # larger than one write() may take
    assert target.stat().st_size == 3 << 20
    assert _names(tmp_path) == ["out.json"]  # no temp file left


def test_a_failure_mid_write_leaves_the_old_file_or_none_and_no_temp(tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("previous")
    for target in (old, new):
        with pytest.raises(RuntimeError, match="disk on fire"):
            with atomic_path(target) as tmp:
                tmp.write_text("half of it")
                raise RuntimeError("disk on fire")
        with pytest.raises(KeyboardInterrupt):
            with atomic_path(target) as tmp, open(tmp, "wb") as f:
                f.write(b"half")
                raise KeyboardInterrupt
    assert old.read_text() == "previous" and not new.exists()
    assert _names(tmp_path) == ["old.txt"]


def test_an_object_that_fails_to_serialize_writes_nothing(tmp_path):
    class Exploding:
        def __iter__(self):
            raise ValueError("cannot iterate")

    target = tmp_path / "report.json"
    with pytest.raises(TypeError, match="Exploding"):
        atomic_write(target, dumps({"rows": [1, 2, Exploding()]}))
    assert _names(tmp_path) == []


def test_a_failing_replace_removes_the_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "model.json"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, "new")
    assert target.read_text() == "old" and _names(tmp_path) == ["model.json"]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_permissions_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    expected = 0o666 & ~mask
    plain, via_path, replaced = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    atomic_write(plain, b"1")
    with atomic_path(via_path) as tmp, open(tmp, "wb") as f:
        f.write(b"2")
    with atomic_path(replaced) as tmp:  # a writer that puts its own 0600 file there (as safetensors does)
        fd, own = tempfile.mkstemp(dir=tmp_path)
        os.write(fd, b"3")
        os.close(fd)
        os.replace(own, tmp)
    for path in (plain, via_path, replaced):
        assert path.stat().st_mode & 0o777 == expected, path.name
    plain.chmod(0o600)
    atomic_write(plain, b"4")  # a replaced file gets the umask's mode, not the old file's
    assert plain.stat().st_mode & 0o777 == expected
    assert _names(tmp_path) == ["a", "b", "c"]


def test_the_folder_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "x.json", "{}")
    assert _names(tmp_path) == []
