"""One writer per store: an exclusive POSIX record lock on ``STORE.lock``.

The kernel drops the lock when its holder dies, kill -9 included, so a lock that can
be taken proves no other live process writes the store, and any run still marked
``running`` was left behind by a dead one.

Why ``lockf`` and not ``flock``: a POSIX lock belongs to the process and is not
inherited by ``fork``, so worker processes forked by the driver never keep the store
locked after the driver closes it or dies. POSIX locks cannot tell two holders in the
same process apart, hence the process-local ``_HELD`` set.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from babysit.errors import StoreError

_HELD: set[str] = set()  # lock files this process holds


class WriterLock:
    """Holds the exclusive writer lock of the store at ``store_path`` until ``release()``."""

    def __init__(self, store_path: Path):
        self.path = Path(f"{store_path}.lock")
        self._key = os.path.realpath(self.path)
        self._fd = None
        if self._key in _HELD:
            raise StoreError(
                f"store {store_path} is already open for writing in this process (pid {os.getpid()}); "
                "close that RunStore first or use another --store"
            )
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"store {store_path} is being written by another process (pid {holder}); "
                "wait for it to finish or use another --store"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        _HELD.add(self._key)

    def release(self) -> None:
        """Give the lock up (idempotent); the lock file stays, harmless, for the next writer."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the process's lock on the file
            self._fd = None
            _HELD.discard(self._key)
