"""The store's file failing under a writer (disk full, read-only): a StoreError naming the file and what
happened, the failed write rolled back, every earlier commit intact. The file "fills" through SQLite's own
``PRAGMA max_page_count``, or a real tiny tmpfs where this process may mount one."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import uuid

import pytest

from babysit.errors import StoreError
from babysit.store import RunStore


BIG = "x" * 4000  # a parameter value large enough that a few runs take new pages


def _fill(store: RunStore) -> tuple[list[int], StoreError]:
    """Start runs until the store refuses one; returns the ids that were committed and the error."""
    ids = []
    for i in range(10_000):
        try:
            ids.append(store.start_run(None, None, None, {"i": i, "pad": BIG}))
        except StoreError as err:
            return ids, err
    raise AssertionError("the store never filled up")


def _intact(path, ids) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id")] == ids


def test_a_full_store_file_is_a_store_error_and_keeps_every_earlier_commit(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        first = store.start_run(None, None, None, {"lr": 1e-3})
        store.finish_run(first, "finished", {"val_acc": 0.5})
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        ids, err = _fill(store)
        message = str(err)
        assert str(path) in message and "full" in message and "rolled back" in message
        with pytest.raises(StoreError, match="full"):  # every write path: series too
            store.log_metrics(first, "loss", range(5000), [1.0] * 5000)
        assert store.run(first)["val_acc"] == 0.5
    _intact(path, [first, *ids])
    with RunStore(path) as store:  # "after freeing space" (the limit is per connection): writes again
        store.start_run(None, None, None, {"after": True})


def test_a_read_only_store_file_is_a_store_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        first = store.start_run(None, None, None, {})
        store.conn.execute("PRAGMA query_only = ON")  # what a file that turned read-only under the writer gives
        with pytest.raises(StoreError, match=f"cannot write store {path}"):
            store.start_run(None, None, None, {})
    _intact(path, [first])


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mount = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_store_on_a_full_file_system_is_a_store_error_then_the_cli_says_it_in_one_line(tiny_tmpfs):
    path = tiny_tmpfs / "runs.sqlite"
    with RunStore(path) as store:
        first = store.start_run(None, None, None, {"lr": 1e-3})
        ids, err = _fill(store)
    assert "full" in str(err) and str(path) in str(err)
    _intact(path, [first, *ids])
    # the disk still full: `babysit train --store` on it is one line, exit 2, no traceback
    proc = subprocess.run([sys.executable, "-m", "babysit", "train", "--data", "digits", "--model", "fc:8",
                           "--epochs", "1", "--store", str(path), "--out", "ckpt"], cwd=tiny_tmpfs.parent,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "full" in proc.stderr
    _intact(path, [first, *ids])
