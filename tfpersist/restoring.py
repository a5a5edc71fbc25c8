"""Restoring variable values into a rebuilt graph.

The article's second program builds the *same* graph again in code, then
calls ``saver.restore`` instead of running the initialiser: the variables take
their values (取值) from the checkpoint, and ``v1 + v2`` prints ``[3.]``. The
graph is rebuilt by the program; only the values come from disk.

``Saver.restore`` matches variables to checkpoint entries by *name*, and it
trusts you on everything else. With resource variables (the default in
TensorFlow 2) it restores a value of shape ``[1]`` into a variable declared
``[2]`` and says nothing; the variable simply changes shape. TF2's
``Checkpoint.restore`` has the opposite problem: when no name matches it
restores nothing and says nothing, unless ``assert_consumed()`` is called.

tfpersist therefore checks first. :func:`restore_session` and
:func:`restore_checkpoint` compare every variable with the checkpoint, by
name, shape and dtype, *before* anything is assigned, and raise one
:class:`~tfpersist.errors.VariableMismatchError` that lists every problem.

.. rubric:: TF1 style: ``Saver.restore``

First the article's save, then a new graph built the same way, restored:

>>> import tensorflow as tf
>>> from tfpersist import restoring, saving
>>> def build(v1_shape=(1,)):
...     v1 = tf.Variable(tf.constant(1.0, shape=v1_shape), name="v1")
...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     return v1 + v2
>>> with tf.Graph().as_default() as graph:
...     result = build()
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         _ = saving.save_session(sess, "model/model.ckpt")
>>> with tf.Graph().as_default() as graph:
...     result = build()
...     with tf.compat.v1.Session(graph=graph) as sess:
...         restoring.restore_session(sess, "model/model.ckpt")
...         print(sess.run(result).tolist())
'model/model.ckpt'
[3.0]

Note that no initialiser ran: restoring *is* the initialisation. A directory
works too, and means its latest checkpoint. Now the silent trap: a graph that
declares ``v1`` with shape ``[2]``. Raw ``Saver.restore`` would go through;
tfpersist refuses before touching the session:

>>> with tf.Graph().as_default() as graph:
...     result = build(v1_shape=(2,))
...     with tf.compat.v1.Session(graph=graph) as sess:
...         restoring.restore_session(sess, "model")
Traceback (most recent call last):
...
tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'model/model.ckpt' (1 problem):
  v1: shape [2] expected, checkpoint has [1]
Fix the names or shapes, pass a name map, or ask for a partial restore.

.. rubric:: TF2 style: ``Checkpoint.restore(...).assert_consumed()``

In TF2 the objects are rebuilt in Python and the checkpoint is matched by
attribute path. :func:`restore_checkpoint` restores and asserts that every
value was consumed:

>>> ckpt = tf.train.Checkpoint(v1=tf.Variable([1.0]), v2=tf.Variable([2.0]))
>>> path = ckpt.save("tf2/ckpt")
>>> fresh = tf.train.Checkpoint(v1=tf.Variable([0.0]), v2=tf.Variable([0.0]))
>>> restoring.restore_checkpoint(fresh, "tf2")
'tf2/ckpt-1'
>>> (fresh.v1 + fresh.v2).numpy().tolist()
[3.0]

The silent no-op, caught: the attributes are named ``a`` and ``b``, so nothing
in the checkpoint fits them.

>>> wrong = tf.train.Checkpoint(a=tf.Variable([0.0]), b=tf.Variable([0.0]))
>>> restoring.restore_checkpoint(wrong, "tf2")
Traceback (most recent call last):
...
tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'tf2/ckpt-1' (4 problems):
  a/.ATTRIBUTES/VARIABLE_VALUE: not in the checkpoint
  b/.ATTRIBUTES/VARIABLE_VALUE: not in the checkpoint
  v1/.ATTRIBUTES/VARIABLE_VALUE: in the checkpoint but not restored
  v2/.ATTRIBUTES/VARIABLE_VALUE: in the checkpoint but not restored
Fix the names or shapes, pass a name map, or ask for a partial restore.

``partial=True`` is the equivalent of ``expect_partial()``: values the model
does not take are allowed, but a variable the checkpoint lacks, or one of the
wrong shape or dtype, is still an error.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tfpersist._files import glob_safe_prefix
from tfpersist._tf import OBJECT_GRAPH_KEY, TrackableObjectGraph, tf, trackable_children
from tfpersist.bundle import CheckpointReader, load_checkpoint
from tfpersist.checkpoint_state import resolve_prefix
from tfpersist.errors import (
    CorruptCheckpointError,
    Mismatch,
    VariableMismatchError,
    did_you_mean,
)

__all__ = [
    "check_variables",
    "checkpoint_signature",
    "open_reader",
    "reading",
    "restore_checkpoint",
    "restore_session",
    "saver_for",
    "variable_names",
]

Signature = dict[str, tuple[list[int], str]]

SAVE_COUNTER_KEY = "save_counter/.ATTRIBUTES/VARIABLE_VALUE"
#: dtypes assigned from tfpersist's reader; others are restored by TensorFlow.
_DIRECT_DTYPES = frozenset(
    {
        *("bool", "float16", "float32", "float64", "complex64", "complex128"),
        *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    }
)
#: A session restore feeds values of at least _FEED_AT_LEAST bytes itself, in
#: batches of about _BATCH_BYTES; a saver restores the smaller ones faster.
_FEED_AT_LEAST = 1 << 20
_BATCH_BYTES = 64 << 20
#: The savers tfpersist made, per graph and set of variables, so that saving
#: or restoring in a loop does not add ops to the graph each time.
_SAVERS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def reading(prefix: str, reader: CheckpointReader | None = None) -> Iterator[str]:
    """Check a checkpoint on disk, then yield a path TensorFlow can read it by.

    Before TensorFlow touches the checkpoint, its index is read and every
    entry is checked against its shard (no tensor data is read): a missing
    shard, a damaged index or a lying size is a
    :class:`~tfpersist.errors.CorruptCheckpointError` naming the file, not a
    crash or a huge allocation. When TensorFlow then fails to read the data
    (``DataLoss``, ``OutOfRange``, a checksum), the checkpoint is verified
    and the error names the damaged tensor and file. Prefixes with glob
    characters are read through an alias that lasts for the block. Pass
    *reader* when the checkpoint is already open, so its index is read once.

    >>> import os, tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0])).write("m/ckpt")
    >>> os.remove("m/ckpt.data-00000-of-00001")
    >>> with reading("m/ckpt") as path:
    ...     pass
    Traceback (most recent call last):
    ...
    tfpersist.errors.CorruptCheckpointError: checkpoint 'm/ckpt': cannot open 'm/ckpt.data-00000-of-00001', which holds tensor ...: No such file or directory; copy every .data file along with the .index
    """
    (reader or load_checkpoint(prefix)).check_files()
    with glob_safe_prefix(prefix) as readable:
        try:
            yield readable
        except tf.errors.OpError as e:
            from tfpersist.inspecting import verify_checkpoint

            verify_checkpoint(prefix)  # names the damaged tensor and file, if any
            raise CorruptCheckpointError(
                f"TensorFlow cannot read checkpoint {prefix!r} ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''}); `tfpersist verify` found no "
                "damage, so check that the files are readable and were not changed while reading"
            ) from e


@contextlib.contextmanager
def open_reader(prefix: str) -> Iterator[Any]:
    """Open a checkpoint with TensorFlow's reader, with tfpersist's errors.

    A context manager: prefixes with glob characters, which TensorFlow's
    reader cannot open, are read through an alias that lasts for the block.
    The prefix is never taken for a directory, as ``tf.train.load_checkpoint``
    takes ``ram://m/ckpt`` when ``ram://m/ckpt.index`` exists.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0])).write("[m]/ckpt")
    >>> with open_reader("[m]/ckpt") as reader:
    ...     reader.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE").tolist()
    [1.0]
    >>> with open_reader("m/nothing") as reader:
    ...     pass
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: no checkpoint at 'm/nothing': ...
    """
    with reading(prefix) as readable:
        yield tf.compat.v1.train.NewCheckpointReader(readable)


def checkpoint_signature(path: str | os.PathLike[str]) -> Signature:
    """Map each tensor of a checkpoint to its shape and dtype name.

    *path* is a prefix, or a directory meaning its latest checkpoint.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([[1, 2, 3]])).write("model/ckpt")
    >>> checkpoint_signature("model/ckpt")["w/.ATTRIBUTES/VARIABLE_VALUE"]
    ([1, 3], 'int32')
    """
    with load_checkpoint(resolve_prefix(path)) as reader:
        return _signature(reader)


def _signature(reader: CheckpointReader) -> Signature:
    shapes = reader.get_variable_to_shape_map()
    return {name: (shapes[name], reader.entry(name).dtype_name) for name in sorted(shapes)}


def _shape(variable: Any) -> list[int | None]:
    return list(tf.TensorShape(variable.shape).as_list())


def _dtype(variable: Any) -> str:
    return tf.as_dtype(variable.dtype).base_dtype.name


def check_variables(
    prefix: str,
    variables: Mapping[str, Any],
    *,
    partial: bool = False,
    signature: Signature | None = None,
) -> None:
    """Check *variables* (checkpoint name → variable) against checkpoint *prefix*.

    Raises :class:`~tfpersist.errors.VariableMismatchError` listing every
    variable the checkpoint lacks, every value of the wrong shape or dtype
    and, unless *partial*, every checkpoint value nothing takes. Names that
    are close get a "did you mean" hint. Nothing is read but the index.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(v=tf.Variable([1.0])).write("model/ckpt")
    >>> check_variables("model/ckpt", {"v/.ATTRIBUTES/VARIABLE_VALUE": tf.Variable([1.0])})
    >>> check_variables("model/ckpt", {"v/.ATTRIBUTES/VARIABLE_VALUE": tf.Variable([1])})
    Traceback (most recent call last):
    ...
    tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'model/ckpt' (1 problem):
      v/.ATTRIBUTES/VARIABLE_VALUE: dtype int32 expected, checkpoint has float32
    Fix the names or shapes, pass a name map, or ask for a partial restore.
    """
    if signature is None:
        signature = checkpoint_signature(prefix)
    problems = _mismatches(signature, variables, partial=partial)
    if problems:
        raise VariableMismatchError(prefix, problems)


def _mismatches(
    signature: Signature,
    variables: Mapping[str, Any],
    *,
    partial: bool,
    unplaced: Sequence[str] = (),
) -> list[Mismatch]:
    stored = {k: v for k, v in signature.items() if k != OBJECT_GRAPH_KEY}
    problems = [Mismatch("missing", name, hint=did_you_mean(name, stored)) for name in unplaced]
    for name in sorted(variables):
        var = variables[name]
        if name not in stored:
            problems.append(Mismatch("missing", name, hint=did_you_mean(name, stored)))
            continue
        shape, dtype = stored[name]
        want_shape = _shape(var)
        if len(want_shape) != len(shape) or any(
            w is not None and w != s for w, s in zip(want_shape, shape, strict=True)
        ):
            problems.append(Mismatch("shape", name, str(want_shape), str(shape)))
        if _dtype(var) != dtype:
            problems.append(Mismatch("dtype", name, _dtype(var), dtype))
    problems.sort(key=lambda m: m.name)
    if not partial:
        for name in sorted(set(stored) - set(variables)):
            problems.append(
                Mismatch("unexpected", name, hint=did_you_mean(name, [*variables, *unplaced]))
            )
    return problems


def variable_names(var_list: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """Map checkpoint names to variables, as ``tf.compat.v1.train.Saver`` does.

    A dict is taken as it is; a list is keyed by each variable's op name.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default():
    ...     v = tf.Variable(1.0, name="layer/w")
    ...     sorted(variable_names([v]))
    ['layer/w']
    """
    if isinstance(var_list, Mapping):
        return dict(var_list)
    return {v.op.name: v for v in var_list}


def restore_session(
    sess: tf.compat.v1.Session,
    path: str | os.PathLike[str],
    *,
    var_list: Mapping[str, Any] | Sequence[Any] | None = None,
    partial: bool = False,
    direct: bool = True,
    saver: tf.compat.v1.train.Saver | None = None,
) -> str:
    """Restore variables of *sess* from a checkpoint, checking them first.

    *path* is a prefix or a directory (its latest checkpoint). *var_list*
    defaults to every global variable of the session's graph; a dict maps
    checkpoint names to variables. Returns the prefix restored.

    With *direct* (the default), values of 1 MiB or more are read by
    tfpersist's reader, checksums checked, and fed to the variables'
    initialisers in batches of about 64 MiB; ``Saver.restore`` reads every
    value before it assigns any, so into variables that already hold values
    it needs memory for a second copy of them all. Smaller values,
    partitioned variables and dtypes NumPy does not share with TensorFlow
    (bfloat16, strings, quantized types) go through ``Saver.restore``, as
    everything does with ``direct=False``.
    Pass the graph's own *saver*, if it has one over the same variables, to
    restore everything with it instead of with a saver tfpersist makes once
    per graph (making one for a graph imported from a large ``.meta`` is slow).

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     w = tf.Variable([1.0, 2.0], name="w")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(w.initializer)
    ...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
    >>> with tf.Graph().as_default() as graph:
    ...     w = tf.Variable([0.0, 0.0], name="w")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         _ = restore_session(sess, "model/model.ckpt")
    ...         sess.run(w).tolist()
    [1.0, 2.0]
    """
    prefix = resolve_prefix(path)
    with sess.graph.as_default():
        if var_list is None:
            var_list = tf.compat.v1.global_variables()
        variables = variable_names(var_list)
        with load_checkpoint(prefix) as reader:
            check_variables(prefix, variables, partial=partial, signature=_signature(reader))
            fed = {
                name: var
                for name, var in variables.items()
                if direct
                and saver is None
                and reader.nbytes(name) >= _FEED_AT_LEAST
                and _assignable(reader, name, var, sess.graph)
            }
            rest = {name: var for name, var in variables.items() if name not in fed}
            with reading(prefix, reader) as readable:
                _feed(sess, reader, fed)
                if rest:
                    (saver or saver_for(sess.graph, rest)).restore(sess, readable)
    return prefix


def saver_for(
    graph: tf.Graph,
    var_list: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    max_to_keep: int = 5,
) -> tf.compat.v1.train.Saver:
    """A saver over *var_list* (as ``Saver`` takes it), made once per graph.

    Each ``Saver`` adds save and restore ops to the graph, so one made on
    every call grows the graph in a loop; this returns the same saver for the
    same variables, however they are listed (``None`` means every global
    variable). Savers over partitioned variables or other saveable objects
    are made anew. The saver stores relative paths in the state file.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(1.0, name="v")
    ...     saver_for(graph) is saver_for(graph, {"v": v}) is saver_for(graph, [v])
    True
    """
    variables = _plain_variables(graph, var_list)
    if variables is None:
        with graph.as_default():
            return tf.compat.v1.train.Saver(
                var_list=var_list, max_to_keep=max_to_keep, save_relative_paths=True
            )
    key = (max_to_keep, *sorted((name, var.name) for name, var in variables.items()))
    savers = _SAVERS.setdefault(graph, {})
    if key not in savers:
        with graph.as_default():
            savers[key] = tf.compat.v1.train.Saver(
                var_list=variables, max_to_keep=max_to_keep, save_relative_paths=True
            )
    return savers[key]


def _plain_variables(
    graph: tf.Graph, var_list: Mapping[str, Any] | Sequence[Any] | None
) -> dict[str, Any] | None:
    """*var_list* by checkpoint name, or None if it holds more than whole variables."""
    if var_list is None:
        if graph.get_collection(tf.compat.v1.GraphKeys.SAVEABLE_OBJECTS):
            return None
        var_list = graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
    # Checked before naming them: a PartitionedVariable in a list has no op name.
    items = var_list.values() if isinstance(var_list, Mapping) else var_list
    if all(
        isinstance(v, tf.Variable) and getattr(v, "_save_slice_info", None) is None for v in items
    ):
        return variable_names(var_list)
    return None


def _assignable(reader: CheckpointReader, name: str, var: Any, graph: Any = None) -> bool:
    """Whether *var* can take value *name* from tfpersist's reader.

    Sliced and distributed variables, and dtypes NumPy and TensorFlow do not
    share, are left to TensorFlow. In a *graph*, the variable's initial value
    must be feedable.
    """
    entry = reader.entry(name)
    if (
        entry.slices
        or entry.dtype_name not in _DIRECT_DTYPES
        or getattr(var, "_save_slice_info", None) is not None
        or isinstance(var, tf.distribute.DistributedValues)
    ):
        return False
    if graph is None:
        return True
    initializer = getattr(var, "initializer", None)
    return (
        initializer is not None
        and len(initializer.inputs) == 2
        and graph.is_feedable(initializer.inputs[1])
    )


def _feed(sess: Any, reader: CheckpointReader, variables: Mapping[str, Any]) -> None:
    """Assign checkpoint values in *sess* by feeding each variable's initialiser, batch by batch."""
    ops: list[Any] = []
    feeds: dict[Any, Any] = {}
    size = 0
    for name, var in variables.items():
        ops.append(var.initializer)
        # not mapped: TensorFlow may keep the fed buffer as the variable's own
        feeds[var.initializer.inputs[1]] = reader.get_tensor(name, mapped=False)
        size += reader.nbytes(name)
        if size >= _BATCH_BYTES:
            sess.run(ops, feed_dict=feeds)
            ops, feeds, size = [], {}, 0
    if ops:
        sess.run(ops, feed_dict=feeds)


