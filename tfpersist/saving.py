"""Saving a model: what ``Saver.save`` writes, file by file.

TensorFlow keeps the *structure* of a computation graph (计算图) apart from the
*values* (取值) of its variables. The article's first program builds two
variables and their sum, then saves the session with
``saver.save(sess, "./model/model.ckpt")``. That one call writes four kinds of
file into ``model/``:

``model.ckpt.meta``
    The meta graph (元图): the graph structure, every node and op, plus the
    saver's own settings. It is enough to rebuild the graph without the Python
    code that built it (see :mod:`tfpersist.meta_graph`).
``model.ckpt.index`` and ``model.ckpt.data-00000-of-00001``
    Together these are the checkpoint (检查点) proper: the ``.index`` file maps
    each variable name to its dtype, shape and place in a ``.data`` shard (分片),
    which holds the raw bytes. ``model/model.ckpt`` itself is not a file but a
    *prefix* (检查点前缀) that names the set. This is the V2 format, the default
    since TensorFlow 0.12. The older V1 format (asked for with
    ``write_version=SaverDef.V1``) has no ``.index``: the checkpoint is the one
    file ``model.ckpt``, or its shards ``model.ckpt-00000-of-00002``, ...;
    tfpersist reads both.
``checkpoint``
    The state file: the list of model files in the directory, latest first
    (see :mod:`tfpersist.checkpoint_state`).

:func:`save_session` does the same as ``Saver.save`` and returns a
:class:`SavedCheckpoint` naming the files actually written. It creates a missing
parent directory itself, and the saver it makes stores *relative* paths in the
state file, so the directory can be moved or copied.

.. rubric:: TF1 style: graph and session

The article's program, with ``tf.compat.v1`` inside an explicit graph, so it
runs unchanged in TensorFlow 2 with eager execution left on:

>>> import tensorflow as tf
>>> from tfpersist import saving
>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     result = v1 + v2
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         saved = saving.save_session(sess, "model/model.ckpt")
>>> print(saved)
model/model.ckpt:
  model/checkpoint
  model/model.ckpt.data-00000-of-00001
  model/model.ckpt.index
  model/model.ckpt.meta
>>> result.name
'add:0'

The name ``add:0`` is the first output of the ``add`` op that ``v1 + v2``
created; later sections fetch the result by that name. The checkpoint holds
exactly the two variables, under their graph names:

>>> tf.train.list_variables("model/model.ckpt")
[('v1', [1]), ('v2', [1])]

.. rubric:: TF2 style: ``tf.train.Checkpoint``

In TF2 there is no session and no graph to save: a :class:`tf.train.Checkpoint`
saves the objects you hand it, and names each value by the path of attributes
that leads to it. There is no ``.meta`` file, because the Python code is the
structure. :func:`save_checkpoint` calls ``Checkpoint.save``, which numbers the
checkpoints and updates the state file:

>>> ckpt = tf.train.Checkpoint(v1=tf.Variable([1.0]), v2=tf.Variable([2.0]))
>>> print(saving.save_checkpoint(ckpt, "tf2/model.ckpt"))
tf2/model.ckpt-1:
  tf2/checkpoint
  tf2/model.ckpt-1.data-00000-of-00001
  tf2/model.ckpt-1.index
>>> [name for name, _ in tf.train.list_variables("tf2/model.ckpt-1")]
['_CHECKPOINTABLE_OBJECT_GRAPH', 'save_counter/.ATTRIBUTES/VARIABLE_VALUE', 'v1/.ATTRIBUTES/VARIABLE_VALUE', 'v2/.ATTRIBUTES/VARIABLE_VALUE']

``_CHECKPOINTABLE_OBJECT_GRAPH`` records how the objects hang together, and
``save_counter`` counts the saves. To keep only the last few checkpoints, hand
:func:`save_checkpoint` a :class:`tf.train.CheckpointManager` with
``max_to_keep``:

>>> ckpt = tf.train.Checkpoint(v1=tf.Variable([1.0]), v2=tf.Variable([2.0]))
>>> manager = tf.train.CheckpointManager(ckpt, "managed", max_to_keep=2)
>>> for _ in range(3):
...     saved = saving.save_checkpoint(manager)
>>> saved.prefix
'managed/ckpt-3'
>>> manager.checkpoints
['managed/ckpt-2', 'managed/ckpt-3']

.. rubric:: Saving over a checkpoint

Saving to a prefix that already holds a checkpoint replaces it: the
article's ``save_session(sess, "model/model.ckpt")`` in a loop does, and so
does a new ``tf.train.Checkpoint`` or a restarted ``CheckpointManager``,
whose numbering starts at 1 again. TensorFlow renames the new files over
the old ones one at a time, so a crash in between would leave the old
``.index`` over the new data: neither checkpoint, while the state file
still names it. tfpersist first writes a journal beside the state file
(``.tfpersist-switch-TOKEN.json``), keeps the old checkpoint under
``PREFIX.tfpersist-old-TOKEN`` (hard links, so nothing is copied) and points
the state file there, lets TensorFlow write the new one, and removes the old
copy, then the journal, only once the new one is complete and the state file
names it. Killed at any moment, the directory holds the old checkpoint or
the new one, whole, and the state file names it; the next save, or
:func:`~tfpersist.checkpoint_state.remove_leftovers`, finishes what the
journal began, and puts the old one back under its own prefix if the new one
was never finished. Only what a journal names is touched, so files of yours
that merely look like an old copy are left alone. A ``CheckpointManager``
made after such a kill, which read the old copy's name from the state file,
is given its prefix back at its next save. On a TensorFlow filesystem URL
(``ram://``, ``gs://``), which has no hard links, the old files are copied
instead. An asynchronous save (see :mod:`tfpersist.distributed`) writes
after the call returns and is not protected. Neither is a checkpoint in the
V1 format (``write_version=SaverDef.V1``): TensorFlow writes each of its
table files under a temporary name and renames it, so one file is replaced
whole, but the shards of a sharded V1 save are replaced one by one.

.. rubric:: Who writes the bytes

:func:`save_checkpoint` writes the ``.index`` and ``.data`` files of an
eager save itself, with :class:`tfpersist.bundle.BundleWriter`, byte for
byte as TensorFlow would, each large tensor's checksum computed while two
threads write its bytes. TensorFlow gathers the tensors (the object graph
and the save counter among them), and they are written without the copy
``Tensor.numpy()`` makes. The state file, the list of checkpoints kept and
the deletion of old ones stay TensorFlow's. TensorFlow writes the files
itself for tensors on more than one device, tensors of the ``variant``
dtype, registered savers, a save under a ``tf.distribute`` strategy, a save
in graph mode or inside a ``tf.function``, and a save with options
(asynchronous, sharded, or an I/O device).

:func:`save_session` leaves the bytes to TensorFlow's ``SaveV2``, which
writes from the variables' own buffers. A session hands Python only copies,
made in one ``Session.run`` so that every value comes from the same step:
writing them with the writer would hold the whole checkpoint a second time
in memory. Like TensorFlow's, these saves
do not fsync the files they write: the journal above keeps the old
checkpoint against a kill, not against a power cut.

>>> for value in (1.0, 2.0):  # a new Checkpoint each time: ckpt-1 both times
...     saved = saving.save_checkpoint(tf.train.Checkpoint(v=tf.Variable([value])), "again/ckpt")
>>> print(saved)
again/ckpt-1:
  again/checkpoint
  again/ckpt-1.data-00000-of-00001
  again/ckpt-1.index
>>> tf.train.load_checkpoint("again/ckpt-1").get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
array([2.], dtype=float32)
"""

