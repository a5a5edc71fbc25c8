"""Small file helpers shared by the modules that write."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator

from tfpersist import _fs
from tfpersist.checkpoint_state import checkpoint_files
from tfpersist.errors import WriteError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes) -> str:
    """Write *data* to *path* whole or not at all, creating parent directories.

    The bytes go to a temporary file in the same directory, which is renamed
    over *path*; a crash leaves the previous file intact. When a file is
    replaced, the new bytes are fsynced before the rename, so even a power cut
    leaves the old file or the new one, never neither. The file gets the
    permissions a plain ``open(path, "w")`` would give it. On a TensorFlow
    filesystem URL the rename is TensorFlow's: atomic on ``ram://`` and
    HDFS, a copy and a delete on object stores such as ``gs://``, whose
    objects appear whole anyway.

    >>> import os, stat
    >>> atomic_write("out/data.bin", b"123")
    'out/data.bin'
    >>> umask = os.umask(0); _ = os.umask(umask)
    >>> stat.S_IMODE(os.stat("out/data.bin").st_mode) == 0o666 & ~umask
    True
    """
    path = os.fspath(path)
    if _fs.is_url(path):
        return _atomic_write_url(path, data)
    parent = os.path.dirname(os.path.abspath(path))
    replacing = os.path.exists(path)
    try:
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=os.path.basename(path) + ".", suffix=".tmp")
    except OSError as e:
        raise WriteError(f"cannot write {path!r}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes it private
            f.write(data)
            f.flush()
            if replacing:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _unchanged(path, e) from e
        raise
    if not replacing:
        return path
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def _atomic_write_url(path: str, data: bytes) -> str:
    """:func:`atomic_write` through TensorFlow's filesystem: a temporary name, then a rename."""
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        _fs.makedirs(_fs.dirname(path))
        _fs.write_bytes(tmp, data)
        _fs.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            _fs.remove(tmp)
        raise _unchanged(path, e) from e
    return path


def _unchanged(path: str, error: OSError) -> WriteError:
    return WriteError(
        f"cannot write {path!r}: {error.strerror or error}; the file there, if any, is unchanged"
    )


def remove_paths(paths: Iterable[str]) -> list[str]:
    """Remove files and directory trees, those already gone included; return *paths*.

    >>> import os
    >>> os.makedirs("leftover/inner")
    >>> remove_paths(["leftover", "never-there"])
    ['leftover', 'never-there']
    >>> os.path.exists("leftover")
    False
    """
    paths = list(paths)
    for path in paths:
        if _fs.isdir(path):
            _fs.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                _fs.remove(path)
    return paths


def write_error_reason(error: BaseException) -> str:
    """The system's words in a failed write (``File too large``), without TensorFlow's wrapping.

    >>> write_error_reason(OSError(27, "File too large"))
    'File too large'
    >>> write_error_reason(RuntimeError("{{function_node x}} out/ckpt.tempstate1; File too large [Op:SaveV2]"))
    'File too large'
    """
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    for line in str(error).splitlines():
        found = _FILE_ERROR.search(line)
        if found:
            return found.group(1)
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# TensorFlow words file errors as "PATH; REASON [Op:NAME]".
_FILE_ERROR = re.compile(r"\S; ([^;\[\]{}]+?)\s*(?:\[Op:\w+\])?\s*$")

# TensorFlow treats a checkpoint prefix as a glob pattern when it reads.
_GLOB_CHARS = re.compile(r"[*?\[\]\\{}]")


@contextlib.contextmanager
def glob_safe_prefix(prefix: str) -> Iterator[str]:
    """Yield a prefix TensorFlow can read: *prefix* itself, or a symlinked alias.

    A prefix with glob characters (``模型 [v1]/model.ckpt``) saves, but TF's
    readers then fail with "Failed to find any matching files". The alias
    lives in a temporary directory for the duration of the ``with`` block.
    """
    if not _GLOB_CHARS.search(prefix) or _fs.is_url(prefix):
        yield prefix
        return
    with tempfile.TemporaryDirectory(prefix="tfpersist-") as tmp:
        alias = os.path.join(tmp, "ckpt")
        for path in checkpoint_files(prefix):
            os.symlink(os.path.abspath(path), alias + path[len(prefix) :])
        yield alias