def _object_variables(root: Any, reader: CheckpointReader) -> tuple[dict[str, Any], list[str]]:
    """Match the Python objects under *root* to the checkpoint's object graph.

    Returns the checkpoint keys paired with variables, and the attribute paths
    of Python variables that have no place in the checkpoint.
    """
    graph = TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY).item())
    matched: dict[str, Any] = {}
    seen: set[int] = set()
    queue = [(0, root)]
    while queue:
        node_id, obj = queue.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        for attr in graph.nodes[node_id].attributes:
            if attr.name == "VARIABLE_VALUE":
                matched[attr.checkpoint_key] = obj
        children = trackable_children(obj)
        for ref in graph.nodes[node_id].children:
            if ref.local_name in children:
                queue.append((ref.node_id, children[ref.local_name]))
    taken = {id(v) for v in matched.values()}
    unplaced: dict[int, str] = {}
    stack: list[tuple[str, Any]] = [("", root)]
    visited: set[int] = set()
    while stack:
        path, obj = stack.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        if _is_variable(obj) and id(obj) not in taken:
            unplaced.setdefault(id(obj), path)
        for name, child in trackable_children(obj).items():
            if not (obj is root and name == "save_counter"):
                stack.append((f"{path}/{name}" if path else name, child))
    return matched, sorted(unplaced.values())


