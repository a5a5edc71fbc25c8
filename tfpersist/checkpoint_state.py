"""The ``checkpoint`` state file: which checkpoints a directory holds, and which is the latest.

Every time TensorFlow saves a checkpoint (检查点) into a directory, it also
rewrites a small text file named ``checkpoint`` in that directory. The article
describes it in one line: it "lists all the model files of a directory". It
is a protocol buffer in text form, and it looks like this::

    model_checkpoint_path: "model.ckpt-3"
    all_model_checkpoint_paths: "model.ckpt-1"
    all_model_checkpoint_paths: "model.ckpt-2"
    all_model_checkpoint_paths: "model.ckpt-3"

``model_checkpoint_path`` is the latest checkpoint prefix, and
``all_model_checkpoint_paths`` lists every checkpoint still kept, oldest
first. A saver keeps at most ``max_to_keep`` of them (5 by default) and deletes
older files as it writes new ones.

The state file is the only thing that makes "restore the latest checkpoint
of this directory" possible, and it goes wrong in three common ways, which
this module handles:

* **Absolute paths.** By default ``tf.compat.v1.train.Saver`` writes absolute
  paths. When the directory is copied or moved, the file still points at the
  old place. tfpersist looks for the same checkpoint next to the state file,
  uses it, and warns with :class:`~tfpersist.errors.CheckpointStateWarning`.
* **Stale entries.** Entries whose files are gone are dropped, with a warning.
* **A missing, empty or corrupt state file.** tfpersist falls back to the newest
  *complete* checkpoint in the directory (its ``.index`` and every ``.data``
  shard present), and says so with a warning.

Nothing here imports TensorFlow: reading the state file is plain text work.

.. rubric:: TF1 style: ``Saver`` and ``get_checkpoint_state``

A saver that is given a ``global_step`` numbers each checkpoint, and with
``max_to_keep=2`` only the last two survive:

>>> import tensorflow as tf
>>> from tfpersist import checkpoint_state
>>> with tf.Graph().as_default() as graph:
...     v = tf.Variable(1.0, name="v")
...     saver = tf.compat.v1.train.Saver(max_to_keep=2, save_relative_paths=True)
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         for step in (1, 2, 3):
...             _ = saver.save(sess, "model/model.ckpt", global_step=step)
>>> from pathlib import Path
>>> print(Path("model/checkpoint").read_text())
model_checkpoint_path: "model.ckpt-3"
all_model_checkpoint_paths: "model.ckpt-2"
all_model_checkpoint_paths: "model.ckpt-3"

:func:`read_state` reads the same file, and agrees with TensorFlow's own
reader:

>>> state = checkpoint_state.read_state("model")
>>> state.latest
'model/model.ckpt-3'
>>> state.checkpoints
('model/model.ckpt-2', 'model/model.ckpt-3')
>>> tf.train.get_checkpoint_state("model").model_checkpoint_path
'model/model.ckpt-3'

.. rubric:: TF2 style: ``CheckpointManager``

In TF2 a :class:`tf.train.CheckpointManager` does the numbering and the
``max_to_keep`` bookkeeping, and writes the same state file:

>>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
>>> manager = tf.train.CheckpointManager(ckpt, "tf2", max_to_keep=2)
>>> for _ in range(3):
...     _ = manager.save()
>>> manager.checkpoints
['tf2/ckpt-2', 'tf2/ckpt-3']
>>> checkpoint_state.read_state("tf2").checkpoints
('tf2/ckpt-2', 'tf2/ckpt-3')

.. rubric:: When the state file is wrong

If the state file is lost, the checkpoints are still there.
:func:`latest_checkpoint` finds the newest complete one and warns:

>>> import os, warnings
>>> os.remove("tf2/checkpoint")
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     print(checkpoint_state.latest_checkpoint("tf2"))
tf2/ckpt-3
>>> print(caught[0].message)
tf2: no 'checkpoint' state file; using the newest complete checkpoint 'tf2/ckpt-3'
"""

from __future__ import annotations

import codecs
import os
import re
import warnings
from dataclasses import dataclass, field

from tfpersist import _fs
from tfpersist.errors import CheckpointNotFoundError, CheckpointStateWarning

__all__ = [
    "STATE_FILE",
    "CheckpointState",
    "checkpoint_files",
    "is_complete",
    "latest_checkpoint",
    "leftovers",
    "read_state",
    "remove_leftovers",
    "resolve_prefix",
]

#: The name TensorFlow gives the state file in every checkpoint directory.
STATE_FILE = "checkpoint"

