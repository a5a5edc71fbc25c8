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

The checkpoint is matched the way TensorFlow matches it: by walking its
object graph from the root, child by child, and through each optimizer's
slot variables. What is not a variable (a ``tf.data`` iterator's position,
a lookup table's keys and values, a slot the optimizer has not made yet) is
handed to TensorFlow to restore, and ``assert_consumed()`` still checks it;
the variables beside it are checked first, as always:

>>> it = iter(tf.data.Dataset.range(5))
>>> _ = next(it)
>>> path = tf.train.Checkpoint(it=it, w=tf.Variable([1.0])).write("tf2/it")
>>> fresh = iter(tf.data.Dataset.range(5))
>>> restoring.restore_checkpoint(tf.train.Checkpoint(it=fresh, w=tf.Variable([0.0])), path)
'tf2/it'
>>> int(next(fresh))
1

TensorFlow makes a slot the optimizer has not made yet in the shape of its
saved value. The slots of TensorFlow's and Keras's own optimizers have
their variable's shape, so for those that shape is checked first too.

A checkpoint written by a TF1 ``Saver`` has no object graph.
``Checkpoint.restore`` then matches each variable by its graph name
(``dense/kernel`` for ``dense/kernel:0``), and so does
:func:`restore_checkpoint`: the variables under the root are checked by
those names first (unless *partial*, every value must find one), and the
rest, tables say, is left to TensorFlow and ``assert_consumed()``:

>>> with tf.Graph().as_default() as graph:
...     w = tf.Variable([5.0], name="dense/w")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(w.initializer)
...         _ = tf.compat.v1.train.Saver().save(sess, "tf1/model.ckpt")
>>> w = tf.Variable([0.0], name="dense/w")
>>> restoring.restore_checkpoint(tf.train.Checkpoint(layer=w), "tf1/model.ckpt")
'tf1/model.ckpt'
>>> w.numpy().tolist()
[5.0]

In a TF1 graph, a partitioned variable (``name/part_0``, ``name/part_1``, ...)
is checked as the one value the checkpoint holds: by its full name, full
shape and dtype. A lookup table (``MutableHashTable``) is a saveable object:
``Saver()`` saves and restores it beside the variables, and so does
:func:`restore_session`, once the names and dtypes of its keys and values
are checked. A variable declared with an unknown rank or dimension
(``shape=tf.TensorShape(None)``) fits a value of any shape there, as in
TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tfpersist._files import glob_safe_prefix
from tfpersist._layout import OBJECT_GRAPH_KEY, VARIABLE_VALUE, resolve_prefix
from tfpersist._savers import (
    Declared,
    default_list,
    is_variable,
    saver_for,
    spec_shape,
    variable_names,
)
from tfpersist._suggest import did_you_mean
from tfpersist._tf import TrackableObjectGraph, tf, trackable_children
from tfpersist.bundle import CheckpointReader, load_checkpoint
from tfpersist.errors import (
    CorruptCheckpointError,
    Mismatch,
    NothingToRestoreError,
    VariableMismatchError,
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

SAVE_COUNTER_KEY = "save_counter" + VARIABLE_VALUE
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
            with load_checkpoint(prefix) as checked:
                checked.verify()  # names the damaged tensor and file, if any
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


def _shape(variable: Any) -> list[int | None] | None:
    """The shape of *variable*; None when even its rank is unknown: it takes any value."""
    if isinstance(variable, list):  # the slices of a partitioned variable: the full shape
        return list(variable[0]._save_slice_info.full_shape)
    shape = tf.TensorShape(variable.shape)
    return None if shape.rank is None else shape.as_list()


def _dtype(variable: Any) -> str:
    if isinstance(variable, list):
        variable = variable[0]
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
    and, unless *partial*, every checkpoint value nothing takes; also every
    name mapped to something that is not a variable, and every variable
    listed under two names (TensorFlow refuses to restore it twice). Names
    that are close get a "did you mean" hint. Nothing is read but the index.
    A variable of unknown rank or dimension fits any value there.

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
    listing = _listing_problems(variables)
    if listing:
        raise VariableMismatchError(prefix, listing)
    if signature is None:
        signature = checkpoint_signature(prefix)
    problems = _mismatches(signature, variables, partial=partial)
    if problems:
        raise VariableMismatchError(prefix, problems)


def _listing_problems(variables: Mapping[str, Any]) -> list[Mismatch]:
    """The names of a map that hold no variable, or a variable another name holds too."""
    problems: list[Mismatch] = []
    first: dict[Any, str] = {}
    for name in sorted(variables):
        var = variables[name]
        if isinstance(var, Declared):  # traced from a saver, or a saveable object's value
            continue
        parts = var if isinstance(var, list) else [var]
        odd = next((p for p in parts if not is_variable(p)), None)
        if odd is not None:
            problems.append(Mismatch("type", name, found=type(odd).__name__))
            continue
        for part in parts:
            if _identity(part) in first:
                problems.append(Mismatch("duplicate", name, found=first[_identity(part)]))
                break
            first[_identity(part)] = name
    return problems


def _identity(variable: Any) -> Any:
    """What tells a variable apart: its name in its graph, or the Python object when eager."""
    try:
        return ("graph", id(variable.graph), variable.name)
    except (AttributeError, RuntimeError):  # an eager variable has no graph
        return ("eager", id(variable))


def _mismatches(
    signature: Signature,
    variables: Mapping[str, Any],
    *,
    partial: bool,
    unplaced: Sequence[str] = (),
    taken: Collection[str] = (),
    misplaced: Mapping[str, str] | None = None,
) -> list[Mismatch]:
    """Every problem of *variables* against *signature*; *taken* keys are left to TensorFlow.

    *misplaced* maps a key the checkpoint holds under another object to that
    object's path: the key is reported once, not as both missing and unread.
    """
    stored = {k: v for k, v in signature.items() if k != OBJECT_GRAPH_KEY}
    misplaced = misplaced or {}
    problems = [Mismatch("missing", name, hint=did_you_mean(name, stored)) for name in unplaced]
    problems += [Mismatch("misplaced", name, found=path) for name, path in misplaced.items()]
    for name in sorted(variables):
        var = variables[name]
        if name not in stored:
            problems.append(Mismatch("missing", name, hint=did_you_mean(name, stored)))
            continue
        shape, dtype = stored[name]
        want_shape, want_dtype = _shape(var), _dtype(var)
        if want_shape is not None and (
            len(want_shape) != len(shape)
            or any(w is not None and w != s for w, s in zip(want_shape, shape, strict=True))
        ):
            problems.append(Mismatch("shape", name, str(want_shape), str(shape)))
        if want_dtype != dtype:
            problems.append(Mismatch("dtype", name, want_dtype, dtype))
    problems.sort(key=lambda m: m.name)
    if not partial:
        for name in sorted(set(stored) - set(variables) - set(taken) - set(misplaced)):
            problems.append(
                Mismatch("unexpected", name, hint=did_you_mean(name, [*variables, *unplaced]))
            )
    return problems


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
    Like ``Saver()``, the default restores the graph's saveable objects too
    (the keys and values of a ``MutableHashTable``): their names and dtypes
    are checked, and TensorFlow's saver restores them. An empty *var_list*,
    or a graph with nothing to restore, raises
    :class:`~tfpersist.errors.NothingToRestoreError`.

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
        if var_list is not None:
            variables = variable_names(var_list)
        else:
            restored = _restored_by(saver, sess.graph) if saver is not None else None
            variables = restored or variable_names(default_list(sess.graph))
        if not variables:
            raise NothingToRestoreError(
                f"nothing to restore from {prefix!r}: "
                + (
                    "the variable list is empty"
                    if var_list is not None
                    else "the graph has no variables"
                )
                + "; pass the variables to restore (a dict maps checkpoint names to them)"
            )
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


_RESTORE_OPS = frozenset({"RestoreV2", "RestoreSlice", "Restore"})
_ASSIGN_OPS = frozenset({"Assign", "AssignVariableOp"})


def _restored_by(saver: Any, graph: Any) -> dict[str, Declared] | None:
    """The checkpoint names a graph's *saver* restores, each with what it assigns to.

    A saver may cover fewer variables than the graph holds (a ``global_step``
    left out, say); it is checked for what it restores, as ``Saver.restore``
    reads. A partitioned value is checked by its full shape. None when the
    restore op cannot be traced.
    """
    saver_def = getattr(saver, "saver_def", None)
    if saver_def is None:
        return None
    try:
        restore = graph.get_operation_by_name(saver_def.restore_op_name)
    except (AttributeError, KeyError, ValueError):
        return None
    found: dict[str, Declared] = {}
    decoded: dict[str, Any] = {}  # a restore op's names, specs and dtypes, decoded once
    seen, stack = set(), [restore]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type in _ASSIGN_OPS:
            entry = _restored_entry(op, decoded)
            if entry is None:
                return None
            found[entry[0]] = entry[1]
            continue
        for value in op.inputs:  # a saveable object's own restore (a table's import, ...)
            if value.op.type in _RESTORE_OPS:
                source = _restored_value(value, decoded)
                if source is None:
                    return None
                found[source[0]] = Declared(spec_shape(source[1]), source[2])
        stack.extend(op.control_inputs)
        stack.extend(t.op for t in op.inputs if t.op.type not in _RESTORE_OPS)
    return found or None


def _restored_value(value: Any, decoded: dict[str, Any]) -> tuple[str, str, Any] | None:
    """The checkpoint name, slice spec and dtype of an output of a restore op.

    *decoded* keeps each restore op's inputs and attribute once decoded: a
    saver's one ``RestoreV2`` serves every variable.
    """
    restore = value.op
    if restore.name not in decoded:
        names = _constant(restore.inputs[1])
        specs = _constant(restore.inputs[2]) if len(restore.inputs) > 2 else None
        dtypes = restore.get_attr("dtypes") if restore.type == "RestoreV2" else None
        decoded[restore.name] = (
            None if names is None else names.reshape(-1),
            None if specs is None else specs.reshape(-1),
            dtypes,
        )
    names, specs, dtypes = decoded[restore.name]
    if names is None:
        return None
    index = value.value_index if dtypes is not None else 0
    name = names[index].decode("utf-8", "surrogateescape")
    spec = specs[index].decode() if specs is not None else ""
    return name, spec, dtypes[index] if dtypes is not None else value.dtype


def _restored_entry(assign: Any, decoded: dict[str, Any]) -> tuple[str, Declared] | None:
    """The checkpoint name and declared variable an assign op of a restore op takes."""
    value = assign.inputs[1]
    while value.op.type == "Identity":
        value = value.op.inputs[0]
    if value.op.type not in _RESTORE_OPS:
        return None
    source = _restored_value(value, decoded)
    if source is None:
        return None
    name, spec, dtype = source
    if spec:  # "DIM0 DIM1 SLICE": the full value's shape
        return name, Declared(spec_shape(spec), dtype)
    target = assign.inputs[0]
    if assign.type == "AssignVariableOp":
        handle = target.op
        shape = handle.get_attr("shape") if handle.type == "VarHandleOp" else None
        return name, Declared(shape, dtype)
    return name, Declared(target.shape, target.dtype.base_dtype)


def _constant(tensor: Any) -> Any:
    """The value of a ``Const`` input, or None."""
    if tensor.op.type != "Const":
        return None
    return np.asarray(tf.make_ndarray(tensor.op.get_attr("value")))


def _assignable(reader: CheckpointReader, name: str, var: Any, graph: Any = None) -> bool:
    """Whether *var* can take value *name* from tfpersist's reader.

    Sliced and distributed variables, saveable objects, and dtypes NumPy and
    TensorFlow do not share, are left to TensorFlow. In a *graph*, the
    variable's initial value must be feedable with the value's shape.
    """
    entry = reader.entry(name)
    if (
        isinstance(var, list | Declared)
        or entry.slices
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
        and initializer.inputs[1].shape.is_compatible_with(entry.shape)
    )


def _feed(sess: Any, reader: CheckpointReader, variables: Mapping[str, Any]) -> None:
    """Assign checkpoint values in *sess* by feeding each variable's initialiser, batch by batch.

    Initialisers that share their initial value (two variables made from one
    tensor) run in different batches: a tensor is fed one value per run.
    """
    ops: list[Any] = []
    feeds: dict[str, tuple[Any, Any]] = {}
    size = 0
    for name, var in variables.items():
        tensor = var.initializer.inputs[1]
        if tensor.name in feeds or size >= _BATCH_BYTES:
            sess.run(ops, feed_dict=dict(feeds.values()))
            ops, feeds, size = [], {}, 0
        ops.append(var.initializer)
        # not mapped: TensorFlow may keep the fed buffer as the variable's own
        feeds[tensor.name] = (tensor, reader.get_tensor(name, mapped=False))
        size += reader.nbytes(name)
    if ops:
        sess.run(ops, feed_dict=dict(feeds.values()))


class _ObjectMatch:
    """The Python objects under a root, matched to a checkpoint's object graph as TensorFlow does.

    *variables* pairs checkpoint keys with the variables that take them;
    *taken* holds the keys of objects tfpersist does not check (iterators,
    tables, slots not made yet), left to TensorFlow; *unmade* maps the key of
    a slot not made yet to its variable, when the optimizer makes slots of
    its variables' shape; *unplaced* lists the attribute paths of Python
    variables with no value in the checkpoint; *misplaced* maps the key such
    a path would have, when the checkpoint holds it under another object, to
    that object's path.
    """

    def __init__(self, root: Any, reader: CheckpointReader) -> None:
        graph = TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY).item())
        stored = set(reader.get_variable_to_shape_map())
        self.variables: dict[str, Any] = {}
        self.taken: set[str] = set()
        self.unmade: dict[str, Any] = {}
        self._given: set[int] = set()  # the objects that take a value
        objects: dict[int, Any] = {}
        queue = [(0, root)]
        while queue:
            node_id, obj = queue.pop()
            if node_id in objects:
                continue
            objects[node_id] = obj
            node = graph.nodes[node_id]
            self._attributes(node, obj, stored)
            children = trackable_children(obj)
            for ref in node.children:
                if ref.local_name in children:
                    queue.append((ref.node_id, children[ref.local_name]))
        # Slot variables hang off an optimizer: get_slot finds those already made.
        for node_id, optimizer in list(objects.items()):
            for slot in graph.nodes[node_id].slot_variables:
                original = objects.get(slot.original_variable_node_id)
                if original is None or slot.slot_variable_node_id in objects:
                    continue  # no variable to hang it on: its value is left unread
                variable = _get_slot(optimizer, original, slot.slot_name)
                node = graph.nodes[slot.slot_variable_node_id]
                if variable is not None:
                    objects[slot.slot_variable_node_id] = variable
                elif is_variable(original) and _same_shape_slots(optimizer):
                    # TensorFlow would make the slot in the shape of its saved value
                    self.unmade.update(
                        (a.checkpoint_key, original)
                        for a in node.attributes
                        if a.name == "VARIABLE_VALUE"
                    )
                self._attributes(node, variable, stored)
        self.unplaced, self.misplaced = self._unplaced(root, graph, stored)

    def _attributes(self, node: Any, obj: Any, stored: set[str]) -> None:
        for attr in node.attributes:
            key = attr.checkpoint_key
            if attr.name != "VARIABLE_VALUE":  # the object restores itself (table-keys, ...)
                self.taken.update(
                    k for k in stored if k.startswith(key) and "/" not in k[len(key) :]
                )
                self._given.add(id(obj))
            elif obj is None:  # a slot the optimizer makes when TensorFlow restores it
                self.taken.add(key)
            elif is_variable(obj):
                self.variables[key] = obj
                self._given.add(id(obj))

    def _unplaced(
        self, root: Any, graph: Any, stored: set[str]
    ) -> tuple[list[str], dict[str, str]]:
        paths = _node_paths(graph)
        owner = {
            attr.checkpoint_key: paths[i]
            for i, node in enumerate(graph.nodes)
            for attr in node.attributes
            if i in paths
        }
        unplaced: dict[int, str] = {}
        for path, obj in _reachable(root):
            if is_variable(obj) and id(obj) not in self._given:  # matched or not, no value
                unplaced.setdefault(id(obj), path)
        missing, misplaced = [], {}
        for path in sorted(unplaced.values()):
            key = path + VARIABLE_VALUE
            if key in stored:  # the object graph puts it elsewhere, or nowhere
                misplaced[key] = owner.get(key, "")
            else:
                missing.append(key)
        return missing, misplaced


