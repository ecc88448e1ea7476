"""One writer per store: an exclusive ``flock`` on ``STORE.lock``.

The kernel drops a ``flock`` when its holder dies, kill -9 included, so a lock
that can be taken proves no other live process writes the store, and any run
still marked ``running`` was left behind by a dead one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from babysit.errors import StoreError


class WriterLock:
    """Holds the exclusive writer lock of the store at ``store_path`` until ``release()``."""

    def __init__(self, store_path: Path):
        self.path = Path(f"{store_path}.lock")
        # O_CLOEXEC: a subprocess exec'd by the driver must not keep the store locked after it dies.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            self._fd = None
            raise StoreError(
                f"store {store_path} is being written by another process (pid {holder}); "
                "wait for it to finish or use another --store"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Give the lock up (idempotent); the lock file stays, harmless, for the next writer."""
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None
