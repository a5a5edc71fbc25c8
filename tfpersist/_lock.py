"""An advisory lock on a directory, so that two processes never save into it at once."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from tfpersist import _fs
from tfpersist.errors import CheckpointLockedError, WriteError


@contextlib.contextmanager
def locked(directory: str, timeout: float = 60.0) -> Iterator[None]:
    """Hold the lock of *directory* for the block, waiting up to *timeout* seconds for it.

    The lock is ``flock`` on the directory itself, so no lock file is left
    behind; only tfpersist's writers take it, and the system drops it when
    its holder dies, so a killed process never leaves the directory locked.
    Missing directories are created. A TensorFlow filesystem URL
    (``gs://...``) has no such lock: the block runs unlocked, and keeping to
    one writer per directory is the caller's job (the chief, in multi-worker
    training).

    >>> with locked("model"):
    ...     os.listdir("model")
    []
    """
    try:
        _fs.makedirs(directory or ".")
        if _fs.is_url(directory):
            fd = None
        else:
            fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        hint = (
            "; is part of the path a file?"
            if isinstance(e, (FileExistsError, NotADirectoryError))
            else ""
        )
        raise WriteError(
            f"cannot write into directory {directory!r}: {e.strerror or e}{hint}"
        ) from e
    if fd is None:
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        while not _take(fd):
            if time.monotonic() >= deadline:
                raise CheckpointLockedError(
                    f"{directory!r} is being written by another process, which held its "
                    f"lock for more than {timeout:g} s; wait for it to finish, or save "
                    "elsewhere"
                )
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def is_locked(directory: str) -> bool:
    """Whether another process holds the lock of *directory* right now.

    >>> os.makedirs("free")
    >>> is_locked("free")
    False
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # a file, a URL or nothing: no lock
        return False
    try:
        return not _take(fd)
    finally:
        os.close(fd)


def _take(fd: int) -> bool:
    """Take the lock on open directory *fd* if it is free; say whether it was."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