from __future__ import annotations

import contextlib
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from tfpersist import _fs
from tfpersist._files import (
    ASIDE,
    atomic_write,
    finish_switches,
    is_named,
    leftovers,
    remove_paths,
    set_aside,
    write_error_reason,
)
from tfpersist._layout import STATE_FILE, checkpoint_files, save_staging, temp_files
from tfpersist._lock import locked
from tfpersist._savers import default_list, saver_for
from tfpersist._tf import host_array, tf, writing_saves
from tfpersist.bundle import BundleWriter
from tfpersist.errors import NothingToSaveError, TfPersistError, WriteError

__all__ = ["SavedCheckpoint", "default_saver", "save_checkpoint", "save_session"]


@dataclass(frozen=True)
class SavedCheckpoint:
    """A checkpoint just written: its *prefix* and the *files* on disk.

    >>> print(SavedCheckpoint("m/a", ("m/a.index", "m/a.data-00000-of-00001")))
    m/a:
      m/a.index
      m/a.data-00000-of-00001
    """

    prefix: str
    files: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join([f"{self.prefix}:", *(f"  {f}" for f in self.files)])


def _written(prefix: str) -> SavedCheckpoint:
    files = checkpoint_files(prefix)
    state = os.path.join(_fs.dirname(prefix), STATE_FILE)
    if _fs.exists(state):
        files.append(state)
    return SavedCheckpoint(prefix, tuple(sorted(files)))