_DATA = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_PART = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")
_STEP = re.compile(r"-(\d+)$")
#: What interrupted writes leave behind: TensorFlow's temporary files and
#: sharded-save directories, and tfpersist's own temporary files.
_LEFTOVER = re.compile(
    r"\.tempstate\d+$"  # BundleWriter's data and index, before the rename
    r"|\.tmp[0-9a-f]{32}$"  # TensorFlow's atomic writes (state file, .meta)
    r"|_temp(_[0-9a-f]{32})?$"  # sharded saves, TF2 and TF1
    r"|\.[a-z0-9_]{8}\.tmp$"  # tfpersist's atomic writes
    r"|^\.tfpersist-[a-z0-9_]{8}$"  # tfpersist's staging directories
    r"|^workertemp_\d+$"  # a worker's copy in multi-worker saving
)
_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")
_PATH_FIELDS = ("model_checkpoint_path", "all_model_checkpoint_paths")
_NUMBER_FIELDS = ("all_model_checkpoint_timestamps", "last_preserved_timestamp")


@dataclass(frozen=True)
class CheckpointState:
    """What a checkpoint directory holds.

    *latest* is the prefix to restore (``None`` if there is none),
    *checkpoints* every prefix still on disk, oldest first, and *source*
    ``"state file"`` or ``"scan"`` (when the state file could not be used).
    *notes* says what was wrong with the state file, if anything.

    >>> CheckpointState("model", "model/model.ckpt", ("model/model.ckpt",), "state file")
    CheckpointState(directory='model', latest='model/model.ckpt', checkpoints=('model/model.ckpt',), source='state file', notes=())
    """

    directory: str
    latest: str | None
    checkpoints: tuple[str, ...]
    source: str
    notes: tuple[str, ...] = field(default=())


def checkpoint_files(prefix: str | os.PathLike[str]) -> list[str]:
    """List the files on disk that belong to the checkpoint *prefix*, sorted.

    These are ``PREFIX.index``, ``PREFIX.data-NNNNN-of-NNNNN`` and, when
    present, ``PREFIX.meta``. A prefix is matched literally: characters such
    as ``[`` are not glob patterns here.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).write("model/model.ckpt")
    >>> checkpoint_files("model/model.ckpt")
    ['model/model.ckpt.data-00000-of-00001', 'model/model.ckpt.index']
    """
    prefix = os.fspath(prefix)
    parent, base = _fs.split(prefix)
    try:
        names = _fs.listdir(parent or ".")
    except OSError:
        return []
    return sorted(
        os.path.join(parent, n)
        for n in names
        if n.startswith(base) and _PART.fullmatch(n[len(base) :])
    )


def is_complete(prefix: str | os.PathLike[str]) -> bool:
    """Tell whether *prefix* has its ``.index`` and every ``.data`` shard on disk.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).write("model/model.ckpt")
    >>> is_complete("model/model.ckpt")
    True
    >>> import os; os.remove("model/model.ckpt.data-00000-of-00001")
    >>> is_complete("model/model.ckpt")
    False
    """
    prefix = os.fspath(prefix)
    files = checkpoint_files(prefix)
    shards = [_DATA.search(f) for f in files]
    counts = {int(m.group(2)) for m in shards if m}
    if prefix + ".index" not in files or len(counts) != 1:
        return False
    present = {int(m.group(1)) for m in shards if m}
    return present == set(range(counts.pop()))


def _unquote(value: str) -> str:
    if len(value) < 2 or value[0] != value[-1] or value[0] not in "\"'":
        raise ValueError(f"expected a quoted string, found {value!r}")
    # text_format writes non-ASCII bytes as octal escapes (\346\250\241).
    return codecs.escape_decode(value[1:-1].encode("utf-8"))[0].decode("utf-8")


def _parse_state(text: str) -> tuple[str | None, list[str]]:
    latest, paths = None, []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"line {lineno} is not 'field: value'")
        key, value = m.groups()
        if key in _PATH_FIELDS:
            try:
                path = _unquote(value)
            except (ValueError, UnicodeDecodeError) as e:
                raise ValueError(f"line {lineno}: {e}") from e
            if key == "model_checkpoint_path":
                latest = path
            else:
                paths.append(path)
        elif key in _NUMBER_FIELDS:
            try:
                float(value)
            except ValueError as e:
                raise ValueError(f"line {lineno}: {key} is not a number") from e
        else:
            raise ValueError(f"line {lineno}: unknown field {key!r}")
    if latest is None:
        raise ValueError("it names no model_checkpoint_path")
    return latest, paths


