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

Checkpoints written before TensorFlow 0.12, or with
``write_version=SaverDef.V1``, are in the V1 format: one file ``model.ckpt``
(or the shards ``model.ckpt-00000-of-00002``, ..., which the state file names
``model.ckpt-?????-of-00002``) next to an optional ``model.ckpt.meta``, and no
``.index``. Every function here knows them too (see :func:`v1_files`). A V1
file is told by what it holds, not by its name: a table whose first record is
a V1 checkpoint's metadata. A backup copy of an ``.index`` is a table too, but
not a V1 checkpoint, so it never becomes the "latest" one.

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
from tfpersist._protobuf import DecodeError, fields
from tfpersist._sstable import FOOTER_SIZE, first_record
from tfpersist.errors import CheckpointNotFoundError, CheckpointStateWarning, WriteError

__all__ = [
    "STATE_FILE",
    "CheckpointState",
    "checkpoint_files",
    "is_complete",
    "latest_checkpoint",
    "leftovers",
    "meta_path",
    "read_state",
    "remove_leftovers",
    "resolve_prefix",
    "v1_files",
]

#: The name TensorFlow gives the state file in every checkpoint directory.
STATE_FILE = "checkpoint"

_DATA = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
# A V1 shard, and how TensorFlow names a sharded V1 checkpoint; a V2 ``.data`` shard is neither.
_V1_SHARD = re.compile(r"(?<!\.data)-(\d{5})-of-(\d{5})$")
_V1_PATTERN = re.compile(r"(?<!\.data)-\?{5}-of-(\d{5})$")
_SAVED_MODEL = ("saved_model.pb", "saved_model.pbtxt")
_PART = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")
_STEP = re.compile(r"-(\d+)$")
#: Names that interrupted writes give their files: TensorFlow's temporary
#: files and sharded-save directories, and tfpersist's own. ``leftovers``
#: checks more than the name before it lists one.
_LEFTOVER = re.compile(
    r"\.tempstate\d+$"  # BundleWriter's data and index, before the rename
    r"|\.tmp[0-9a-f]{32}$"  # TensorFlow's atomic writes (state file, .meta)
    r"|_temp(_[0-9a-f]{32})?$"  # sharded saves, TF2 and TF1
    r"|\.tfpersist-[0-9a-f]{8}\.tmp$"  # tfpersist's atomic writes
    r"|\.tfpersist-old-[0-9a-f]{8}(\.|$)"  # an old checkpoint kept while one is saved over it
    r"|^\.tfpersist-switch-[0-9a-f]{8}\.json$"  # the journal of that switch
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
    present, ``PREFIX.meta``; for a V1 checkpoint (see :func:`v1_files`), its
    table files and ``.meta``. A prefix is matched literally: characters such
    as ``[`` are not glob patterns here, except TensorFlow's ``-?????-of-``.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable(1.0)).write("model/model.ckpt")
    >>> checkpoint_files("model/model.ckpt")
    ['model/model.ckpt.data-00000-of-00001', 'model/model.ckpt.index']
    """
    prefix = os.fspath(prefix)
    pattern = _V1_PATTERN.search(prefix)
    if pattern:  # the shards of a sharded V1 checkpoint, and its .meta
        prefix = prefix[: pattern.start()]
    parent, base = _fs.split(prefix)
    try:
        names = _fs.listdir(parent or ".")
    except OSError:
        return []
    if pattern:
        shard = re.compile(r"-\d{5}-of-" + pattern.group(1) + "|\\.meta")
        return sorted(
            os.path.join(parent, n)
            for n in names
            if n.startswith(base) and shard.fullmatch(n[len(base) :])
        )
    found = [
        os.path.join(parent, n)
        for n in names
        if n.startswith(base) and _PART.fullmatch(n[len(base) :])
    ]
    if base in names and not _PART.search(base) and _is_v1_table(prefix):
        found.append(prefix)  # a V1 checkpoint's one file
    return sorted(found)


def is_complete(prefix: str | os.PathLike[str]) -> bool:
    """Tell whether *prefix* has its ``.index`` and every ``.data`` shard on disk.

    A V1 checkpoint is complete when it has every file :func:`v1_files` names.

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
        return prefix + ".index" not in files and bool(v1_files(prefix))
    present = {int(m.group(1)) for m in shards if m}
    return present == set(range(counts.pop()))


def _is_v1_table(path: str) -> bool:
    """Whether *path* is a table file whose first record is a V1 checkpoint's metadata.

    That record, under the empty key, is a ``SavedTensorSlices`` holding a
    ``SavedTensorSliceMeta``; a ``.index`` holds a ``BundleHeaderProto`` there
    instead. Only the table's footer, index block and that record are read.
    """
    if not _fs.isfile(path):
        return False
    try:
        handle = _fs.open_read(path)
    except OSError:
        return False
    try:
        size = _fs.file_size(handle)
        first = first_record(_FileView(handle, size)) if size >= FOOTER_SIZE else None
    except (OSError, DecodeError):
        return False
    finally:
        _fs.close(handle)
    return first is not None and first[0] == b"" and _is_slice_meta(first[1])


def _is_slice_meta(record: bytes) -> bool:
    """Whether *record* is a ``SavedTensorSlices`` with a ``SavedTensorSliceMeta`` and no data."""
    try:
        top = list(fields(record))
        return bool(top) and all(
            (number, wire) == (1, 2)
            and all((n, w) in ((1, 2), (2, 2)) for n, w, _ in fields(meta))  # tensors, versions
            for number, wire, meta in top
        )
    except DecodeError:
        return False


class _FileView:
    """An open file as a sequence of bytes, read only where it is sliced."""

    def __init__(self, handle: _fs.Handle, size: int) -> None:
        self.handle, self.size = handle, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, where: slice) -> bytes:
        start, stop, _ = where.indices(self.size)
        buffer = bytearray(max(stop - start, 0))
        done = _fs.read_into(self.handle, memoryview(buffer), start)
        return bytes(buffer[:done])


def _lone_shard(path: str, names: list[str] | None = None) -> bool:
    """Whether *path*, named like a V1 shard, is an unsharded V1 checkpoint of its own.

    So it is when no other shard of its pattern is in its directory (whose
    *names* may be given) and it is a V1 checkpoint table: TensorFlow reads
    ``run-00001-of-00003`` saved by an unsharded saver as itself.
    """
    parent, name = _fs.split(path)
    shard = _V1_SHARD.search(name)
    if not shard:
        return False
    if names is None:
        try:
            names = _fs.listdir(parent or ".")
        except OSError:
            return False
    sibling = re.compile(re.escape(name[: shard.start()]) + r"-\d{5}-of-" + shard.group(2))
    return not any(n != name and sibling.fullmatch(n) for n in names) and _is_v1_table(path)


def _v1_pattern(prefix: str) -> str | None:
    """``PREFIX-?????-of-NNNNN`` when a shard of that checkpoint exists, else ``None``."""
    parent, base = _fs.split(prefix)
    try:
        names = _fs.listdir(parent or ".")
    except OSError:
        return None
    counts = sorted(
        {
            m.group(2)
            for n in names
            if n.startswith(base) and (m := _V1_SHARD.search(n)) and m.start() == len(base)
        }
    )
    return f"{prefix}-?????-of-{counts[-1]}" if counts else None


def v1_files(prefix: str | os.PathLike[str]) -> list[str]:
    """The table files of the V1 checkpoint *prefix* in shard order, or ``[]`` if it has not all.

    TensorFlow before 0.12 wrote V1 checkpoints: no ``.index``, but one table
    file ``PREFIX``, or when sharded ``PREFIX-00000-of-00002``, ... which
    TensorFlow names by the pattern ``PREFIX-?????-of-00002``. Either the
    pattern or ``PREFIX`` is accepted. Each file must be a table whose first
    record is a V1 checkpoint's metadata (a ``SavedTensorSliceMeta``), so
    neither a V2 ``.data`` shard nor a copy of an ``.index`` counts.

    >>> import os, tensorflow as tf
    >>> os.makedirs("m")  # a V1 saver makes no directory
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.compat.v1.Variable(1.0, name="v")
    ...     saver = tf.compat.v1.train.Saver(
    ...         write_version=tf.compat.v1.train.SaverDef.V1, sharded=True)
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(v.initializer)
    ...         saver.save(sess, "m/model.ckpt", write_meta_graph=False)
    'm/model.ckpt-?????-of-00001'
    >>> v1_files("m/model.ckpt-?????-of-00001") == v1_files("m/model.ckpt")
    True
    >>> v1_files("m/model.ckpt")
    ['m/model.ckpt-00000-of-00001']
    """
    prefix = os.fspath(prefix)
    pattern = _V1_PATTERN.search(prefix)
    if not pattern:
        if not _PART.search(prefix) and _is_v1_table(prefix):
            return [prefix]
        found = _v1_pattern(prefix)
        return v1_files(found) if found else []
    count = int(pattern.group(1))
    files = [f"{prefix[: pattern.start()]}-{i:05d}-of-{count:05d}" for i in range(count)]
    return files if count and all(_is_v1_table(f) for f in files) else []


def meta_path(prefix: str | os.PathLike[str]) -> str:
    """The ``.meta`` file of checkpoint *prefix*; a sharded V1 checkpoint's lacks the shard pattern.

    >>> meta_path("m/model.ckpt-3"), meta_path("m/model.ckpt-3-?????-of-00002")
    ('m/model.ckpt-3.meta', 'm/model.ckpt-3.meta')
    """
    return _V1_PATTERN.sub("", os.fspath(prefix)) + ".meta"


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
    prefixes = {os.path.join(directory, n[: -len(".index")]) for n in names if n.endswith(".index")}
    for n in names:  # V1 checkpoints: shards, or one table file
        shard = _V1_SHARD.search(n)
        path = os.path.join(directory, n)
        if shard and not _lone_shard(path, names):
            prefixes.add(os.path.join(directory, f"{n[: shard.start()]}-?????-of-{shard.group(2)}"))
        elif shard or (
            not (_PART.search(n) or _LEFTOVER.search(n) or n == STATE_FILE) and _is_v1_table(path)
        ):
            prefixes.add(path)
    complete = [p for p in prefixes if is_complete(p)]

    def step(prefix: str) -> re.Match[str] | None:
        return _STEP.search(_V1_PATTERN.sub("", prefix))

    if complete and all(step(p) for p in complete):
        return sorted(complete, key=lambda p: (int(step(p).group(1)), p))
    return sorted(complete, key=lambda p: (_fs.mtime_ns(_first_file(p)), p))


def _first_file(prefix: str) -> str:
    return prefix + ".index" if _fs.exists(prefix + ".index") else (v1_files(prefix) or [prefix])[0]


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

    *path* may be a prefix (``model/model.ckpt``), a directory, which means
    its latest checkpoint, or a SavedModel directory, which means its
    ``variables/variables``. A V1 checkpoint (see :func:`v1_files`) resolves
    to its file, or to TensorFlow's pattern ``PREFIX-?????-of-NNNNN`` when it
    is sharded. Passing one of the checkpoint's own files (``.index``,
    ``.meta``, ``.data-…``) instead of the prefix is the most common mistake;
    the error says which prefix to pass.

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
        variables = os.path.join(text, "variables", "variables")
        saved_model = any(_fs.isfile(os.path.join(text, n)) for n in _SAVED_MODEL)
        if saved_model and _fs.isfile(variables + ".index"):
            return variables
        if saved_model and not _scan(text):
            raise CheckpointNotFoundError(
                f"{text!r} is a SavedModel with no variables ({variables + '.index'!r} is "
                "missing), so there is no checkpoint to read; `tfpersist summarize` shows "
                "its graph"
            )
        return latest_checkpoint(text)
    if _fs.isfile(text + ".index"):
        return text
    part = _PART.search(text)
    if part and _fs.exists(text):
        prefix = text[: part.start()]
        raise CheckpointNotFoundError(
            f"{text!r} is one file of a checkpoint; pass its prefix {prefix!r}"
        )
    shard = _V1_SHARD.search(text)
    if shard and _fs.isfile(text) and not _lone_shard(text):  # one shard: all of them
        text = f"{text[: shard.start()]}-?????-of-{shard.group(2)}"
    elif not _V1_PATTERN.search(text) and not _fs.isfile(text):
        text = _v1_pattern(text) or text
    if v1_files(text):
        return text
    if _fs.isfile(text):
        raise CheckpointNotFoundError(
            f"{text!r} is a file but no checkpoint: it has no {text + '.index'!r}, and it is "
            "not a V1 checkpoint file (not a table that starts with a V1 checkpoint's "
            "metadata: cut short, or another kind of file); pass a checkpoint prefix such as "
            "'model/model.ckpt-3'"
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
    pattern = _V1_PATTERN.search(path)
    if pattern:
        count = int(pattern.group(1))
        shards = [f"{path[: pattern.start()]}-{i:05d}-of-{count:05d}" for i in range(count)]
        missing = [s for s in shards if not _fs.isfile(s)]
        if missing and len(missing) < count:
            return (
                f"V1 checkpoint {path!r} is incomplete: {len(missing)} of its {count} shards "
                f"are missing, e.g. {missing[0]!r}; copy every shard"
            )
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
    from tfpersist._files import finish_switches, remove_paths  # both need this module
    from tfpersist._lock import is_locked, locked

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
    from tfpersist._files import state_names, switch_files

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
            temp = _SHARD_TEMP.fullmatch(name)
            if (
                (temp and _had_checkpoint(temp.group(1), names, named))
                or _STAGING.fullmatch(name)
                or _WORKER_DIR.fullmatch(name)
            ) and _writer_files_only(path, top=not temp):
                found.append(path)
            continue
        data = _DATA.search(name)
        temp = _PREFIX_TEMP.fullmatch(name)
        if (
            _TEMP_FILE.search(name)
            or (temp and _had_checkpoint(temp.group(1), names, named))
            or (
                data
                and name[: data.start()] + ".index" not in names
                and _had_checkpoint(name[: data.start()], names, named, own=False)
            )
        ):
            found.append(path)
    return sorted({*found, *(p for p in switch_files(directory) if p.startswith(start))})


#: Temporary files of checkpoint writers: TensorFlow's atomic writes of the
#: state file, and tfpersist's atomic writes.
_TEMP_FILE = re.compile(r"^checkpoint\.tmp[0-9a-f]{32}$|\.tfpersist-[0-9a-f]{8}\.tmp$")
#: TensorFlow's temporary files of a checkpoint PREFIX (group 1): BundleWriter's,
#: and the atomic writes of its .meta or .index.
_PREFIX_TEMP = re.compile(
    r"(.+)\.(?:(?:index|data-\d{5}-of-\d{5})\.tempstate\d+|(?:meta|index)\.tmp[0-9a-f]{32})"
)
_SHARD_TEMP = re.compile(r"(.+)_temp(_[0-9a-f]{32})?")  # PREFIX_temp/part-*: sharded saves
_SHARD_FILE = re.compile(r"part-\d{5}-of-\d{5}\.(index|data-\d{5}-of-\d{5})(\.tempstate\d+)?")
_STAGING = re.compile(r"\.tfpersist-[a-z0-9_]{8}")  # rewriting's staging directories
_WORKER_DIR = re.compile(r"workertemp_\d+")  # a worker's copy in multi-worker saving


def _temp_files(prefix: str) -> list[str]:
    """The temporary files TensorFlow was writing checkpoint *prefix* through, found on disk."""
    parent, base = _fs.split(prefix)
    try:
        names = _fs.listdir(parent or ".")
    except OSError:
        return []
    return sorted(
        os.path.join(parent, n)
        for n in names
        if (temp := _PREFIX_TEMP.fullmatch(n)) and temp.group(1) == base
    )


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
    step = _STEP.search(base)
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
            if not (top and _SHARD_TEMP.fullmatch(name) and _writer_files_only(path, top=False)):
                return False
        elif not (
            _SHARD_FILE.fullmatch(name)
            if not top
            else name == STATE_FILE
            or _PART.search(name)
            or _TEMP_FILE.search(name)
            or _PREFIX_TEMP.fullmatch(name)
        ):
            return False
    return True
