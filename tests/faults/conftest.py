"""Fixtures of the fault suite: a real, tiny file system (tmpfs) the tests fill up and make read-only."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid

import pytest


class TinyFS:
    """A tmpfs mounted for one test: ``fill()`` takes every free byte (a filler file), ``free()`` gives them
    back, ``readonly()`` / ``writable()`` remount it."""

    def __init__(self, path):
        self.path = path
        self.filler = path / ".filler"

    def fill(self) -> int:
        """Write the filler until the file system refuses (ENOSPC); returns the bytes it took."""
        written = 0
        block = b"\0" * 65536
        with open(self.filler, "ab", buffering=0) as f:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        written += f.write(block[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def readonly(self) -> None:
        _run("mount", "-o", "remount,ro", str(self.path))

    def writable(self) -> None:
        _run("mount", "-o", "remount,rw", str(self.path))


def _run(*cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _mount(tmp_path, size: str):
    """A tmpfs of ``size`` under tmp_path (the test process runs as root in CI and here); skipped where
    mounting is not allowed (then tests/store/test_store_faults.py's max_page_count cases still run)."""
    mount = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and the mount command")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    return mount


@pytest.fixture
def tiny_fs(tmp_path):
    mount = _mount(tmp_path, "16m")
    yield TinyFS(mount)
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)