def _reachable(root: Any) -> Iterator[tuple[str, Any]]:
    """Each object under *root* once, with an attribute path to it; the save counter left out."""
    stack: list[tuple[str, Any]] = [("", root)]
    visited: set[int] = set()
    while stack:
        path, obj = stack.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        yield path, obj
        for name, child in trackable_children(obj).items():
            if not (obj is root and name == "save_counter"):
                stack.append((f"{path}/{name}" if path else name, child))


#: The packages whose optimizers make every slot in its variable's shape.
_SLOT_PACKAGES = frozenset({"tensorflow", "keras", "tf_keras"})


def _same_shape_slots(optimizer: Any) -> bool:
    """Whether *optimizer* is TensorFlow's or Keras's own, whose slots have their variable's shape."""
    return type(optimizer).__module__.partition(".")[0] in _SLOT_PACKAGES


def _node_paths(graph: Any) -> dict[int, str]:
    """The attribute path of each node of an object graph, by its shortest route from the root."""
    paths = {0: ""}
    queue = [0]
    for node_id in queue:
        for ref in graph.nodes[node_id].children:
            if ref.node_id not in paths:
                base = paths[node_id]
                paths[ref.node_id] = f"{base}/{ref.local_name}" if base else ref.local_name
                queue.append(ref.node_id)
    return paths


