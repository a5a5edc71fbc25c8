"""Small file helpers shared by the modules that write."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from tfpersist import _fs
from tfpersist._layout import (
    DATA,
    NUMBER_FIELDS,
    PART,
    PATH_FIELDS,
    PREFIX_TEMP,
    SHARD_FILE,
    SHARD_TEMP,
    STAGING,
    STATE_FILE,
    STATE_LINE,
    STEP,
    TEMP_FILE,
    WORKER_DIR,
    checkpoint_files,
    is_complete,
    save_staging,
    unquote,
)
from tfpersist._lock import is_locked, locked
from tfpersist.errors import CheckpointNotFoundError, WriteError


def atomic_write(path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], object]) -> str:
    """Write *data* to *path* whole or not at all, creating parent directories.

    *data* is the bytes, or a function that writes them to the binary file it
    is given, so large files are streamed rather than built in memory. They
    go to a temporary file in the same directory (``NAME.tfpersist-XXXXXXXX.tmp``),
    which is fsynced, renamed over *path*, and the directory fsynced too: a
    crash, even a power cut, leaves the previous file or the new one, never
    neither and never half of one. As with a plain ``open(path, "w")``, a
    file already at *path* keeps its permissions (and owner, where the process
    may keep it), a new file gets the permissions the process umask leaves
    (the umask is never changed), and a symbolic link is written through:
    the file it points to is replaced, the link stays. On a TensorFlow
    filesystem URL the bytes are first streamed to a local temporary file, and the rename is TensorFlow's: atomic on
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
    >>> os.chmod("out/data.bin", 0o600)
    >>> _ = atomic_write("out/data.bin", b"private")
    >>> oct(stat.S_IMODE(os.stat("out/data.bin").st_mode))
    '0o600'
    """
    path = os.fspath(path)
    if _fs.is_url(path):
        return _atomic_write_url(path, data)
    try:
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        real = os.path.realpath(path)  # through a symbolic link, as open() writes
        parent = os.path.dirname(real)
        fd, tmp = _create_temp(real)
    except OSError as e:
        raise WriteError(f"cannot write {path!r}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            _keep_owner_and_mode(f.fileno(), real)
            _write(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _unchanged(path, e) from e
        raise
    fsync_directory(parent)
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


def _keep_owner_and_mode(fd: int, path: str) -> None:
    """Give the file *fd* the mode (and owner, if allowed) of the file at *path*, if any."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _write(f: BinaryIO, data: bytes | Callable[[BinaryIO], object]) -> None:
    if callable(data):
        data(f)
    else:
        f.write(data)


def fsync_directory(directory: str) -> None:
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
# old checkpoint is first set aside under PREFIX.tfpersist-old-TOKEN (hard
# links, or copies where there are none), and the state file names it there
# until TensorFlow has written the new checkpoint and named it. A journal,
# .tfpersist-switch-TOKEN.json beside the state file, is written first and
# removed last: only what a journal names is ever touched.

#: What a checkpoint's prefix gets (with ``-TOKEN``) while a new checkpoint is saved over it.
ASIDE = ".tfpersist-old"
_JOURNAL = re.compile(r"\.tfpersist-switch-([0-9a-f]{8})\.json")


