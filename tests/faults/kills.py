"""What the fault tests share: a real ``python -m babysit`` child to kill -9 at a chosen moment, and the
checks every kill is followed by (the store's integrity, its finished trials, the doctor's findings)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from babysit.store import RunStore

FINAL = ("finished", "stopped", "exploded", "diverged", "failed")  # "stopped": at a rung (babysit search has rungs by default)


class Child:
    """``python -m babysit ARGS`` in ``cwd`` with its stdout read line by line on a thread (so the child never
    blocks on a full pipe); ``wait_until`` and ``kill9`` time the kill."""

    def __init__(self, *args, cwd, env=None):
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen([sys.executable, "-m", "babysit", *map(str, args)], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                     encoding="utf-8", errors="replace", bufsize=1)
        self.started = time.monotonic()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_until(self, predicate, timeout: float = 180, poll: float = 0.02, pause: bool = False) -> bool:
        """Poll ``predicate()`` until true (True) or the child exits (False). ``pause``: SIGSTOP the child the
        moment it is true, so what the test does next (fill the disk) happens before the child goes on, however
        long the test process waits for a core under load; ``resume()`` lets it go on."""
        end = time.monotonic() + timeout
        while True:
            if pause:
                os.kill(self.proc.pid, signal.SIGSTOP)
            if predicate():
                return True
            if pause:
                os.kill(self.proc.pid, signal.SIGCONT)
            if self.proc.poll() is not None:
                return False
            assert time.monotonic() < end, f"not reached within {timeout} s"
            time.sleep(poll)

    def resume(self) -> None:
        """SIGCONT a child stopped by ``wait_until(..., pause=True)``."""
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill9(self) -> bool:
        """SIGKILL the child (if still alive) and reap it; True when it was killed, False when it had exited."""
        alive = self.proc.poll() is None
        if alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(10)
        self._stderr.close()
        return alive and self.proc.returncode == -signal.SIGKILL

    def finish(self, stall: float = 300) -> subprocess.CompletedProcess:
        """Wait for a normal exit while the child keeps printing (a search prints a line per trial); the
        CompletedProcess with everything printed. A child silent for ``stall`` s is hung: it is killed and the
        test fails naming its last lines. (A fixed 300 s timeout failed once on a slow child under load 9-11
        that was still progressing: a slow machine must not read as a hang, nor a hang wait forever.)"""
        count, last = len(self.lines), time.monotonic()
        while True:
            try:
                self.proc.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if len(self.lines) != count:
                    count, last = len(self.lines), time.monotonic()
                elif time.monotonic() - last > stall:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError(f"the child printed nothing for {stall:.0f} s (hung); its last lines:\n"
                                         + "\n".join(self.lines[-10:]))
        self._reader.join(10)
        self._stderr.seek(0)
        err = self._stderr.read()
        self._stderr.close()
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, "\n".join(self.lines), err)


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of the SQLite file (what a kill must never break)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def runs(path: Path) -> list[dict]:
    """Every run in the store, read without the writer lock ([] when the store does not exist yet)."""
    if not Path(path).exists():
        return []
    try:
        with RunStore(path, readonly=True) as store:
            return store.runs()
    except Exception:  # created but not migrated yet
        return []


def trials(path: Path) -> dict:
    """(search, stage, index) -> (run id, params, val_acc, status) of the trials with a final status."""
    return {(r["search"], r["stage"], r["trial_index"]): (r["id"], r["params"], r["val_acc"], r["status"])
            for r in runs(path) if r["search"] is not None and r["stage"] is not None and r["status"] in FINAL}


def duplicated_trials(path: Path) -> list:
    """Trials recorded with a final status more than once (a resume that redid finished work)."""
    counted = Counter((r["search"], r["stage"], r["trial_index"]) for r in runs(path)
                      if r["search"] is not None and r["stage"] is not None and r["status"] in FINAL)
    return [k for k, n in counted.items() if n > 1]