def _get_slot(optimizer: Any, variable: Any, name: str) -> Any:
    """The slot *name* of *variable* that *optimizer* already made, or None."""
    if variable is None or not hasattr(optimizer, "get_slot"):
        return None
    try:
        return optimizer.get_slot(variable, name)
    except (KeyError, ValueError, AttributeError):  # not made yet (Keras raises KeyError)
        return None


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
    counter, is loaded with ``read`` instead. A name-based checkpoint (a TF1
    ``Saver``'s) is matched by the variables' graph names, as TensorFlow
    matches it (see above). Returns the prefix restored.

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
        if OBJECT_GRAPH_KEY not in full_signature:
            return _restore_by_name(checkpoint, prefix, reader, full_signature, partial)
        signature = _without_save_counter(full_signature)
        found = _ObjectMatch(checkpoint, reader)
        matched = found.variables
        matched.pop(SAVE_COUNTER_KEY, None)  # a counter made by an earlier save()
        problems = _mismatches(
            signature,
            matched,
            partial=partial,
            unplaced=found.unplaced,
            taken=found.taken,
            misplaced=found.misplaced,
        )
        unmade = _mismatches(signature, found.unmade, partial=True)
        problems += [m for m in unmade if m.kind == "shape"]
        problems.sort(key=lambda m: (m.kind == "unexpected", m.name))
        if problems:
            raise VariableMismatchError(prefix, problems)
        if (
            direct
            and not partial
            and not found.taken
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
            _check_status(load(readable), prefix, partial, "unexpected")
    return prefix


def _check_status(status: Any, prefix: str, partial: bool, kind: str) -> None:
    """``expect_partial()`` or ``assert_consumed()``, its failure a *kind* of mismatch."""
    if partial:
        status.expect_partial()
        return
    try:
        status.assert_consumed()
    except AssertionError as e:
        raise VariableMismatchError(prefix, [Mismatch(kind, str(e))]) from e


def _restore_by_name(
    checkpoint: Any, prefix: str, reader: CheckpointReader, signature: Signature, partial: bool
) -> str:
    """Restore a name-based checkpoint (a TF1 ``Saver``'s) as TensorFlow does: by global names.

    Each variable under *checkpoint* takes the value named as its graph name
    (``dense/kernel`` for ``dense/kernel:0``); they are checked first. The
    rest (tables, slots) is left to TensorFlow's ``assert_consumed()``.
    """
    problems: dict[Mismatch, None] = {}
    names: set[str] = set()
    for _, var in _reachable(checkpoint):
        if is_variable(var) and isinstance(getattr(var, "name", None), str):
            name = var.name[:-2] if var.name.endswith(":0") else var.name
            names.add(name)
            problems.update(dict.fromkeys(_mismatches(signature, {name: var}, partial=True)))
    if not partial:
        problems.update(
            (Mismatch("unexpected", name, hint=did_you_mean(name, names)), None)
            for name in sorted(set(signature) - names)
        )
    if problems:
        raise VariableMismatchError(prefix, list(problems))
    with reading(prefix, reader) as readable:
        _check_status(checkpoint.restore(readable), prefix, partial, "missing")
    return prefix


def _without_save_counter(signature: Signature) -> Signature:
    # Checkpoint.save() adds a counter that a fresh Checkpoint creates on restore.
    return {k: v for k, v in signature.items() if not k.startswith("save_counter/")}
