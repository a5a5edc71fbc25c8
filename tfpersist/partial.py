"""Saving and restoring a subset of variables, under other names.

A checkpoint stores values by *name*, and the name need not be the one the
variable has in the graph. ``tf.compat.v1.train.Saver`` takes a dict, a name
mapping (名称映射), from checkpoint name to variable. The article's example:
its variables are called ``other-v1`` and ``other-v2`` in the graph, yet
``Saver({"v1": v1, "v2": v2})`` saves and restores them as ``v1`` and ``v2``,
the names an earlier program used. The same dict with fewer entries saves or
restores only part of the variables (部分变量). This is how weights move
between models whose names differ: fine-tuning a pretrained network, or
renaming a scope.

A name map is also the easiest place to make a mistake: a typo, a variable
that does not exist in the checkpoint, a layer that changed shape.
:func:`check_name_map` checks a map against a checkpoint and reports every
problem at once, with near names ("did you mean ..."), before anything is
restored.

.. rubric:: TF1 style: ``Saver`` with a name map

The article's first program saves ``v1`` and ``v2``:

>>> import tensorflow as tf
>>> from tfpersist import partial, saving
>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         _ = saving.save_session(sess, "model/model.ckpt")

A second program names its variables ``other-v1`` and ``other-v2``, and
restores them from ``v1`` and ``v2`` through the name map:

>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(0.0, shape=[1]), name="other-v1")
...     v2 = tf.Variable(tf.constant(0.0, shape=[1]), name="other-v2")
...     result = v1 + v2
...     with tf.compat.v1.Session(graph=graph) as sess:
...         _ = partial.restore_subset(sess, "model/model.ckpt", {"v1": v1, "v2": v2})
...         print(sess.run(result).tolist())
[3.0]

Without the map, the graph names are looked up, and the error lists all that
is wrong, each with the name it probably meant:

>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(0.0, shape=[1]), name="other-v1")
...     v2 = tf.Variable(tf.constant(0.0, shape=[2]), name="v2")
...     partial.check_name_map("model/model.ckpt", {"other-v1": v1, "v2": v2})
Traceback (most recent call last):
...
tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'model/model.ckpt' (2 problems):
  other-v1: not in the checkpoint (did you mean 'v1'?)
  v2: shape [2] expected, checkpoint has [1]
Fix the names or shapes, pass a name map, or ask for a partial restore.

Saving works the same way: :func:`tfpersist.saving.save_session` with a dict
as ``var_list`` writes the variables under the names of the dict.

.. rubric:: TF2 style: a subset ``Checkpoint``, ``expect_partial``, values by name

In TF2 the "names" are attribute paths. A :class:`tf.train.Checkpoint`
built with only some of the attributes restores only those; the rest of
the file is left unread, which is what ``expect_partial()`` (tfpersist:
``partial=True``) allows:

>>> from tfpersist import restoring
>>> full = tf.train.Checkpoint(v1=tf.Variable([1.0]), v2=tf.Variable([2.0]))
>>> path = full.save("tf2/ckpt")
>>> subset = tf.train.Checkpoint(v1=tf.Variable([0.0]))
>>> restoring.restore_checkpoint(subset, "tf2", partial=True)
'tf2/ckpt-1'
>>> subset.v1.numpy().tolist()
[1.0]

To set variables from a checkpoint by key, whatever the Python objects are
called (the TF2 form of ``init_from_checkpoint``), use
:func:`assign_from_checkpoint`:

>>> other = tf.Variable([0.0], name="other-v2")
>>> partial.assign_from_checkpoint("tf2", {"v2/.ATTRIBUTES/VARIABLE_VALUE": other})
>>> other.numpy().tolist()
[2.0]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tfpersist._layout import resolve_prefix
from tfpersist._tf import tf
from tfpersist.errors import NothingToRestoreError, SessionRequiredError
from tfpersist.restoring import check_variables, open_reader, restore_session

__all__ = ["assign_from_checkpoint", "check_name_map", "restore_subset"]


def check_name_map(
    path: str | os.PathLike[str], name_map: Mapping[str, Any], *, partial: bool = True
) -> str:
    """Check a name map (checkpoint name → variable) against a checkpoint.

    Every name must be in the checkpoint with the variable's shape and dtype.
    Checkpoint entries the map leaves out are fine, unless *partial* is
    false: then each is reported as unexpected. Raises
    :class:`~tfpersist.errors.VariableMismatchError` listing every problem.
    Returns the checkpoint prefix.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0]), b=tf.Variable([0.0])).write("m/ckpt")
    >>> check_name_map("m/ckpt", {"w/.ATTRIBUTES/VARIABLE_VALUE": tf.Variable([5.0])})
    'm/ckpt'
    >>> check_name_map("m/ckpt", {"w/.ATTRIBUTES/VARIABLE_VALUE": tf.Variable([5.0])}, partial=False)
    Traceback (most recent call last):
    ...
    tfpersist.errors.VariableMismatchError: variables do not match checkpoint 'm/ckpt' (1 problem):
      b/.ATTRIBUTES/VARIABLE_VALUE: in the checkpoint but not restored
    Fix the names or shapes, pass a name map, or ask for a partial restore.
    """
    prefix = resolve_prefix(path)
    check_variables(prefix, name_map, partial=partial)
    return prefix


def restore_subset(
    sess: tf.compat.v1.Session,
    path: str | os.PathLike[str],
    name_map: Mapping[str, Any],
    *,
    partial: bool = True,
) -> str:
    """Restore the variables of *name_map* (checkpoint name → variable) into *sess*.

    The map is checked as in :func:`check_name_map` (with *partial*, the
    checkpoint may hold more); variables outside it are left alone. An empty
    map raises :class:`~tfpersist.errors.NothingToRestoreError`, as
    ``Saver({})`` refuses. Returns the checkpoint prefix.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     a = tf.Variable(1.0, name="a")
    ...     b = tf.Variable(2.0, name="b")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(tf.compat.v1.global_variables_initializer())
    ...         _ = tf.compat.v1.train.Saver().save(sess, "m/model.ckpt")
    >>> with tf.Graph().as_default() as graph:
    ...     x = tf.Variable(0.0, name="x")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         _ = restore_subset(sess, "m/model.ckpt", {"b": x})
    ...         sess.run(x).item()
    2.0
    """
    return restore_session(sess, path, var_list=dict(name_map), partial=partial)


def assign_from_checkpoint(
    path: str | os.PathLike[str],
    name_map: Mapping[str, Any],
    *,
    sess: tf.compat.v1.Session | None = None,
) -> None:
    """Assign checkpoint values to variables by checkpoint key, now.

    The map (checkpoint key → variable) is checked first, so a wrong shape or
    dtype, or a value that is not a variable, raises
    :class:`~tfpersist.errors.VariableMismatchError` and no variable changes.
    An empty map raises :class:`~tfpersist.errors.NothingToRestoreError`.

    >>> import tensorflow as tf
    >>> _ = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write("m/ckpt")
    >>> mine = tf.Variable([0.0, 0.0])
    >>> assign_from_checkpoint("m/ckpt", {"w/.ATTRIBUTES/VARIABLE_VALUE": mine})
    >>> mine.numpy().tolist()
    [1.0, 2.0]

    Variables of a ``tf.Graph`` change only when a session runs the
    assignment: pass that session as *sess* (or make it the default
    session). Without one, nothing could be assigned, so
    :class:`~tfpersist.errors.SessionRequiredError` is raised rather than
    returning as if it were done:

    >>> with tf.Graph().as_default() as graph:
    ...     mine = tf.Variable([0.0, 0.0])
    ...     assign_from_checkpoint("m/ckpt", {"w/.ATTRIBUTES/VARIABLE_VALUE": mine})
    Traceback (most recent call last):
    ...
    tfpersist.errors.SessionRequiredError: the variables live in a tf.Graph, and no session was given to assign them in: pass sess=..., or call tfpersist.partial.restore_subset(sess, path, name_map)
    >>> with tf.Graph().as_default() as graph:
    ...     mine = tf.Variable([0.0, 0.0])
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         assign_from_checkpoint(
    ...             "m/ckpt", {"w/.ATTRIBUTES/VARIABLE_VALUE": mine}, sess=sess)
    ...         sess.run(mine).tolist()
    [1.0, 2.0]
    """
    if not name_map:
        raise NothingToRestoreError(
            "the name map is empty, so nothing would be assigned; "
            "map checkpoint keys to the variables that take them"
        )
    if not tf.executing_eagerly() or any(_in_graph(v) for v in name_map.values()):
        sess = sess or tf.compat.v1.get_default_session()
        if sess is None:
            raise SessionRequiredError(
                "the variables live in a tf.Graph, and no session was given to assign them in: "
                "pass sess=..., or call tfpersist.partial.restore_subset(sess, path, name_map)"
            )
        if any(getattr(v, "graph", sess.graph) is not sess.graph for v in name_map.values()):
            raise SessionRequiredError(
                "the session given runs another graph than the variables' own: "
                "pass a session made with tf.compat.v1.Session(graph=<their graph>)"
            )
        restore_subset(sess, path, name_map)
        return
    prefix = check_name_map(path, name_map)
    with open_reader(prefix) as reader:
        values = {name: reader.get_tensor(name) for name in name_map}
    for name, var in name_map.items():
        var.assign(values[name])


def _in_graph(variable: Any) -> bool:
    """Whether *variable* belongs to a ``tf.Graph`` (an eager variable has no op)."""
    return hasattr(variable, "op")
