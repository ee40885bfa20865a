"""One training run per output folder: an exclusive lock held while it trains.

The lock is ``flock`` on ``<out>/.tinygrad-rnn.lock``; the kernel drops it when the process
ends in any way (kill -9 included), so a lock is never left stale. The file records who
holds it (pid, host, start time), which a second run names in its one-line refusal.
"""
from __future__ import annotations

import os
import socket
import time

LOCK_NAME = ".tinygrad-rnn.lock"


class FolderBusy(RuntimeError):
    """Another run holds the output folder's lock."""


class FolderLock:
    """``with FolderLock(folder, "train charlm"):`` or ``acquire()`` / ``release()``."""

    def __init__(self, folder: str, what: str):
        self.path = os.path.join(folder, LOCK_NAME)
        self.folder, self.what = folder, what
        self._descriptor: int | None = None

    def acquire(self) -> "FolderLock":
        """Take the lock (a no-op if this object holds it); FolderBusy if another run does."""
        if self._descriptor is not None:
            return self
        try:
            import fcntl
        except ImportError:              # Windows: no flock; one run per folder is on trust
            return self
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(descriptor, 4096).decode("utf-8", "replace").strip()
            os.close(descriptor)
            raise FolderBusy(f"--out {self.folder!r} is in use by another run "
                             f"({holder or 'holder unknown'}); wait for it to finish, stop "
                             "it, or pick another --out") from None
        started = time.strftime("%Y-%m-%d %H:%M:%S %z")
        record = f"{self.what}: pid {os.getpid()} on host {socket.gethostname()}, started {started}"
        os.ftruncate(descriptor, 0)
        os.write(descriptor, (record + "\n").encode())
        self._descriptor = descriptor
        return self

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)   # closing drops the flock
            self._descriptor = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
