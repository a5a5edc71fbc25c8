"""Small file helpers shared by the modules that write."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from tfpersist import _fs
from tfpersist.checkpoint_state import (
    _LINE,
    _PATH_FIELDS,
    STATE_FILE,
    _unquote,
    checkpoint_files,
    is_complete,
)
from tfpersist.errors import WriteError


def atomic_write(path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], object]) -> str:
    """Write *data* to *path* whole or not at all, creating parent directories.

    *data* is the bytes, or a function that writes them to the binary file it
    is given, so large files are streamed rather than built in memory. They
    go to a temporary file in the same directory (``NAME.tfpersist-XXXXXXXX.tmp``),
    which is fsynced, renamed over *path*, and the directory fsynced too: a
    crash, even a power cut, leaves the previous file or the new one, never
    neither and never half of one. The file gets the permissions a plain
    ``open(path, "w")`` would give it (the process umask applies; it is never
    changed). On a TensorFlow filesystem URL the bytes are first streamed to
    a local temporary file, and the rename is TensorFlow's: atomic on
    ``ram://`` and HDFS, a copy and a delete on object stores such as
    ``gs://``, whose objects appear whole anyway.

    >>> import os, stat
    >>> atomic_write("out/data.bin", b"123")
    'out/data.bin'
    >>> umask = os.umask(0); _ = os.umask(umask)
    >>> stat.S_IMODE(os.stat("out/data.bin").st_mode) == 0o666 & ~umask
    True
    >>> atomic_write("out/data.bin", lambda f: [f.write(b"%d," % i) for i in range(3)])
    'out/data.bin'
    >>> from pathlib import Path
    >>> Path("out/data.bin").read_bytes()
    b'0,1,2,'
    """
    path = os.fspath(path)
    if _fs.is_url(path):
        return _atomic_write_url(path, data)
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        fd, tmp = _create_temp(path)
    except OSError as e:
        raise WriteError(f"cannot write {path!r}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            _write(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _unchanged(path, e) from e
        raise
    _fsync_directory(parent)
    return path


def _create_temp(path: str) -> tuple[int, str]:
    """Create ``PATH.tfpersist-XXXXXXXX.tmp``; mode 0o666, so the kernel applies the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = f"{path}.tfpersist-{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", path)


def _write(f: BinaryIO, data: bytes | Callable[[BinaryIO], object]) -> None:
    if callable(data):
        data(f)
    else:
        f.write(data)


def _fsync_directory(directory: str) -> None:
    """Make a rename in *directory* durable (some filesystems cannot: then nothing is done)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _atomic_write_url(path: str, data: bytes | Callable[[BinaryIO], object]) -> str:
    """:func:`atomic_write` through TensorFlow's filesystem: a temporary name, then a rename."""
    tmp = f"{path}.tfpersist-{secrets.token_hex(4)}.tmp"
    try:
        _fs.makedirs(_fs.dirname(path))
        with tempfile.TemporaryFile() as local:
            _write(local, data)
            local.seek(0)
            _fs.write_from(tmp, local)
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


# Saving over an existing checkpoint. TensorFlow replaces a checkpoint's files
# one by one, so a crash in between leaves an old .index over new data. The
# old checkpoint is first set aside under PREFIX.tfpersist-old (hard links,
# or copies where there are none), and the state file names it there until
# TensorFlow has written the new checkpoint and named it.

#: What a checkpoint's prefix gets while a new checkpoint is saved over it.
ASIDE = ".tfpersist-old"


def set_aside(prefix: str) -> str | None:
    """Keep the complete checkpoint at *prefix* as ``PREFIX.tfpersist-old``, free *prefix*.

    The files are linked, the state file renamed to the new name, and then
    the ``.index`` and ``.data`` files of *prefix* removed (its ``.meta``
    stays until a new one replaces it). Returns the new prefix, or ``None``
    if *prefix* holds no complete checkpoint. :func:`finish_switches` ends
    the switch after the save, or after a crash.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("m/ckpt")
    >>> set_aside("m/ckpt-1")
    'm/ckpt-1.tfpersist-old'
    >>> sorted(os.listdir("m"))
    ['checkpoint', 'ckpt-1.tfpersist-old.data-00000-of-00001', 'ckpt-1.tfpersist-old.index']
    >>> finish_switches("m")  # nothing was saved: the old checkpoint comes back
    ['m/ckpt-1.tfpersist-old.data-00000-of-00001', 'm/ckpt-1.tfpersist-old.index']
    >>> sorted(os.listdir("m"))
    ['checkpoint', 'ckpt-1.data-00000-of-00001', 'ckpt-1.index']
    """
    if not is_complete(prefix):
        return None
    aside = prefix + ASIDE
    files = checkpoint_files(prefix)
    for path in files:
        _link(path, aside + path[len(prefix) :])
    _rename_in_state(_fs.dirname(prefix), prefix, aside)
    for path in sorted(files, key=lambda f: not f.endswith(".index")):
        if not path.endswith(".meta"):
            _fs.remove(path)
    return aside


