"""Small file helpers shared by the modules that write."""

from __future__ import annotations

import contextlib
import os
import tempfile


def atomic_write(path: str | os.PathLike[str], data: bytes) -> str:
    """Write *data* to *path* whole or not at all, creating parent directories.

    The bytes go to a temporary file in the same directory, which is flushed,
    fsynced and renamed over *path*; a crash leaves the previous file intact.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