def _is_variable(obj: Any) -> bool:
    return isinstance(obj, tf.Variable) or (
        hasattr(obj, "assign") and hasattr(obj, "shape") and hasattr(obj, "dtype")
    )


def restore_checkpoint(
    checkpoint: tf.train.Checkpoint,
    path: str | os.PathLike[str],
    *,
    partial: bool = False,
    direct: bool = True,
) -> str:
    """Restore a TF2 :class:`tf.train.Checkpoint`, checking every variable first.

    *path* is a prefix or a directory (its latest checkpoint). Every variable
    reachable from *checkpoint* must find a value of its shape and dtype;
    unless *partial*, every value in the checkpoint must find a variable too.
    Then ``restore(...).assert_consumed()`` runs (``expect_partial()`` when
    *partial*); a checkpoint made by ``Checkpoint.write``, which has no save
    counter, is loaded with ``read`` instead. Returns the prefix restored.

    With *direct* (the default), when every value has its variable and
    execution is eager, the values are read by tfpersist's reader, checksums
    checked, and assigned one variable at a time: the restore needs memory
    for one value beside the variables, where ``Checkpoint.restore`` holds a
    second copy of them all. Partial restores, which TensorFlow may finish
    later for variables not yet created, and the cases listed in
    :func:`restore_session` are left to ``Checkpoint.restore``.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).save("model/ckpt")
    >>> fresh = tf.train.Checkpoint(w=tf.Variable([0.0, 0.0]))
    >>> restore_checkpoint(fresh, "model")
    'model/ckpt-1'
    >>> fresh.w.numpy().tolist()
    [1.0, 2.0]
    """
    prefix = resolve_prefix(path)
    with load_checkpoint(prefix) as reader:
        full_signature = _signature(reader)
        signature = _without_save_counter(full_signature)
        matched, unplaced = _object_variables(checkpoint, reader)
        matched.pop(SAVE_COUNTER_KEY, None)  # a counter made by an earlier save()
        keys = [f"{p}/.ATTRIBUTES/VARIABLE_VALUE" for p in unplaced]
        problems = _mismatches(signature, matched, partial=partial, unplaced=keys)
        if problems:
            raise VariableMismatchError(prefix, problems)
        if (
            direct
            and not partial
            and tf.executing_eagerly()
            and all(_assignable(reader, name, var) for name, var in matched.items())
        ):
            reader.check_files()
            for name, var in matched.items():
                var.assign(reader.get_tensor(name, mapped=False))
            if SAVE_COUNTER_KEY in full_signature:
                checkpoint.save_counter.assign(reader.get_tensor(SAVE_COUNTER_KEY))
            return prefix
        # write() leaves out the save counter, which restore() would create and miss.
        load = checkpoint.read if len(signature) == len(full_signature) else checkpoint.restore
        with reading(prefix, reader) as readable:
            status = load(readable)
            if partial:
                status.expect_partial()
            else:
                try:
                    status.assert_consumed()
                except AssertionError as e:
                    raise VariableMismatchError(prefix, [Mismatch("unexpected", str(e))]) from e
    return prefix


def _without_save_counter(signature: Signature) -> Signature:
    # Checkpoint.save() adds a counter that a fresh Checkpoint creates on restore.
    return {k: v for k, v in signature.items() if not k.startswith("save_counter/")}
