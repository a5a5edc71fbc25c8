"""Paths on the local disk or behind a TensorFlow filesystem URL (``ram://``, ``gs://``, ``s3://``).

Local paths go to :mod:`os`, so reading them never imports TensorFlow. A URL
goes to ``tf.io.gfile``. A missing file is a :class:`FileNotFoundError`
either way, so callers handle both alike; a scheme this TensorFlow has no
filesystem for, or a store it cannot reach, is a
:class:`~tfpersist.errors.FilesystemError`.

>>> is_url("ram://model/ckpt"), is_url("模型/model.ckpt")
(True, False)
>>> split("ram://ckpt"), split("ram://model/ckpt"), split("ckpt")
(('ram://', 'ckpt'), ('ram://model', 'ckpt'), ('', 'ckpt'))
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

from tfpersist.errors import FilesystemError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

__all__ = [
    "Handle",
    "abspath",
    "close",
    "copy",
    "dirname",
    "exists",
    "file_size",
    "finish_write",
    "is_url",
    "isabs",
    "isdir",
    "isfile",
    "listdir",
    "make_temp_dir",
    "makedirs",
    "mtime_ns",
    "open_read",
    "open_write",
    "pwrite_all",
    "read_bytes",
    "read_into",
    "remove",
    "replace",
    "rmtree",
    "split",
    "write_bytes",
    "write_from",
]

#: An open file: a descriptor for a local path, a ``GFile`` for a URL.
Handle = Any


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether *path* names a TensorFlow filesystem (``scheme://...``) rather than a local file."""
    return bool(_URL.match(os.fspath(path)))


def _gfile() -> Any:
    from tfpersist._tf import load_filesystem_plugins, tf  # only URLs need TensorFlow

    load_filesystem_plugins()
    return tf.io.gfile


@contextlib.contextmanager
def _as_oserror(path: str) -> Iterator[None]:
    """Turn TensorFlow's file errors into the OSError that os would have raised."""
    from tfpersist._tf import tf

    try:
        yield
    except tf.errors.NotFoundError as e:
        raise FileNotFoundError(2, e.message.split(";")[0], path) from e
    except tf.errors.PermissionDeniedError as e:
        raise PermissionError(13, e.message, path) from e
    except tf.errors.UnimplementedError as e:
        scheme = path.split("://", 1)[0]
        raise FilesystemError(
            f"{path!r}: this TensorFlow has no filesystem for {scheme}:// URLs; s3:// and "
            "hdfs:// need `pip install tensorflow-io` in the version made for this TensorFlow"
        ) from e
    except tf.errors.OpError as e:
        raise FilesystemError(
            f"{path!r}: {e.message.splitlines()[0] if e.message else type(e).__name__}; "
            "check the URL, your network and your credentials"
        ) from e


def exists(path: str) -> bool:
    """Whether *path* exists.

    On ``ram://`` the path must be listed in its directory: TensorFlow's
    ``ram://`` says any prefix of a file's name exists, and is a directory.
    """
    if not is_url(path):
        return os.path.exists(path)
    head, tail = split(path.rstrip("/"))
    if not (tail and path.startswith("ram://")):
        with _as_oserror(path):
            return bool(_gfile().exists(path))
    try:
        return tail in listdir(head)
    except (FileNotFoundError, NotADirectoryError):
        return False


def isdir(path: str) -> bool:
    """Whether *path* is a directory."""
    if not is_url(path):
        return os.path.isdir(path)
    if not exists(path):
        return False
    with _as_oserror(path):
        return bool(_gfile().isdir(path))


def isfile(path: str) -> bool:
    """Whether *path* is a file."""
    if not is_url(path):
        return os.path.isfile(path)
    if not exists(path):
        return False
    with _as_oserror(path):
        return not _gfile().isdir(path)


def isabs(path: str) -> bool:
    """Whether *path* is absolute; a URL always is."""
    return is_url(path) or os.path.isabs(path)


def abspath(path: str) -> str:
    """*path* made absolute; a URL is returned as it is."""
    return path if is_url(path) else os.path.abspath(path)


def split(path: str) -> tuple[str, str]:
    """*path* as (directory, name); the directory of ``ram://ckpt`` is ``ram://``."""
    head, tail = os.path.split(path)
    root = _URL.match(path)
    if root and len(head) < root.end():
        head = root.group()
    return head, tail


def dirname(path: str) -> str:
    """The directory part of *path* (see :func:`split`)."""
    return split(path)[0]


def listdir(path: str) -> list[str]:
    """The names in directory *path*."""
    if not is_url(path):
        return os.listdir(path)
    with _as_oserror(path):  # exists() raises for an unknown scheme, isdir() would not
        if not (_gfile().exists(path) and _gfile().isdir(path)):
            raise FileNotFoundError(2, "No such directory", path)
        return sorted({name.rstrip("/") for name in _gfile().listdir(path)})


def mtime_ns(path: str) -> int:
    """The modification time of *path* in nanoseconds (0 where a filesystem keeps none)."""
    if not is_url(path):
        return os.stat(path).st_mtime_ns
    with _as_oserror(path):
        return int(_gfile().stat(path).mtime_nsec)


def makedirs(path: str) -> None:
    """Create directory *path* and its parents, if missing."""
    if not is_url(path):
        os.makedirs(path or ".", exist_ok=True)
        return
    with _as_oserror(path):
        _gfile().makedirs(path)


def make_temp_dir(parent: str, prefix: str) -> str:
    """Create a new directory in *parent* named *prefix* plus 8 random characters."""
    if not is_url(parent):
        return tempfile.mkdtemp(prefix=prefix, dir=parent)
    path = os.path.join(parent, f"{prefix}{uuid.uuid4().hex[:8]}")
    makedirs(path)
    return path


