"""The layout of a checkpoint on disk: its files, its keys, the state file and leftover names.

What :mod:`tfpersist.checkpoint_state` explains lives here, below the pages,
so that the readers and the writers share one definition of it.
"""

from __future__ import annotations

import codecs
import os
import re
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from tfpersist import _fs
from tfpersist._protobuf import DecodeError, encode_field, fields
from tfpersist._sstable import FOOTER_SIZE, first_record
from tfpersist.errors import CheckpointNotFoundError, CheckpointStateWarning

#: The name TensorFlow gives the state file in every checkpoint directory.
STATE_FILE = "checkpoint"
#: The key of a TF2 checkpoint's object graph (a serialized ``TrackableObjectGraph``).
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
#: What a TF2 key puts between an object's path and the name of its value.
ATTRIBUTES = "/.ATTRIBUTES/"
#: The ending of a TF2 key that holds a variable's value.
VARIABLE_VALUE = ATTRIBUTES + "VARIABLE_VALUE"


def escape_key(name: str) -> str:
    """A name as one step of a TF2 key: ``.`` becomes ``..`` and ``/`` ``.S``.

    >>> escape_key("dense/kernel"), unescape_key("dense.Skernel")
    ('dense.Skernel', 'dense/kernel')
    """
    return name.replace(".", "..").replace("/", ".S")


def unescape_key(name: str) -> str:
    """The name one step of a TF2 key spells (see :func:`escape_key`)."""
    return re.sub(r"\.(\.|S)", lambda m: "." if m.group(1) == "." else "/", name)


def root_variables_graph(names: Iterable[str]) -> bytes:
    """The serialized object graph of a ``tf.train.Checkpoint`` holding each of *names* as a variable.

    Byte for byte what TensorFlow's ``TrackableObjectGraph`` serializes for
    that graph, encoded without TensorFlow. The values go under
    ``escape_key(name) + VARIABLE_VALUE``.

    >>> import tensorflow as tf
    >>> from tensorflow.core.protobuf.trackable_object_graph_pb2 import TrackableObjectGraph
    >>> graph = TrackableObjectGraph.FromString(root_variables_graph(["dense/kernel"]))
    >>> graph.nodes[0].children[0].local_name, graph.nodes[1].attributes[0].checkpoint_key
    ('dense/kernel', 'dense.Skernel/.ATTRIBUTES/VARIABLE_VALUE')
    """
    has_values = encode_field(5, encode_field(1, 1))
    root, nodes = b"", []
    for node_id, name in enumerate(names, start=1):
        raw = name.encode("utf-8")
        root += encode_field(1, encode_field(1, node_id) + encode_field(2, raw))
        key = (escape_key(name) + VARIABLE_VALUE).encode("utf-8")
        attribute = encode_field(1, b"VARIABLE_VALUE") + encode_field(2, raw) + encode_field(3, key)
        nodes.append(encode_field(2, attribute) + has_values)
    return b"".join(encode_field(1, node) for node in [root + has_values, *nodes])


DATA = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
# A V1 shard, and how TensorFlow names a sharded V1 checkpoint; a V2 ``.data`` shard is neither.
_V1_SHARD = re.compile(r"(?<!\.data)-(\d{5})-of-(\d{5})$")
_V1_PATTERN = re.compile(r"(?<!\.data)-\?{5}-of-(\d{5})$")
_SAVED_MODEL = ("saved_model.pb", "saved_model.pbtxt")
PART = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")
STEP = re.compile(r"-(\d+)$")
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
STATE_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")
PATH_FIELDS = ("model_checkpoint_path", "all_model_checkpoint_paths")
NUMBER_FIELDS = ("all_model_checkpoint_timestamps", "last_preserved_timestamp")


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
        if n.startswith(base) and PART.fullmatch(n[len(base) :])
    ]
    if base in names and not PART.search(base) and _is_v1_table(prefix):
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
    shards = [DATA.search(f) for f in files]
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
        if not PART.search(prefix) and _is_v1_table(prefix):
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


def unquote(value: str) -> str:
    if len(value) < 2 or value[0] != value[-1] or value[0] not in "\"'":
        raise ValueError(f"expected a quoted string, found {value!r}")
    # text_format writes non-ASCII bytes as octal escapes (\346\250\241).
    return codecs.escape_decode(value[1:-1].encode("utf-8"))[0].decode("utf-8")


def _parse_state(text: str) -> tuple[str, list[str]]:
    latest: str | None = None
    paths: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = STATE_LINE.match(line)
        if not m:
            raise ValueError(f"line {lineno} is not 'field: value'")
        key, value = m.groups()
        if key in PATH_FIELDS:
            try:
                path = unquote(value)
            except (ValueError, UnicodeDecodeError) as e:
                raise ValueError(f"line {lineno}: {e}") from e
            if key == "model_checkpoint_path":
                latest = path
            else:
                paths.append(path)
        elif key in NUMBER_FIELDS:
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
            not (PART.search(n) or _LEFTOVER.search(n) or n == STATE_FILE) and _is_v1_table(path)
        ):
            prefixes.add(path)
    complete = [p for p in prefixes if is_complete(p)]
    steps = {p: int(m.group(1)) for p in complete if (m := STEP.search(_V1_PATTERN.sub("", p)))}
    if complete and len(steps) == len(complete):
        return sorted(complete, key=lambda p: (steps[p], p))
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
    part = PART.search(text)
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


#: Temporary files of checkpoint writers: TensorFlow's atomic writes of the
#: state file, and tfpersist's atomic writes.
TEMP_FILE = re.compile(r"^checkpoint\.tmp[0-9a-f]{32}$|\.tfpersist-[0-9a-f]{8}\.tmp$")
#: TensorFlow's temporary files of a checkpoint PREFIX (group 1): BundleWriter's,
#: and the atomic writes of its .meta or .index.
PREFIX_TEMP = re.compile(
    r"(.+)\.(?:(?:index|data-\d{5}-of-\d{5})\.tempstate\d+|(?:meta|index)\.tmp[0-9a-f]{32})"
)
SHARD_TEMP = re.compile(r"(.+)_temp(_[0-9a-f]{32})?")  # PREFIX_temp/part-*: sharded saves
SHARD_FILE = re.compile(r"part-\d{5}-of-\d{5}\.(index|data-\d{5}-of-\d{5})(\.tempstate\d+)?")
STAGING = re.compile(r"\.tfpersist-[a-z0-9_]{8}")  # the checkpoint writer's staging directories


def save_staging(prefix: str) -> str:
    """The staging directory of a save to *prefix*: one name per prefix, so a save cut short is found.

    >>> save_staging("model/ckpt-1")
    'model/.tfpersist-9873a0ce'
    """
    parent, base = _fs.split(prefix)
    return os.path.join(
        parent, f".tfpersist-{zlib.crc32(base.encode('utf-8', 'surrogateescape')):08x}"
    )


WORKER_DIR = re.compile(r"workertemp_\d+")  # a worker's copy in multi-worker saving


def temp_files(prefix: str) -> list[str]:
    """The temporary files TensorFlow was writing checkpoint *prefix* through, found on disk."""
    parent, base = _fs.split(prefix)
    try:
        names = _fs.listdir(parent or ".")
    except OSError:
        return []
    return sorted(
        os.path.join(parent, n)
        for n in names
        if (temp := PREFIX_TEMP.fullmatch(n)) and temp.group(1) == base
    )