@overload
def _save(
    prefix: str, target: str | None, lock_timeout: float, save: Callable[[], str]
) -> SavedCheckpoint: ...
@overload
def _save(
    prefix: str, target: str | None, lock_timeout: float, save: Callable[[], str | None]
) -> SavedCheckpoint | None: ...
def _save(
    prefix: str, target: str | None, lock_timeout: float, save: Callable[[], str | None]
) -> SavedCheckpoint | None:
    """Run *save* under the directory's lock, the checkpoint at *target* kept safe meanwhile.

    The state file is in the directory of *prefix*; *target* is the prefix
    TensorFlow is about to write. If a complete checkpoint is there, it is
    set aside (see :func:`tfpersist._files.set_aside`) and comes back if the
    save fails or is killed. A failed save is a
    :class:`~tfpersist.errors.WriteError`, its temporary files gone. A save
    that *save* skips (returns ``None``) gives ``None``.
    """
    directory = _fs.dirname(prefix) or "."
    with locked(directory, lock_timeout):
        fresh: str | None = None  # the target, where no checkpoint was before
        try:
            finish_switches(directory)  # a save cut short before: its old checkpoint comes back
            if target is not None and not checkpoint_files(target):
                fresh = target
            try:
                if target is not None:
                    set_aside(target, directory)
                written = save()
            finally:
                finish_switches(directory)
        except TfPersistError:
            raise
        except (tf.errors.OpError, OSError) as e:
            with contextlib.suppress(OSError):
                remove_paths(leftovers(directory, os.path.basename(prefix)))
                if fresh is not None and not is_named(directory, fresh):
                    # what the failed save began where nothing was, and never named
                    remove_paths(f for f in checkpoint_files(fresh) if not f.endswith(".meta"))
                    remove_paths([fresh + "_temp", *temp_files(fresh)])
            reason = write_error_reason(e)
            raise WriteError(
                f"cannot save checkpoint {prefix!r}: {reason}; the checkpoints already in "
                f"{directory!r} and its state file are unchanged"
            ) from e
    return None if written is None else _written(os.fspath(written))


#: Dtypes whose values TensorFlow hands NumPy as a type of its own: written by their bits.
_BY_BITS = ("bfloat16", "qint8", "quint8", "qint16", "quint16", "qint32", "float8", "int4", "uint4")


def _written_array(value: Any, dtype: tf.DType) -> tuple[Any, str]:
    """A tensor's host value, and the dtype name to write it as, its bits unchanged."""
    if dtype.name.startswith(_BY_BITS):  # TensorFlow's own NumPy types: take the bits
        value = value.view(f"u{dtype.size}")
    return value, dtype.name


def _write_tensors(prefix: str, tensors: list[tuple[str, tf.Tensor]]) -> None:
    """Write eager *tensors* (key, tensor) at *prefix* as ``SaveV2`` would, one at a time."""
    writer = BundleWriter(  # the save holds the directory's lock already
        prefix, overwrite=True, sync=False, staging=save_staging(prefix), lock=False
    )
    with writer:
        for key, tensor in tensors:
            array, dtype = _written_array(host_array(tensor), tensor.dtype)
            writer.add(key, array, dtype=dtype)