def set_aside(prefix: str, state_dir: str | None = None) -> str | None:
    """Keep the complete checkpoint at *prefix* as ``PREFIX.tfpersist-old-TOKEN``, free *prefix*.

    *state_dir* holds the state file that names the checkpoints (by default
    the directory of *prefix*; a ``CheckpointManager`` whose
    ``checkpoint_name`` has a directory keeps it above). A journal
    ``.tfpersist-switch-TOKEN.json`` is written there first; then the files
    are linked, the state file renamed to the new name, and the ``.index``
    and ``.data`` files of *prefix* removed (its ``.meta`` stays until a new
    one replaces it). Returns the new prefix, or ``None`` if *prefix* holds
    no complete checkpoint. :func:`finish_switches` ends the switch after the
    save, or after a crash. A V1 checkpoint is not set aside: TensorFlow
    writes each of its table files under a temporary name and renames it.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("m/ckpt")
    >>> aside = set_aside("m/ckpt-1")
    >>> aside  # doctest: +ELLIPSIS
    'm/ckpt-1.tfpersist-old-...'
    >>> sorted(os.listdir("m"))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    ['.tfpersist-switch-....json', 'checkpoint',
     'ckpt-1.tfpersist-old-....data-00000-of-00001', 'ckpt-1.tfpersist-old-....index']
    >>> len(finish_switches("m"))  # nothing was saved: the old checkpoint comes back
    3
    >>> sorted(os.listdir("m"))
    ['checkpoint', 'ckpt-1.data-00000-of-00001', 'ckpt-1.index']
    """
    if not (is_complete(prefix) and _fs.exists(prefix + ".index")):
        return None  # V1: TensorFlow writes each table file whole and renames it
    state_dir = _fs.dirname(prefix) if state_dir is None else state_dir
    files = checkpoint_files(prefix)
    parts = [path[len(prefix) :] for path in files]
    while True:  # a token no file uses yet
        token = secrets.token_hex(4)
        aside = f"{prefix}{ASIDE}-{token}"
        journal = os.path.join(state_dir, f".tfpersist-switch-{token}.json")
        if not any(_fs.exists(p) for p in [journal, *(aside + part for part in parts)]):
            break
    record = {"prefix": _relative(prefix, state_dir), "parts": parts}
    atomic_write(journal, json.dumps(record, ensure_ascii=False).encode("utf-8"))
    for part in sorted(parts, key=lambda p: p == ".index"):  # the .index last: then it is whole
        _link(prefix + part, aside + part)
    _rename_in_state(state_dir, prefix, aside)
    for part in sorted(parts, key=lambda p: p != ".index"):
        if part != ".meta":
            _fs.remove(prefix + part)
    return aside


def finish_switches(directory: str) -> list[str]:
    """End every switch :func:`set_aside` began beside *directory*'s state file; list what went.

    Only journals are acted on. If the new checkpoint is complete and the
    state file names it, the save succeeded: the state file names it
    wherever it named the old copy, and the old copy is removed. Otherwise
    the old checkpoint goes back to its prefix, replacing what a failed or
    killed save left there, and the state file names it again. Every step
    can be repeated, and the journal goes last, so a finish cut short is
    completed by the next. See :func:`set_aside` for an example.

    >>> os.makedirs("quiet")
    >>> finish_switches("quiet")
    []
    """
    removed: list[str] = []
    for journal in _journals(directory):
        removed += _finish(directory, *journal)
    return sorted(removed)


def switch_files(directory: str) -> list[str]:
    """The journals of switches pending in *directory* and the old files they keep, sorted.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("m/ckpt")
    >>> aside = set_aside("m/ckpt-1")
    >>> [os.path.basename(p)[:18] for p in switch_files("m")]
    ['.tfpersist-switch-', 'ckpt-1.tfpersist-o', 'ckpt-1.tfpersist-o']
    """
    found = []
    for journal, _, aside, parts in _journals(directory):
        found += [journal, *(aside + p for p in parts if _fs.exists(aside + p))]
    return sorted(found)


def _journals(directory: str) -> list[tuple[str, str, str, list[str]]]:
    """Each journal in *directory*: its path, the prefix saved over, the old one's and its parts."""
    try:
        names = _fs.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in sorted(names):
        token = _JOURNAL.fullmatch(name)
        if not token:
            continue
        journal = os.path.join(directory, name)
        try:
            record = json.loads(_fs.read_bytes(journal, _JOURNAL_BYTES).decode("utf-8"))
            prefix = _resolve(directory, _path_text(record["prefix"]))
            parts = [p for p in record["parts"] if PART.fullmatch(p)]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue  # not a journal of ours: left alone
        found.append((journal, prefix, f"{prefix}{ASIDE}-{token.group(1)}", parts))
    return found


#: A journal names one prefix and a few parts: a few hundred bytes.
_JOURNAL_BYTES = 1 << 16