def remove(path: str) -> None:
    """Remove file *path*."""
    if not is_url(path):
        os.remove(path)
        return
    with _as_oserror(path):
        _gfile().remove(path)


def rmtree(path: str) -> None:
    """Remove directory *path* and everything in it; a missing one is no error."""
    if not is_url(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    with contextlib.suppress(OSError), _as_oserror(path):
        _gfile().rmtree(path)


def replace(source: str, destination: str) -> None:
    """Rename *source* to *destination*, replacing it (atomic on local disks, not on object stores)."""
    if not (is_url(source) or is_url(destination)):
        os.replace(source, destination)
        return
    with _as_oserror(source):
        _gfile().rename(source, destination, overwrite=True)


def read_bytes(path: str, limit: int = -1) -> bytes:
    """The contents of file *path*, which must be a regular file.

    A FIFO, a device or a socket is refused before anything is read: a
    FIFO would block, ``/dev/zero`` would never end. With a *limit*, a
    file longer than *limit* bytes is an ``OSError`` (``EFBIG``), and no
    more than that is read.
    """
    if not is_url(path):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            if not stat.S_ISREG(mode):
                raise OSError(
                    errno.EINVAL, "not a regular file; pass a file, not a FIFO or a device", path
                )
            return _bounded(f.read(limit + 1 if limit >= 0 else -1), limit, path)
    with _as_oserror(path):
        if _gfile().isdir(path):
            raise IsADirectoryError(21, "Is a directory", path)
        with _gfile().GFile(path, "rb") as f:
            return _bounded(f.read(limit + 1 if limit >= 0 else -1), limit, path)


def _bounded(data: bytes, limit: int, path: str) -> bytes:
    if 0 <= limit < len(data):
        raise OSError(errno.EFBIG, f"longer than {limit} bytes", path)
    return data


def write_bytes(path: str, data: bytes) -> None:
    """Write *data* to a new file *path* (not atomic: see ``_files.atomic_write``)."""
    if not is_url(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    with _as_oserror(path), _gfile().GFile(path, "wb") as f:
        f.write(data)


def copy(source: str, destination: str) -> None:
    """Copy file *source* to *destination*, replacing it (for filesystems without hard links)."""
    if not (is_url(source) or is_url(destination)):
        shutil.copyfile(source, destination)
        return
    with _as_oserror(source):
        _gfile().copy(source, destination, overwrite=True)


def write_from(path: str, source: Any) -> None:
    """Write a new file *path* with what the binary file *source* holds from where it stands.

    Copied in chunks, so a large file never sits in memory (not atomic: see
    ``_files.atomic_write``).
    """
    if not is_url(path):
        with open(path, "wb") as f:
            shutil.copyfileobj(source, f, 16 << 20)
        return
    with _as_oserror(path), _gfile().GFile(path, "wb") as f:
        shutil.copyfileobj(source, f, 16 << 20)


def open_read(path: str) -> Handle:
    """Open file *path* for :func:`read_into`."""
    if not is_url(path):
        return os.open(path, os.O_RDONLY)
    with _as_oserror(path):
        _gfile().stat(path)  # a GFile opens nothing until read: fail here, as os.open does
        return _gfile().GFile(path, "rb")


def open_write(path: str) -> Any:
    """Create file *path*, which must not exist, for writing; a binary file with ``write``."""
    if not is_url(path):
        return open(path, "xb", buffering=1 << 20)  # closed by finish_write
    with _as_oserror(path):
        return _GFileWriter(_gfile().GFile(path, "wb"))


class _GFileWriter:
    """A ``GFile`` open for writing that also takes a ``memoryview`` (``GFile.write`` wants bytes)."""

    def __init__(self, file: Any) -> None:
        self.file, self.name = file, file.name

    def write(self, data: Any) -> None:
        with _as_oserror(self.name):
            self.file.write(bytes(data))

    def flush(self) -> None:
        with _as_oserror(self.name):
            self.file.flush()

    def close(self) -> None:
        with _as_oserror(self.name):
            self.file.close()


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """Write all of *data* to the local file *fd* at *offset* (``os.pwrite`` may write less)."""
    while data:
        done = os.pwrite(fd, data, offset)
        data, offset = data[done:], offset + done


def finish_write(file: Any, sync: bool) -> None:
    """Close a file from :func:`open_write`, its bytes on disk first when *sync* (fsync)."""
    try:
        file.flush()
        if sync and hasattr(file, "fileno"):
            os.fsync(file.fileno())
    finally:
        file.close()


def file_size(handle: Handle) -> int:
    """The size in bytes of an open file."""
    if isinstance(handle, int):
        return os.fstat(handle).st_size
    with _as_oserror(handle.name):
        return int(handle.size())


def read_into(handle: Handle, buffer: memoryview, offset: int) -> int:
    """Fill *buffer* from *handle* at *offset*; return the bytes read, fewer at end of file."""
    if not isinstance(handle, int):
        with _as_oserror(handle.name):
            handle.seek(offset)
            data = handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
    done = 0
    while done < len(buffer):
        n = os.preadv(handle, [buffer[done:]], offset + done)  # one call reads at most ~2 GiB
        if n == 0:
            break
        done += n
    return done


def close(handle: Handle) -> None:
    """Close an open file, ignoring errors."""
    with contextlib.suppress(Exception):
        if isinstance(handle, int):
            os.close(handle)
        else:
            handle.close()