def finish_switches(directory: str) -> list[str]:
    """End every switch :func:`set_aside` began in *directory*; return the files removed.

    If the state file names the new checkpoint (and not the old one), the
    save succeeded and the old copy is removed. Otherwise the old
    checkpoint goes back to its prefix, replacing what a failed or killed
    save left there, and the state file names it again. See
    :func:`set_aside` for an example.

    >>> os.makedirs("quiet")
    >>> finish_switches("quiet")
    []
    """
    try:
        names = _fs.listdir(directory)
    except FileNotFoundError:
        return []
    asides = sorted(
        {os.path.join(directory, n[: n.index(ASIDE) + len(ASIDE)]) for n in names if ASIDE in n}
    )
    named = state_names(directory)
    removed: list[str] = []
    for aside in asides:
        files = checkpoint_files(aside)
        if not files:
            continue
        prefix = aside[: -len(ASIDE)]
        done = _fs.abspath(prefix) in named and _fs.abspath(aside) not in named
        if not done and is_complete(aside):
            for path in checkpoint_files(prefix):
                _fs.remove(path)
            for path in sorted(files, key=lambda f: f.endswith(".index")):
                _link(path, prefix + path[len(aside) :])
            _rename_in_state(directory, aside, prefix)
        removed += remove_paths(sorted(files, key=lambda f: not f.endswith(".index")))
    return sorted(removed)


def state_names(directory: str) -> set[str]:
    """The checkpoint prefixes the state file of *directory* names, made absolute.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("m/ckpt")
    >>> state_names("m") == {os.path.abspath("m/ckpt-1")}
    True
    """
    return {p for line in _state_lines(directory) or [] if (p := _named(directory, line))}


def _state_lines(directory: str) -> list[str] | None:
    try:
        return _fs.read_bytes(os.path.join(directory, STATE_FILE)).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _named(directory: str, line: str) -> str | None:
    """The prefix a state file's *line* names, made absolute; ``None`` for other lines."""
    m = _LINE.match(line)
    if not m or m.group(1) not in _PATH_FIELDS:
        return None
    try:
        name = _unquote(m.group(2))
    except (ValueError, UnicodeDecodeError):
        return None
    return _fs.abspath(name if _fs.isabs(name) else os.path.join(directory, name))


def _rename_in_state(directory: str, old: str, new: str) -> None:
    """Make the state file of *directory* name *new* wherever it names *old*."""
    lines = _state_lines(directory)
    target = _fs.abspath(old)
    if lines is None or not any(_named(directory, line) == target for line in lines):
        return
    out = []
    for line in lines:
        if _named(directory, line) == target:
            key, value = _LINE.match(line).groups()
            name = _unquote(value)
            name = (
                _fs.abspath(new)
                if _fs.isabs(name)
                else os.path.join(os.path.dirname(name), os.path.basename(new))
            )
            line = f'{key}: "{_quote(name)}"'
        out.append(line)
    atomic_write(os.path.join(directory, STATE_FILE), ("\n".join(out) + "\n").encode("utf-8"))


def _quote(text: str) -> str:
    r"""Escape *text* as protobuf's text format does: octal for all but printable ASCII.

    >>> _quote('模"')
    '\\346\\250\\241\\"'
    """
    return "".join(
        chr(b)
        if 0x20 <= b < 0x7F and b not in b'"\\'
        else ("\\" + chr(b) if b in b'"\\' else f"\\{b:03o}")
        for b in text.encode("utf-8")
    )


def _link(source: str, destination: str) -> None:
    """Hard-link *source* as *destination*, replacing it; copy where links are impossible (URLs)."""
    if _fs.exists(destination):
        _fs.remove(destination)
    if _fs.is_url(source):
        _fs.copy(source, destination)
        return
    try:
        os.link(source, destination)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        _fs.copy(source, destination)


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
    if not _GLOB_CHARS.search(re.sub(r"-\?{5}-of-\d{5}$", "", prefix)) or _fs.is_url(prefix):
        yield prefix
        return
    with tempfile.TemporaryDirectory(prefix="tfpersist-") as tmp:
        alias = os.path.join(tmp, "ckpt")
        for path in checkpoint_files(prefix):
            os.symlink(os.path.abspath(path), alias + path[len(prefix) :])
        yield alias