def _path_text(name: str) -> str:
    """*name* if a filesystem can take it as a path; else ValueError (a journal not of ours)."""
    if not isinstance(name, str) or "\0" in name or len(name.encode("utf-8")) > 4096:
        raise ValueError(f"not a path: {name!r}")  # encode() refuses lone surrogates too
    if any(len(part.encode("utf-8")) > 255 for part in name.split("/")):
        raise ValueError(f"a name in {name!r} is too long")
    return name


def _finish(state_dir: str, journal: str, prefix: str, aside: str, parts: list[str]) -> list[str]:
    kept = [aside + part for part in parts]
    done = is_complete(prefix) and is_named(state_dir, prefix)
    if not done and kept and all(_fs.exists(path) for path in kept):
        for path in checkpoint_files(prefix):  # what the failed save left
            _fs.remove(path)
        for part in sorted(parts, key=lambda p: p == ".index"):
            _link(aside + part, prefix + part)
    _rename_in_state(state_dir, aside, prefix)
    staging = save_staging(prefix)  # what a save cut short was writing
    if _fs.isdir(staging) and _writer_files_only(staging, top=True):
        _fs.rmtree(staging)
    for path in sorted(kept, key=lambda p: not p.endswith(".index")):
        with contextlib.suppress(FileNotFoundError):
            _fs.remove(path)
    _fs.remove(journal)
    return [*kept, journal]


def _relative(path: str, directory: str) -> str:
    """*path* as seen from *directory*, so a copied or moved directory still finds it."""
    if _fs.is_url(path):
        root = directory.rstrip("/") + "/"
        return path[len(root) :] if path.startswith(root) else path
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(
        os.path.relpath(os.path.realpath(head), os.path.realpath(directory or ".")), tail
    )


def _resolve(directory: str, name: str) -> str:
    if _fs.isabs(name):
        return name
    path = os.path.join(directory, name)
    return path if _fs.is_url(path) else os.path.normpath(path)


def _where(path: str) -> str:
    """*path* absolute, its directory resolved through symbolic links: one spelling per place."""
    if _fs.is_url(path):
        return path
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(head), tail)


def state_names(directory: str) -> set[str]:
    """The checkpoint prefixes the state file of *directory* names, absolute and resolved.

    The directory of each is resolved through symbolic links, so two
    spellings of one place give one name.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("m/ckpt")
    >>> state_names("m") == {os.path.realpath("m/ckpt-1")}
    True
    """
    return {p for line in _state_lines(directory) or [] if (p := _named(directory, line))}


def is_named(directory: str, prefix: str) -> bool:
    """Whether the state file of *directory* names checkpoint *prefix*, however it spells it.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("m/ckpt")
    >>> is_named("m", os.path.abspath("m/ckpt-1")), is_named("m", "m/ckpt-2")
    (True, False)
    """
    return _where(prefix) in state_names(directory)


def _state_lines(directory: str) -> list[str] | None:
    try:
        return _fs.read_bytes(os.path.join(directory, STATE_FILE)).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _spelled(line: str) -> tuple[str, str] | None:
    """The field and the name a state file's *line* holds; ``None`` for other lines."""
    m = STATE_LINE.match(line)
    if not m or m.group(1) not in PATH_FIELDS:
        return None
    try:
        return m.group(1), unquote(m.group(2))
    except (ValueError, UnicodeDecodeError):
        return None


def _named(directory: str, line: str) -> str | None:
    """The prefix a state file's *line* names (see :func:`_where`); ``None`` for other lines."""
    spelled = _spelled(line)
    return _where(_resolve(directory, spelled[1])) if spelled else None


def _rename_in_state(directory: str, old: str, new: str) -> None:
    """Make the state file of *directory* name *new* wherever it names *old*.

    Each entry keeps its spelling (relative, absolute, through a link); *new*
    is in the directory of *old*. A checkpoint then listed twice is listed
    once, where it was last, with its own timestamp.
    """
    lines = _state_lines(directory)
    target = _where(old)
    if lines is None or not any(_named(directory, line) == target for line in lines):
        return
    out = []
    for line in lines:
        spelled = _spelled(line)
        if spelled and _where(_resolve(directory, spelled[1])) == target:
            name = os.path.join(os.path.dirname(spelled[1]), os.path.basename(new))
            line = f'{spelled[0]}: "{_quote(name)}"'
        out.append(line)
    atomic_write(os.path.join(directory, STATE_FILE), _once(directory, out))


