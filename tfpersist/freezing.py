"""The whole graph in one file: freezing to a ``.pb`` and loading it back.

A checkpoint needs the code (or the ``.meta``) to be useful, and it comes as
several files. For shipping a model for inference, one file that holds both
the graph and the values is handier. *Freezing* (冻结) a graph turns every
variable into a constant (常量) holding its current value, and keeps only the
nodes needed to compute the outputs you name. The result is a plain
``GraphDef`` (计算图定义), written as one binary ``.pb`` file: a frozen graph
(冻结图). The article does this with
``graph_util.convert_variables_to_constants(sess, graph_def, ['add'])`` and
loads it back with ``tf.import_graph_def(graph_def, return_elements=["add:0"])``.

tfpersist adds what that script leaves out:

* an output name that is not in the graph gets a
  :class:`~tfpersist.errors.NodeNotFoundError` listing close names, instead of
  an assertion deep inside TensorFlow;
* a graph larger than protobuf's 2 GiB limit is refused with
  :class:`~tfpersist.errors.GraphTooLargeError` before anything is written;
* the ``.pb`` is written atomically: it appears whole or not at all, and an
  older file of the same name survives a crash.

To freeze what is on disk, a checkpoint with its ``.meta`` or a SavedModel,
use ``tfpersist freeze`` or :func:`tfpersist.freezer.freeze_checkpoint`.

.. rubric:: TF1 style: ``convert_variables_to_constants``

>>> import tensorflow as tf
>>> from tfpersist import freezing
>>> with tf.Graph().as_default() as graph:
...     v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
...     result = v1 + v2
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(tf.compat.v1.global_variables_initializer())
...         frozen = freezing.freeze_session(sess, ["add"])
>>> {node.op for node in frozen.node} & {"VarHandleOp", "VariableV2", "ReadVariableOp"}
set()
>>> freezing.write_graph_def(frozen, "model/combined_model.pb")
'model/combined_model.pb'

No variable op is left: the values of ``v1`` and ``v2`` now sit in ``Const``
nodes, and the graph needs no checkpoint and no initialiser. Loading it back is parsing the ``GraphDef`` and importing it
into a graph. By default ``import_graph_def`` puts every name under
``import/``:

>>> graph_def = freezing.read_graph_def("model/combined_model.pb")
>>> with tf.Graph().as_default() as graph:
...     [add] = freezing.import_graph(graph_def, ["add:0"])
...     with tf.compat.v1.Session(graph=graph) as sess:
...         print(add.name, sess.run(add).tolist())
import/add:0 [3.0]

A misspelt output is caught before TensorFlow sees it:

>>> with tf.Graph().as_default() as graph:
...     freezing.import_graph(graph_def, ["ad:0"])
Traceback (most recent call last):
...
tfpersist.errors.NodeNotFoundError: node 'ad' is not in the graph (did you mean 'add'?); it has 5 nodes: ...

.. rubric:: TF2 style: ``convert_variables_to_constants_v2``

In TF2 the graph lives in a :func:`tf.function`. Freeze one of its concrete
functions, and load the ``.pb`` back as a callable with
:func:`load_frozen_function`, which wraps the imported graph
(``wrap_function``) and prunes it to the inputs and outputs you name:

>>> w = tf.Variable([[2.0], [3.0]])
>>> @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
... def predict(x):
...     return tf.matmul(x, w, name="y")
>>> frozen = freezing.freeze_function(predict.get_concrete_function())
>>> "ReadVariableOp" in {node.op for node in frozen.node}
False
>>> _ = freezing.write_graph_def(frozen, "tf2/predict.pb")
>>> f = freezing.load_frozen_function("tf2/predict.pb", inputs=["x:0"], outputs=["Identity:0"])
>>> f(tf.constant([[1.0, 1.0]])).numpy().tolist()
[[5.0]]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from tfpersist import _fs
from tfpersist._files import atomic_write
from tfpersist._graphfile import node_name
from tfpersist._suggest import did_you_mean
from tfpersist._tf import (
    convert_variables_to_constants_v2,
    tf,
)
from tfpersist.errors import (
    CheckpointNotFoundError,
    GraphFormatError,
    GraphTooLargeError,
    NodeNotFoundError,
)
from tfpersist.safety import audit_graph

__all__ = [
    "MAX_GRAPH_BYTES",
    "check_nodes",
    "freeze_function",
    "freeze_session",
    "import_graph",
    "load_frozen_function",
    "read_graph_def",
    "write_graph_def",
]

#: Protocol buffers cannot serialise a message of 2 GiB or more.
MAX_GRAPH_BYTES = 2**31 - 1


def check_nodes(graph_def: Any, names: Sequence[str]) -> None:
    """Raise :class:`~tfpersist.errors.NodeNotFoundError` unless every name is in *graph_def*.

    Names may be node names (``add``) or tensor names (``add:0``). The error
    lists close names, so a typo is easy to fix.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     total = tf.add(1.0, 2.0, name="total")
    >>> check_nodes(graph.as_graph_def(), ["total:0"])
    >>> check_nodes(graph.as_graph_def(), ["totl"])
    Traceback (most recent call last):
    ...
    tfpersist.errors.NodeNotFoundError: node 'totl' is not in the graph (did you mean 'total'?); it has 3 nodes: total, total/x, total/y
    """
    present = [node.name for node in graph_def.node]
    known = set(present)
    for name in names:
        node = node_name(name)
        if node not in known:
            hint = did_you_mean(node, present)
            shown = ", ".join(sorted(present)[:10]) + (", ..." if len(present) > 10 else "")
            raise NodeNotFoundError(
                f"node {node!r} is not in the graph{hint}; it has {len(present)} nodes: {shown}"
            )


def freeze_session(sess: tf.compat.v1.Session, output_names: Sequence[str]) -> Any:
    """Freeze the graph of *sess*: variables become constants, only what *output_names* need is kept.

    Returns a ``GraphDef``. *output_names* are node names (``"add"``) or
    tensor names (``"add:0"``).

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     w = tf.Variable(4.0, name="w")
    ...     y = tf.multiply(w, 2.0, name="y")
    ...     unused = tf.identity(w, name="unused")
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(w.initializer)
    ...         frozen = freeze_session(sess, ["y:0"])
    >>> names = {node.name for node in frozen.node}
    >>> "y" in names, "unused" in names
    (True, False)
    >>> {node.op for node in frozen.node} & {"VarHandleOp", "ReadVariableOp"}
    set()
    """
    graph_def = sess.graph.as_graph_def()
    check_nodes(graph_def, output_names)
    for node in graph_def.node:  # TF's converter reads "Variable" (before 1.0) but skips it
        if node.op == "Variable":
            node.op = "VariableV2"
    nodes = list(dict.fromkeys(node_name(n) for n in output_names))
    return tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def, nodes)


def freeze_function(concrete_function: Any) -> Any:
    """Freeze a TF2 concrete function and return its ``GraphDef``.

    The variables the function captures become constants, so the graph runs
    on its own.

    >>> import tensorflow as tf
    >>> v = tf.Variable(3.0)
    >>> f = tf.function(lambda: v * 2.0).get_concrete_function()
    >>> graph_def = freeze_function(f)
    >>> sorted({node.op for node in graph_def.node})
    ['Const', 'Identity', 'Mul', 'NoOp']
    """
    frozen = convert_variables_to_constants_v2(concrete_function)
    return frozen.graph.as_graph_def()


def write_graph_def(graph_def: Any, path: str | os.PathLike[str]) -> str:
    """Write *graph_def* to *path* atomically, creating parent directories.

    A graph of :data:`MAX_GRAPH_BYTES` or more is refused before any byte is
    written.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     _ = tf.constant(1.0, name="c")
    >>> write_graph_def(graph.as_graph_def(), "out/graph.pb")
    'out/graph.pb'
    """
    try:  # ByteSize() would cost as much as serialising, so the size is checked after
        data = graph_def.SerializeToString()
    except Exception as e:  # protobuf's EncodeError past 2 GiB; its import path varies
        data, error = None, e
    if data is None or len(data) > MAX_GRAPH_BYTES:
        size = f"{len(data) / 2**30:.2f} GiB" if data is not None else "too large to serialise"
        raise GraphTooLargeError(
            f"the graph for {os.fspath(path)!r} is {size}, over protobuf's 2 GiB limit; "
            "save it as a SavedModel or a checkpoint instead, or keep large weights out of constants"
        ) from (error if data is None else None)
    return atomic_write(path, data)


def read_graph_def(path: str | os.PathLike[str]) -> Any:
    """Read a binary ``GraphDef`` (``.pb``) file.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     _ = tf.constant(1.0, name="c")
    >>> _ = write_graph_def(graph.as_graph_def(), "graph.pb")
    >>> [node.name for node in read_graph_def("graph.pb").node]
    ['c']
    >>> from pathlib import Path
    >>> _ = Path("bad.pb").write_bytes(b"not a graph")
    >>> read_graph_def("bad.pb")
    Traceback (most recent call last):
    ...
    tfpersist.errors.GraphFormatError: 'bad.pb' is not a binary GraphDef (DecodeError); pass a frozen .pb file
    """
    return _read_graph_def(path)[1]


def _read_graph_def(path: str | os.PathLike[str]) -> tuple[bytes, Any]:
    """The bytes of a ``.pb`` file and the ``GraphDef`` TensorFlow parses from them."""
    path = os.fspath(path)
    try:
        data = _fs.read_bytes(path)
    except FileNotFoundError as e:
        raise CheckpointNotFoundError(f"no graph file at {path!r}") from e
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as e:  # google.protobuf.message.DecodeError; its import path varies
        raise GraphFormatError(
            f"{path!r} is not a binary GraphDef ({type(e).__name__}); pass a frozen .pb file"
        ) from e
    return data, graph_def


def import_graph(
    graph_def: Any,
    return_elements: Sequence[str],
    *,
    name: str = "import",
    allow_ops: Sequence[str] = (),
) -> list[Any]:
    """Import *graph_def* into the default graph and return the named tensors or ops.

    Like ``tf.import_graph_def(graph_def, return_elements=...)``, but the
    graph is audited first (:func:`tfpersist.safety.audit_graph`, widened by
    *allow_ops*) and the names are checked. No returned element may be a
    node of a saver's, which running it would run.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as source:
    ...     _ = tf.constant(7.0, name="seven")
    >>> with tf.Graph().as_default():
    ...     [t] = import_graph(source.as_graph_def(), ["seven:0"], name="m")
    ...     t.name
    'm/seven:0'
    """
    audit_graph(graph_def, allow_ops=allow_ops, run=return_elements)
    check_nodes(graph_def, return_elements)
    return tf.graph_util.import_graph_def(
        graph_def, return_elements=list(return_elements), name=name
    )


def load_frozen_function(
    graph_def_or_path: Any,
    inputs: Sequence[str],
    outputs: Sequence[str],
    *,
    allow_ops: Sequence[str] = (),
) -> Any:
    """Load a frozen graph as a TF2 callable from *inputs* to *outputs* (tensor names).

    The graph is audited first, like in :func:`import_graph`, and no output
    may be a node of a saver's, which would run the saver.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
    ...     y = tf.multiply(x, 10.0, name="y")
    >>> f = load_frozen_function(graph.as_graph_def(), ["x:0"], ["y:0"])
    >>> f(tf.constant([1.0, 2.0])).numpy().tolist()
    [10.0, 20.0]
    """
    graph_def, data, where = graph_def_or_path, graph_def_or_path, "the graph"
    if isinstance(graph_def_or_path, (str, os.PathLike)):
        data, graph_def = _read_graph_def(graph_def_or_path)
        where = repr(os.fspath(graph_def_or_path))
    # the file's bytes: no second encoding; the outputs run, so none may be a saver's
    audit_graph(data, allow_ops=allow_ops, run=outputs, where=where)
    check_nodes(graph_def, [*inputs, *outputs])
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []
    )
    graph = wrapped.graph
    fetches = [graph.as_graph_element(o) for o in outputs]
    return wrapped.prune(
        feeds=[graph.as_graph_element(i) for i in inputs],
        fetches=fetches[0] if len(fetches) == 1 else fetches,
    )
