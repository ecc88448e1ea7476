"""Opening a run store: files that are not stores are refused untouched; one writer at a time."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from babysit.errors import StoreError
from babysit.store import INTERRUPTED, LATEST_VERSION, RunStore


def test_text_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 20)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"notes.txt is not a babysit run store \(not an SQLite database"):
        RunStore(path)
    assert path.read_bytes() == before


def test_other_sqlite_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.execute("INSERT INTO customers VALUES ('ada')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="is an SQLite database but not a babysit run store .*tables: customers"):
            RunStore(path, readonly=readonly)
    assert path.read_bytes() == before


def test_missing_or_empty_file_for_reading_and_folder_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no run store at"):
        RunStore(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    (tmp_path / "empty.sqlite").write_bytes(b"")
    with pytest.raises(StoreError, match="not a babysit run store"):
        RunStore(tmp_path / "empty.sqlite", readonly=True)
    with pytest.raises(StoreError, match="is a folder"):
        RunStore(tmp_path)


def test_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(StoreError, match=f"cannot create store .*plain/runs.sqlite: File exists: {tmp_path / 'plain'}; check the path"):
        RunStore(tmp_path / "plain" / "runs.sqlite")


def test_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"")
    with RunStore(path) as s:
        assert s.runs() == []


def test_store_from_a_newer_babysit_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=f"schema version 99, newer than this babysit \\(knows up to {LATEST_VERSION}\\)"):
        RunStore(path)


def test_closed_store_says_so(tmp_path):
    s = RunStore(tmp_path / "runs.sqlite")
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="is closed"):
        s.runs()


# -- one writer ------------------------------------------------------------------------


def test_second_writer_in_this_process_is_refused_until_the_first_closes(tmp_path):
    path = tmp_path / "runs.sqlite"
    first = RunStore(path)
    rid = first.start_run(None, None, None, {})
    with pytest.raises(StoreError, match=rf"is already open for writing in this process \(pid {os.getpid()}\)"):
        RunStore(path)
    assert first.run(rid)["status"] == "running"  # the refused writer marked nothing interrupted
    first.close()
    with RunStore(path) as second:
        assert second.run(rid)["status"] == INTERRUPTED


def test_writer_in_another_process_is_named_by_pid(tmp_path):
    path = tmp_path / "runs.sqlite"
    code = textwrap.dedent(
        f"""
        import sys, time
        from babysit.store import RunStore
        s = RunStore({str(path)!r})
        print("open", flush=True)
        sys.stdin.readline()
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match=f"pid {child.pid}"):
            RunStore(path)
    finally:
        child.communicate("\n", timeout=30)
    with RunStore(path):
        pass  # the lock went with the process


def test_forked_child_does_not_keep_the_store_locked(tmp_path):
    """Workers forked by the driver must not hold the writer lock once the driver lets go of it."""
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait until the parent says it is done, touch nothing
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    try:
        store.close()
        other = subprocess.run(
            [sys.executable, "-c", f"from babysit.store import RunStore; RunStore({str(path)!r}).close()"],
            capture_output=True, text=True, timeout=60,
        )
        assert other.returncode == 0, other.stderr
    finally:
        os.write(write_end, b"x")
        os.close(write_end)
        os.waitpid(pid, 0)


def test_a_clean_close_removes_the_lock_file_and_a_killed_writers_file_blocks_nobody(tmp_path):
    import signal

    path = tmp_path / "runs.sqlite"
    lock = tmp_path / "runs.sqlite.lock"
    with RunStore(path) as store:
        store.start_run(None, None, None, {})
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()
    code = f"from babysit.store import RunStore; s = RunStore({str(path)!r}); print('open', flush=True); input()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "open"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert lock.read_text() == str(child.pid)  # left behind by the kill, its lock dropped by the kernel
    with RunStore(path) as store:
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


# Takes the writer lock over and over; while holding it, creates a marker file that only one holder may
# own at a time (O_EXCL). Removing the lock file on release must never let two processes hold it.
_CONTENDER = """
import os, sys
from babysit.errors import StoreError
from babysit.store.writer_lock import WriterLock
store, marker, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = 0
while held < rounds:
    try:
        lock = WriterLock(store)
    except StoreError:
        continue
    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # FileExistsError: two holders at once
    os.close(fd)
    os.unlink(marker)
    lock.release()
    held += 1
print("ok")
"""


def test_removing_the_lock_file_on_release_never_admits_two_writers(tmp_path):
    store, marker = tmp_path / "runs.sqlite", tmp_path / "holder"
    procs = [subprocess.Popen([sys.executable, "-c", _CONTENDER, str(store), str(marker), "300"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err
    assert not (tmp_path / "runs.sqlite.lock").exists()