def _scan(directory: str) -> list[str]:
    """Complete checkpoints in *directory*, oldest first."""
    try:
        names = _fs.listdir(directory)
    except OSError:
        return []
    prefixes = [os.path.join(directory, n[: -len(".index")]) for n in names if n.endswith(".index")]
    complete = [p for p in prefixes if is_complete(p)]
    if complete and all(_STEP.search(p) for p in complete):
        return sorted(complete, key=lambda p: int(_STEP.search(p).group(1)))
    return sorted(complete, key=lambda p: (_fs.mtime_ns(p + ".index"), p))


def read_state(directory: str | os.PathLike[str]) -> CheckpointState:
    """Read the ``checkpoint`` state file of *directory*, checking it against the disk.

    Entries are resolved against *directory*. An absolute entry that no longer
    exists but whose checkpoint sits in *directory* (the directory was moved)
    is replaced by that one; entries whose files are gone are dropped. When the
    state file is missing, empty, corrupt or names nothing that exists, the
    complete checkpoints found on disk are used instead: ordered by the step
    number in their names, or by age when they carry none. Each of these
    repairs issues a :class:`~tfpersist.errors.CheckpointStateWarning`.

    >>> import tensorflow as tf
    >>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    >>> _ = ckpt.save("model/ckpt")
    >>> read_state("model")
    CheckpointState(directory='model', latest='model/ckpt-1', checkpoints=('model/ckpt-1',), source='state file', notes=())

    A state file that is not a state file does not stop you:

    >>> from pathlib import Path
    >>> _ = Path("model/checkpoint").write_text("this is not a checkpoint state")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     read_state("model").latest
    'model/ckpt-1'
    >>> print(caught[0].message)
    model: the 'checkpoint' state file is corrupt (line 1 is not 'field: value'); using the newest complete checkpoint 'model/ckpt-1'
    """
    directory = os.fspath(directory)
    notes: list[str] = []
    entries: list[str] = []
    latest: str | None = None
    state_path = os.path.join(directory, STATE_FILE)
    try:
        text = _fs.read_bytes(state_path).decode("utf-8")
    except FileNotFoundError:
        pass  # normal after Checkpoint.write(); said below only if checkpoints exist
    except (OSError, UnicodeDecodeError) as e:
        notes.append(f"the 'checkpoint' state file cannot be read ({e})")
    else:
        try:
            named_latest, named = _parse_state(text)
        except ValueError as e:
            notes.append(f"the 'checkpoint' state file is corrupt ({e})")
        else:
            for name in dict.fromkeys([*named, named_latest]):  # each name once
                resolved = _resolve_entry(directory, name, notes)
                if resolved and resolved not in entries:
                    entries.append(resolved)
            latest = _resolve_entry(directory, named_latest, [])
            if latest is not None:  # TF keeps the latest last; make sure of it
                entries.remove(latest)
                entries.append(latest)
    source = "state file"
    if latest is None:
        found = _scan(directory)
        if found:
            source = "scan"
            entries = [e for e in entries if e not in found] + found
            latest = found[-1]
            if not notes:
                exists = _fs.exists(state_path)
                notes.append(
                    "the 'checkpoint' state file names no checkpoint that exists"
                    if exists
                    else "no 'checkpoint' state file"
                )
            notes[-1] += f"; using the newest complete checkpoint {latest!r}"
    state = CheckpointState(directory, latest, tuple(entries), source, tuple(notes))
    for note in notes:
        warnings.warn(f"{directory}: {note}", CheckpointStateWarning, stacklevel=2)
    return state


def _resolve_entry(directory: str, name: str, notes: list[str]) -> str | None:
    path = name if _fs.isabs(name) else os.path.join(directory, name)
    if is_complete(path):
        return path
    if _fs.isabs(name):
        here = os.path.join(directory, os.path.basename(name))
        if is_complete(here):
            notes.append(f"the state file names {name!r}, which is gone; using {here!r} (moved?)")
            return here
    notes.append(f"the state file names {name!r}, which is missing or incomplete; skipped")
    return None


def latest_checkpoint(directory: str | os.PathLike[str]) -> str:
    """Return the prefix of the latest checkpoint in *directory*.

    Like :func:`tf.train.latest_checkpoint`, but it copes with moved
    directories and lost state files (see :func:`read_state`), and raises
    :class:`~tfpersist.errors.CheckpointNotFoundError` instead of returning
    ``None``.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("model/ckpt")
    >>> latest_checkpoint("model")
    'model/ckpt-1'
    >>> import os; os.mkdir("empty")
    >>> latest_checkpoint("empty")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: directory 'empty' holds no checkpoint (it is empty); ...
    """
    directory = os.fspath(directory)
    if not _fs.isdir(directory):
        raise CheckpointNotFoundError(_describe_missing(directory))
    state = read_state(directory)
    if state.latest is None:
        raise CheckpointNotFoundError(
            f"directory {directory!r} holds no checkpoint ({_listing(directory)}); "
            "save one first, or pass a checkpoint prefix such as 'model/model.ckpt-3'"
        )
    return state.latest