def default_saver(
    graph: tf.Graph | None = None, *, max_to_keep: int = 5
) -> tf.compat.v1.train.Saver:
    """Return the graph's saver, creating one over all its variables if it has none.

    The saver created stores relative paths in the ``checkpoint`` state file
    and is kept in the graph's ``SAVERS`` collection, so saving in a loop does
    not add new save ops to the graph each time.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(1.0, name="v")
    ...     default_saver() is default_saver(graph)
    True
    """
    graph = graph or tf.compat.v1.get_default_graph()
    savers = graph.get_collection(tf.compat.v1.GraphKeys.SAVERS)
    if savers:
        return savers[0]
    saver = saver_for(graph, max_to_keep=max_to_keep)  # the one restore_session uses too
    graph.add_to_collection(tf.compat.v1.GraphKeys.SAVERS, saver)
    return saver


def save_session(
    sess: tf.compat.v1.Session,
    prefix: str | os.PathLike[str],
    *,
    var_list: Mapping[str, Any] | Sequence[Any] | None = None,
    saver: tf.compat.v1.train.Saver | None = None,
    global_step: int | None = None,
    write_meta_graph: bool = True,
    lock_timeout: float = 60.0,
) -> SavedCheckpoint:
    """Save the variables of *sess* under *prefix*, like ``Saver.save``.

    With no *saver* and no *var_list*, the graph's :func:`default_saver`
    saves every variable. *var_list* saves a subset, or, as a dict, saves
    variables under other names (see :mod:`tfpersist.partial`). With
    *global_step* the prefix gets a ``-STEP`` suffix. Missing parent
    directories are created. The ``.meta`` is written first, so the
    checkpoint is never without it, and a checkpoint already at the prefix is
    replaced only once the new one is whole (see above). The directory is
    locked while saving (another tfpersist save waits up to *lock_timeout*
    seconds, then raises :class:`~tfpersist.errors.CheckpointLockedError`); a
    save that fails, on a full disk say, raises
    :class:`~tfpersist.errors.WriteError`, and one with no variable to save
    (an empty graph or *var_list*, or a saver made with ``allow_empty=True``,
    where ``Saver.save`` returns ``None``) raises
    :class:`~tfpersist.errors.NothingToSaveError`; either leaves the
    checkpoints already there as they were.

    >>> import os
    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(3.0, name="v")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(v.initializer)
    ...         saved = save_session(sess, "deep/er/model.ckpt", global_step=7)
    >>> saved.prefix
    'deep/er/model.ckpt-7'
    >>> [os.path.basename(f) for f in saved.files]
    ['checkpoint', 'model.ckpt-7.data-00000-of-00001', 'model.ckpt-7.index', 'model.ckpt-7.meta']
    """
    prefix = os.fspath(prefix)
    if saver is None:
        graph = sess.graph
        made = var_list is not None or not graph.get_collection(tf.compat.v1.GraphKeys.SAVERS)
        if made and not (default_list(graph) if var_list is None else var_list):
            what = (
                "the session's graph has no variable" if var_list is None else "var_list is empty"
            )
            raise NothingToSaveError(
                f"cannot save checkpoint {prefix!r}: {what}, so there is nothing to save; "
                "create the variables first, or list them in var_list"
            )
        saver = default_saver(graph) if var_list is None else saver_for(graph, var_list)
    if global_step is not None:
        try:
            global_step = operator.index(global_step)
        except TypeError:  # a variable or tensor holding the step
            global_step = int(tf.compat.v1.train.global_step(sess, global_step))
    target = prefix if global_step is None else f"{prefix}-{global_step}"

    def save() -> str:
        meta = target + ".meta"
        new_meta = write_meta_graph and not _fs.exists(meta)
        try:
            if write_meta_graph:  # before the data, so the checkpoint is never without it
                with sess.graph.as_default():
                    graph = saver.export_meta_graph()
                atomic_write(meta, graph.SerializeToString(deterministic=True))
            path = saver.save(sess, prefix, global_step=global_step, write_meta_graph=False)
            if path is None:  # what an empty saver (allow_empty=True) returns, writing nothing
                raise NothingToSaveError(
                    f"cannot save checkpoint {target!r}: the saver holds no variables; "
                    "give it (or var_list) at least one variable"
                )
            return path
        except BaseException:
            if new_meta:
                with contextlib.suppress(OSError):
                    _fs.remove(meta)
            raise

    return _save(prefix, target, lock_timeout, save)


