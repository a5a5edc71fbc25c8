"""An advisory lock on a directory, so that two processes never save into it at once."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from tfpersist import _fs
from tfpersist.errors import CheckpointLockedError


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
    _fs.makedirs(directory or ".")
    if _fs.is_url(directory):
        yield
        return
    fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CheckpointLockedError(
                        f"{directory!r} is being written by another process, which held its "
                        f"lock for more than {timeout:g} s; wait for it to finish, or save "
                        "elsewhere"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing drops the lock