def resolve_prefix(path: str | os.PathLike[str]) -> str:
    """Turn what a user typed into a checkpoint prefix.

    *path* may be a prefix (``model/model.ckpt``) or a directory, which means
    its latest checkpoint. Passing one of the checkpoint's own files
    (``.index``, ``.meta``, ``.data-…``) instead of the prefix is the most
    common mistake; the error says which prefix to pass.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).save("model/model.ckpt")
    >>> resolve_prefix("model")
    'model/model.ckpt-1'
    >>> resolve_prefix("model/model.ckpt-1.index")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: 'model/model.ckpt-1.index' is one file of a checkpoint; pass its prefix 'model/model.ckpt-1'
    """
    text = os.fspath(path)
    if _fs.isdir(text):
        return latest_checkpoint(text)
    if _fs.isfile(text + ".index"):
        return text
    part = _PART.search(text)
    if part and _fs.exists(text):
        prefix = text[: part.start()]
        raise CheckpointNotFoundError(
            f"{text!r} is one file of a checkpoint; pass its prefix {prefix!r}"
        )
    raise CheckpointNotFoundError(_describe_missing(text))


def _listing(directory: str, most: int = 8) -> str:
    try:
        names = sorted(_fs.listdir(directory))
    except OSError as e:
        return f"cannot list it: {e.strerror}"
    if not names:
        return "it is empty"
    shown = ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")
    return f"it has: {shown}"


def _describe_missing(path: str) -> str:
    parent = _fs.dirname(path) or "."
    if not _fs.isdir(parent):
        return f"no checkpoint at {path!r}: directory {parent!r} does not exist"
    found = _scan(parent)
    if found:
        names = ", ".join(repr(p) for p in found[-5:])
        return f"no checkpoint at {path!r}; {parent!r} holds checkpoints with prefixes {names}: pass one of those"
    return (
        f"no checkpoint at {path!r}; directory {parent!r} holds no checkpoint ({_listing(parent)}); "
        "pass a checkpoint prefix such as 'model/model.ckpt-3'"
    )


def remove_leftovers(directory: str | os.PathLike[str], *, lock_timeout: float = 60.0) -> list[str]:
    """Remove what interrupted writes left in *directory*; return what was removed.

    A save killed halfway leaves temporary files (``*.tempstate*``,
    ``*.tmp…``), the ``*_temp`` directories of sharded saves, and ``.data``
    shards whose ``.index`` was never written. None of them is a checkpoint,
    and no reader looks at them: the checkpoints and the state file are
    untouched. The directory's lock is held meanwhile, so a save by tfpersist
    in another process is never cut short (nor a worker's save into its own
    ``workertemp_N``); an asynchronous save still writing after its call
    returned is not covered by the lock.

    >>> import os
    >>> os.makedirs("model/ckpt-7_temp")
    >>> _ = open("model/ckpt-8.data-00000-of-00001", "wb").close()
    >>> remove_leftovers("model")
    ['model/ckpt-7_temp', 'model/ckpt-8.data-00000-of-00001']
    """
    from tfpersist._files import remove_paths  # both need this module
    from tfpersist._lock import is_locked, locked

    directory = os.fspath(directory)
    with locked(directory, lock_timeout):  # a worker saving into workertemp_N holds that lock
        return remove_paths(p for p in leftovers(directory) if not is_locked(p))


def leftovers(directory: str | os.PathLike[str], prefix: str = "") -> list[str]:
    """List what interrupted writes left in *directory*, for names starting with *prefix*.

    See :func:`remove_leftovers`; this only lists.

    >>> import os
    >>> os.makedirs("model")
    >>> _ = open("model/ckpt-3.index.tempstate123", "wb").close()
    >>> leftovers("model")
    ['model/ckpt-3.index.tempstate123']
    """
    directory = os.fspath(directory)
    found = []
    for name in sorted(_fs.listdir(directory)):
        if not name.startswith(prefix):
            continue
        data = _DATA.search(name)
        index = os.path.join(directory, name[: data.start()] + ".index") if data else ""
        if _LEFTOVER.search(name) or (data and not _fs.exists(index)):
            found.append(os.path.join(directory, name))
    return found