def _next_prefix(
    checkpoint: tf.train.Checkpoint,
    base: str | None,
    options: tf.train.CheckpointOptions | None,
) -> str | None:
    """The prefix ``save`` will write next (``BASE-N``), or ``None`` when that is not known here."""
    if base is None or not tf.executing_eagerly():
        return None
    if options is not None and options.experimental_enable_async_checkpoint:
        return None  # written after the call returns: nothing can be switched
    return f"{base}-{int(checkpoint.save_counter.numpy()) + 1}"


_ASIDE_NAME = re.compile(re.escape(ASIDE) + r"-[0-9a-f]{8}$")


def _forget_asides(manager: tf.train.CheckpointManager) -> None:
    """Make *manager* remember prefixes, not the names a save cut short gave them for a while.

    A manager made while a switch was pending read names such as
    ``ckpt-1.tfpersist-old-TOKEN`` from the state file; the switch is over,
    and its own state file writes would name files that are gone.
    """
    remembered = getattr(manager, "_maybe_delete", None)  # TF's list of the checkpoints it keeps

    def prefix(path: str) -> str:
        stale = _ASIDE_NAME.search(path)
        return path[: stale.start()] if stale and not checkpoint_files(path) else path

    if isinstance(remembered, dict):
        kept: dict[str, Any] = {}
        for path, stamp in reversed(list(remembered.items())):  # where listed twice: the later
            kept.setdefault(prefix(path), stamp)
        remembered.clear()
        remembered.update(reversed(list(kept.items())))
    latest = getattr(manager, "_latest_checkpoint", None)
    if isinstance(latest, str):
        manager._latest_checkpoint = prefix(latest)


def save_checkpoint(
    checkpoint: tf.train.Checkpoint | tf.train.CheckpointManager,
    prefix: str | os.PathLike[str] | None = None,
    *,
    options: tf.train.CheckpointOptions | None = None,
    lock_timeout: float = 60.0,
) -> SavedCheckpoint | None:
    """Save a TF2 checkpoint and name the files written.

    *checkpoint* is a :class:`tf.train.Checkpoint`, saved with ``save(prefix)``
    (numbered ``PREFIX-N``, state file updated), or a
    :class:`tf.train.CheckpointManager`, saved with ``save()`` into its
    directory, where it keeps ``max_to_keep`` checkpoints; then *prefix* must
    be left out. Locking, errors and saving over an existing checkpoint are as
    in :func:`save_session`. A manager with a ``checkpoint_interval`` may
    skip a save, as its ``save()`` does: then nothing is written and ``None``
    is returned, as TensorFlow returns.
    *options* are ``tf.train.CheckpointOptions``, for sharded or asynchronous
    saving (see :func:`tfpersist.distributed.checkpoint_options`). An
    asynchronous save returns before its files are written, so *files* lists
    what was on disk then, and a checkpoint it saves over is not kept safe;
    :func:`tfpersist.distributed.wait_for_save` waits for the rest.

    >>> import tensorflow as tf
    >>> ckpt = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0]]))
    >>> save_checkpoint(ckpt, "out/w").prefix
    'out/w-1'
    >>> save_checkpoint(ckpt, "out/w").prefix
    'out/w-2'
    """
    if isinstance(checkpoint, tf.train.CheckpointManager):
        if prefix is not None:
            raise TypeError("a CheckpointManager saves into its own directory: leave out prefix")
        target = _next_prefix(checkpoint.checkpoint, getattr(checkpoint, "_prefix", None), options)
        manager = checkpoint

        def save() -> str | None:
            _forget_asides(manager)
            with writing_saves(manager.checkpoint, _write_tensors):
                return manager.save(options=options)

        return _save(os.path.join(checkpoint.directory, "ckpt"), target, lock_timeout, save)
    if prefix is None:
        raise TypeError("save_checkpoint(checkpoint, prefix) needs a prefix such as 'model/ckpt'")
    prefix = os.fspath(prefix)
    target = _next_prefix(checkpoint, prefix, options)

    def save_one() -> str:
        with writing_saves(checkpoint, _write_tensors):
            return checkpoint.save(prefix, options=options)

    return _save(prefix, target, lock_timeout, save_one)