def _once(directory: str, lines: list[str]) -> bytes:
    """The state file's *lines*, each checkpoint listed once in ``all_model_checkpoint_paths``."""
    listed = [
        _named(directory, line) if line.lstrip().startswith(PATH_FIELDS[1]) else None
        for line in lines
    ]
    paths = [i for i, name in enumerate(listed) if name]
    stamps = [i for i, line in enumerate(lines) if line.lstrip().startswith(NUMBER_FIELDS[0])]
    drop = set()
    for n, i in enumerate(paths):
        if listed[i] in {listed[j] for j in paths[n + 1 :]}:  # listed again later
            drop.add(i)
            if len(stamps) == len(paths):
                drop.add(stamps[n])
    return ("\n".join(line for i, line in enumerate(lines) if i not in drop) + "\n").encode("utf-8")


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


def remove_leftovers(directory: str | os.PathLike[str], *, lock_timeout: float = 60.0) -> list[str]:
    """Remove what interrupted writes left in *directory*; return what was removed.

    Only what :func:`leftovers` can tie to a checkpoint writer is removed,
    never a file or directory of yours that merely looks like one. A save
    that tfpersist was making over an existing checkpoint, and that was cut
    short, is ended first, as its journal (``.tfpersist-switch-TOKEN.json``,
    beside the state file) says: the old checkpoint, kept as
    ``PREFIX.tfpersist-old-TOKEN``, goes back to its prefix and the state
    file names it again (or, if the new checkpoint was complete and named,
    the old copy is removed). The checkpoints and the state file are
    otherwise untouched. The directory's lock is held meanwhile, so a save
    by tfpersist in another process is never cut short (nor a worker's save
    into its own ``workertemp_N``); an asynchronous save still writing after
    its call returned is not covered by the lock. A missing directory is a
    :class:`~tfpersist.errors.CheckpointNotFoundError`: nothing is created; a
    directory this process cannot change is a
    :class:`~tfpersist.errors.WriteError`.

    >>> import os, tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("model/ckpt")
    >>> os.makedirs("model/ckpt-2_temp")
    >>> _ = open("model/ckpt-3.data-00000-of-00001", "wb").close()
    >>> os.makedirs("model/notes_temp")  # yours: no checkpoint 'notes' was ever here
    >>> remove_leftovers("model")
    ['model/ckpt-2_temp', 'model/ckpt-3.data-00000-of-00001']
    >>> sorted(os.listdir("model"))
    ['checkpoint', 'ckpt-1.data-00000-of-00001', 'ckpt-1.index', 'notes_temp']
    """
    directory = _existing_directory(directory)
    with locked(directory, lock_timeout):  # a worker saving into workertemp_N holds that lock
        try:
            switched = finish_switches(directory)
            rest = remove_paths(p for p in leftovers(directory) if not is_locked(p))
        except OSError as e:
            raise WriteError(
                f"cannot remove leftovers in {directory!r}: {e.strerror or e}"
                + (f" ({e.filename})" if e.filename else "")
                + "; make the directory writable and run this again, nothing is lost meanwhile"
            ) from e
    return sorted(set(switched) | set(rest))


