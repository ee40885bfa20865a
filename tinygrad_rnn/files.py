"""Opening files that come from users: regular files only, read within a size limit.

A FIFO or a device such as ``/dev/zero`` has no end (or no size to check), so reading it
can hang or exhaust memory; checkpoints and corpora are refused unless they are regular
files (symlinks are followed, to what they point at).
"""
from __future__ import annotations

import os
import stat


def open_regular_file(path: str, error: type = OSError, what: str = "file"):
    """``path`` opened for binary reading, if it is a regular file (after symlinks). FIFOs,
    devices (``/dev/zero``) and sockets raise ``error`` without blocking or reading: they
    have no end, or no size to check against a limit."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what} file") from None
    except OSError as problem:
        raise error(f"{path}: cannot be opened ({problem.strerror or problem})") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise error(f"{path}: is a directory, not a {what} file")
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
        raise error(f"{path}: is {kind}, not a regular file (a {what} must be one)")
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_limited(handle, limit: int, error: type, where: str) -> bytes:
    """All of ``handle``'s bytes (read in chunks, so memory follows the file's real size),
    or ``error`` as soon as there are more than ``limit``."""
    chunks, total = [], 0
    while True:
        chunk = handle.read(min(2**20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise error(f"{where}: is over the limit of {limit:,} bytes; refused (set "
                        "TINYGRAD_RNN_MAX_CORPUS_BYTES to allow more)")
