"""One writer per store: an exclusive POSIX record lock on ``STORE.lock``, removed on a clean close.

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
        while True:
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
            if _same_file(fd, self.path):
                break
            # the holder we waited on removed this file on its clean close (release): a lock on it
            # guards nothing, the next writer creates a new file at the path; take that one instead
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        _HELD.add(self._key)

    def release(self) -> None:
        """Give the lock up and remove the lock file (idempotent).

        The file is removed while the lock is still held, so a writer that opened it just before sees,
        once it gets the lock, that the path no longer names its file and starts over (``_same_file``).
        A holder killed before this leaves the file behind: harmless, the kernel dropped its lock.
        """
        if self._fd is not None:
            try:
                if _same_file(self._fd, self.path):
                    self.path.unlink(missing_ok=True)
            except OSError:
                pass  # e.g. a read-only folder: the file stays, harmless once unlocked
            os.close(self._fd)  # closing the descriptor releases the process's lock on the file
            self._fd = None
            _HELD.discard(self._key)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