def leftovers(directory: str | os.PathLike[str], prefix: str = "") -> list[str]:
    """List what interrupted writes left in *directory*, for names starting with *prefix*.

    A name counts only when a checkpoint writer can be shown to have made
    it: the state file's temporary file (``checkpoint.tmpHEX``), tfpersist's
    (``NAME.tfpersist-XXXXXXXX.tmp``, the journal of a save over a
    checkpoint cut short and the old checkpoint it kept, and its staging
    directories), and, for a prefix that has or had a checkpoint here (its
    ``.index``, an entry in the state file, or a sibling ``BASE-N``),
    TensorFlow's temporary files of that checkpoint
    (``PREFIX.index.tempstateN``, ``PREFIX.meta.tmpHEX``), the
    ``PREFIX_temp`` directories of sharded saves holding only ``part-*``
    shards, and ``.data`` shards whose ``.index`` was never written.
    Symbolic links, and directories holding anything else, are never listed. See
    :func:`remove_leftovers`; this only lists.

    >>> import os
    >>> os.makedirs("model/my_temp")
    >>> _ = open("model/ckpt-3.index", "wb").close()
    >>> _ = open("model/ckpt-3.index.tempstate123", "wb").close()
    >>> _ = open("model/notes.index.tempstate7", "wb").close()
    >>> _ = open("model/my_temp/part-00000-of-00001.index", "wb").close()
    >>> leftovers("model")  # no checkpoint 'my' nor 'notes': those are not TensorFlow's
    ['model/ckpt-3.index.tempstate123']
    """
    directory = _existing_directory(directory)
    names = _fs.listdir(directory)
    start = os.path.join(directory, prefix)
    named = {os.path.basename(p) for p in state_names(directory)}
    found = []
    for name in sorted(names):
        path = os.path.join(directory, name)
        if not name.startswith(prefix) or _is_link(path):
            continue
        if _fs.isdir(path):
            temp = SHARD_TEMP.fullmatch(name)
            if (
                (temp and _had_checkpoint(temp.group(1), names, named))
                or STAGING.fullmatch(name)
                or WORKER_DIR.fullmatch(name)
            ) and _writer_files_only(path, top=not temp):
                found.append(path)
            continue
        data = DATA.search(name)
        temp = PREFIX_TEMP.fullmatch(name)
        if (
            TEMP_FILE.search(name)
            or (temp and _had_checkpoint(temp.group(1), names, named))
            or (
                data
                and name[: data.start()] + ".index" not in names
                and _had_checkpoint(name[: data.start()], names, named, own=False)
            )
        ):
            found.append(path)
    return sorted({*found, *(p for p in switch_files(directory) if p.startswith(start))})


def _existing_directory(directory: str | os.PathLike[str]) -> str:
    directory = os.fspath(directory)
    if not _fs.isdir(directory):
        what = "is not a directory" if _fs.exists(directory) else "does not exist"
        raise CheckpointNotFoundError(
            f"{directory!r} {what}; pass the directory that holds the checkpoints"
        )
    return directory


def _is_link(path: str) -> bool:
    return not _fs.is_url(path) and os.path.islink(path)


def _had_checkpoint(base: str, names: list[str], named: set[str], own: bool = True) -> bool:
    """Whether checkpoint *base* has an index here (if *own*), is in the state file, or a sibling."""
    if base in named or (own and base + ".index" in names):
        return True
    step = STEP.search(base)
    if not step:
        return False
    sibling = re.compile(re.escape(base[: step.start()]) + r"-\d+")
    return any(sibling.fullmatch(n) for n in named) or any(
        n.endswith(".index") and sibling.fullmatch(n[: -len(".index")]) for n in names
    )


def _writer_files_only(directory: str, top: bool) -> bool:
    """Whether *directory* holds only what a checkpoint writer writes (no links, nothing else).

    With *top*, that is checkpoints, state files and their temporary files;
    otherwise (a ``PREFIX_temp`` directory) only ``part-*`` shards.
    """
    try:
        entries = _fs.listdir(directory)
    except OSError:
        return False
    for name in entries:
        path = os.path.join(directory, name)
        if _is_link(path):
            return False
        if _fs.isdir(path):
            if not (top and SHARD_TEMP.fullmatch(name) and _writer_files_only(path, top=False)):
                return False
        elif not (
            SHARD_FILE.fullmatch(name)
            if not top
            else name == STATE_FILE
            or PART.search(name)
            or TEMP_FILE.search(name)
            or PREFIX_TEMP.fullmatch(name)
        ):
            return False
    return True
