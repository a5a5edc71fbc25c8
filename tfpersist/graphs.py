"""What is in a graph file: inputs, outputs, ops, and ops that touch the outside world.

A frozen ``.pb``, a ``.meta`` file and a SavedModel all carry a ``GraphDef``
(计算图定义): a list of nodes, each running one op, plus a library of functions
whose bodies are more nodes. Before freezing a graph you need the names of
its outputs; before serving someone else's graph you need its inputs; and
before loading a graph from anywhere you should know whether it reads or
writes files or runs Python. TensorFlow's own position (its ``SECURITY.md``) is
that a model is a program: importing and running a graph runs whatever ops it
holds.

:func:`summarize_graph` reads the file as data, without TensorFlow, and
reports, over every meta graph of a SavedModel:

* **inputs**: ``Placeholder`` nodes, with dtype and shape;
* **outputs**: likely outputs, the nodes whose results nothing consumes,
  leaving out what the graph's structure shows is an initialiser, a saver
  or a training update (:func:`guess_outputs`);
* **ops**: a census of op types, library functions included;
* **unsafe ops**: what the audit of :mod:`tfpersist.safety` refuses, with
  the reason: exactly what the loaders of tfpersist refuse to import.

>>> import tensorflow as tf
>>> from tfpersist import freezing, graphs
>>> with tf.Graph().as_default() as graph:
...     x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
...     w = tf.Variable(tf.ones([2, 1]), name="w")
...     y = tf.matmul(x, w, name="y")
...     with tf.compat.v1.Session(graph=graph) as sess:
...         sess.run(w.initializer)
...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
...         _ = freezing.write_graph_def(freezing.freeze_session(sess, ["y"]), "model/frozen.pb")
>>> summary = graphs.summarize_graph("model/frozen.pb")
>>> summary.inputs
(Tensor(name='x', dtype='float32', shape=(None, 2)),)
>>> summary.outputs
(Tensor(name='y', dtype='float32', shape=None),)
>>> summary.unsafe_ops
()

The ``.meta`` of the same model holds the saver, whose ``SaveV2`` and
``RestoreV2`` ops read and write files. They are in the shape TensorFlow's
``Saver`` builds, so the audit accepts them, as the loaders do:

>>> sorted(op for op in graphs.summarize_graph("model/model.ckpt.meta").ops if "V2" in op)
['RestoreV2', 'SaveV2']
>>> graphs.summarize_graph("model/model.ckpt.meta").unsafe_ops
()
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tfpersist import _fs
from tfpersist._graphfile import Graph, dtype_name, node_name, read_graph_file
from tfpersist.errors import CheckpointNotFoundError, GraphFormatError
from tfpersist.safety import Refusal, check_graph

__all__ = [
    "GraphSummary",
    "Tensor",
    "guess_outputs",
    "iter_nodes",
    "read_graph",
    "read_meta_graph",
    "read_saved_model",
    "summarize_graph",
]

# Sinks that are bookkeeping by their op, never a result: variables, their
# initialisers and updates, placeholders nothing reads, control groups.
_NOT_OUTPUTS = {
    "NoOp",
    "Const",
    "Placeholder",
    "PlaceholderWithDefault",
    "VarHandleOp",
    "VariableV2",
    "Variable",
    "ReadVariableOp",
}
_UPDATES = ("Assign", "Apply", "ResourceApply")
# Ops of a saver, and the checks whether variables are initialised (a
# ``Scaffold``'s readiness report): they and every node computed from them
# are that plumbing.
_PLUMBING = {
    "VarIsInitializedOp",
    "IsVariableInitialized",
    "SaveV2",
    "Save",
    "SaveSlices",
    "RestoreV2",
    "Restore",
    "RestoreSlice",
    "MergeV2Checkpoints",
    "ShardedFilename",
    "ShardedFilespec",
    "ReportUninitializedVariables",
}
_VARIABLES = {"VariableV2", "Variable"}
# What tf.gradients names: ``gradients/<op>_grad/...``, ``gradients_1/...``.
_GRADIENT = re.compile(r"gradients(?:_\d+)?/(?:.*/)?[^/]*_grad/")


@dataclass(frozen=True)
class Tensor:
    """An input or output of a graph: node *name*, *dtype* and *shape* (``None`` where unknown).

    >>> Tensor("x", "float32", (None, 2)).to_json()
    {'name': 'x', 'dtype': 'float32', 'shape': [None, 2]}
    """

    name: str
    dtype: str | None = None
    shape: tuple[int | None, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist summarize --json``."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": None if self.shape is None else list(self.shape),
        }


@dataclass(frozen=True)
class GraphSummary:
    """What :func:`summarize_graph` found in a graph.

    *unsafe_ops* lists what the audit of :mod:`tfpersist.safety` refuses.

    >>> GraphSummary((), (Tensor("y"),), {"MatMul": 1}, ()).to_json()["outputs"]
    [{'name': 'y', 'dtype': None, 'shape': None}]
    """

    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    ops: dict[str, int]
    unsafe_ops: tuple[Refusal, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``tfpersist summarize --json``."""
        return {
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "ops": dict(self.ops),
            "unsafe_ops": [u.to_json() for u in self.unsafe_ops],
        }


def _parse(message: Any, data: bytes, path: str, kind: str) -> Any:
    try:
        message.ParseFromString(data)
    except Exception as e:  # google.protobuf.message.DecodeError; its import path varies
        raise GraphFormatError(f"{path!r} is not a {kind} ({type(e).__name__})") from e
    return message


def read_saved_model(path: str | os.PathLike[str]) -> Any:
    """Parse the ``saved_model.pb`` of SavedModel directory *path*, without loading it.

    >>> import tensorflow as tf
    >>> tf.saved_model.save(tf.Module(), "saved")
    >>> len(read_saved_model("saved").meta_graphs)
    1
    """
    from tfpersist._tf import SavedModel

    saved = os.path.join(os.fspath(path), "saved_model.pb")
    if not _fs.isfile(saved):
        raise CheckpointNotFoundError(
            f"{os.fspath(path)!r} is a directory without saved_model.pb; pass a SavedModel "
            "directory, a frozen .pb or a .meta file"
        )
    model = _parse(SavedModel(), _read(saved), saved, "SavedModel")
    if not model.meta_graphs:
        raise GraphFormatError(f"{saved!r} holds no meta graph")
    return model


def read_meta_graph(path: str | os.PathLike[str]) -> Any:
    """Parse a ``.meta`` file into a ``MetaGraphDef``, without importing it.

    >>> from pathlib import Path
    >>> _ = Path("bad.meta").write_bytes(b"not a graph")
    >>> read_meta_graph("bad.meta")
    Traceback (most recent call last):
    ...
    tfpersist.errors.GraphFormatError: 'bad.meta' is not a MetaGraphDef (DecodeError)
    """
    from tfpersist._tf import tf

    return _parse(tf.compat.v1.MetaGraphDef(), _read(path), os.fspath(path), "MetaGraphDef")


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return _fs.read_bytes(os.fspath(path))
    except FileNotFoundError as e:
        raise CheckpointNotFoundError(f"no graph file at {os.fspath(path)!r}") from e


def read_graph(path: str | os.PathLike[str]) -> Any:
    """Read the ``GraphDef`` of a ``.pb`` file, a ``.meta`` file or a SavedModel directory.

    Only the protocol buffer is parsed: nothing is imported into TensorFlow
    and no op runs.

    >>> import tensorflow as tf
    >>> tf.saved_model.save(tf.Module(), "saved")
    >>> read_graph("saved").__class__.__name__
    'GraphDef'
    >>> read_graph("nowhere.pb")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: no graph file at 'nowhere.pb'
    """
    from tfpersist._tf import tf

    path = os.fspath(path)
    if _fs.isdir(path):
        return read_saved_model(path).meta_graphs[0].graph_def
    if path.endswith(".meta"):
        return read_meta_graph(path).graph_def
    return _parse(tf.compat.v1.GraphDef(), _read(path), path, "binary GraphDef")


def iter_nodes(graph_def: Any) -> Iterator[tuple[Any, str | None]]:
    """Yield ``(node, function_name)`` for every node, library functions included.

    *function_name* is ``None`` at the top level.

    >>> import tensorflow as tf
    >>> @tf.function
    ... def load(path):
    ...     return tf.io.read_file(path)
    >>> @tf.function
    ... def outer(path):
    ...     return load(path)
    >>> graph_def = outer.get_concrete_function(tf.TensorSpec([], tf.string)).graph.as_graph_def()
    >>> [(node.op, fn.startswith("__inference_load")) for node, fn in iter_nodes(graph_def)
    ...  if node.op == "ReadFile"]
    [('ReadFile', True)]
    """
    for node in graph_def.node:
        yield node, None
    for function in graph_def.library.function:
        for node in function.node_def:
            yield node, function.signature.name


def guess_outputs(graph_def: Any) -> list[str]:
    """Name the nodes that look like outputs: sinks that are not bookkeeping.

    A sink is a top-level node whose result no other node consumes. Left
    out are what the structure proves is no result: variables, their
    initialisers, snapshots (``v/read``) and updates, ``NoOp`` groups,
    constants and placeholders nothing reads, gradients (``gradients/*_grad/``),
    and a saver's ops with every node computed from them (the saver's
    ``control_dependency``, whatever its scope). Anything else is kept,
    whatever its op (``ConcatV2``, ``StringJoin``) or name (``init_state``).

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(1.0, name="v")
    ...     out = tf.add(v, 1.0, name="out")
    ...     names = tf.strings.join(["a", "b"], name="save_names")
    ...     saver = tf.compat.v1.train.Saver()
    ...     init = tf.compat.v1.global_variables_initializer()
    >>> guess_outputs(graph.as_graph_def())
    ['out', 'save_names']
    """
    nodes = graph_def.nodes if isinstance(graph_def, Graph) else graph_def.node
    by_name = {node.name: node for node in nodes}
    consumers: dict[str, list[str]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(node_name(name), []).append(node.name)
    plumbing = {node.name for node in nodes if node.op in _PLUMBING}
    stack = list(plumbing)
    while stack:
        for name in consumers.get(stack.pop(), ()):
            if name not in plumbing:
                plumbing.add(name)
                stack.append(name)

    def snapshot(node: Any) -> bool:  # tf.Variable's ``v/read``
        source = by_name.get(node.input[0]) if node.op == "Identity" and node.input else None
        return source is not None and source.op in _VARIABLES and node.name == source.name + "/read"

    return [
        node.name
        for node in nodes
        if node.name not in consumers
        and node.name not in plumbing
        and node.op not in _NOT_OUTPUTS
        and not node.op.startswith(_UPDATES)
        and not _GRADIENT.match(node.name)
        and not snapshot(node)
    ]


def _tensor(node: Any) -> Tensor:
    attrs = node.attrs
    kind = attrs.get("dtype", attrs.get("T", {}))
    dtype = dtype_name(kind["type"]) if "type" in kind else None
    shape = None
    proto = attrs.get("shape", {}).get("shape")
    if proto is not None and not proto.get("unknown_rank"):
        shape = tuple(
            None if d.get("size", 0) < 0 else d.get("size", 0) for d in proto.get("dim", [])
        )
    return Tensor(node.name, dtype, shape)


def summarize_graph(path_or_graph_def: Any, *, allow_ops: Sequence[str] = ()) -> GraphSummary:
    """Summarize a graph file (``.pb``, ``.meta``, SavedModel directory) or a ``GraphDef``.

    A file is read without TensorFlow, every meta graph of a SavedModel
    included. *unsafe_ops* holds what :func:`tfpersist.safety.check_graph`
    refuses, widened by *allow_ops* as the loaders are.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     x = tf.compat.v1.placeholder(tf.string, [], name="path")
    ...     data = tf.io.read_file(x, name="load")
    >>> summary = summarize_graph(graph.as_graph_def())
    >>> summary.inputs
    (Tensor(name='path', dtype='string', shape=()),)
    >>> for refusal in summary.unsafe_ops:
    ...     print(refusal)
    node 'load' runs ReadFile (reads, writes or lists files)
    """
    from tfpersist._graphfile import parse_graph_def

    if isinstance(path_or_graph_def, (str, os.PathLike)):
        where = repr(os.fspath(path_or_graph_def))
        metas = read_graph_file(path_or_graph_def)
    else:
        where = "the graph"
        metas = [parse_graph_def(path_or_graph_def.SerializeToString())]
    ops: Counter[str] = Counter()
    unsafe = check_graph(metas, allow_ops=allow_ops, where=where)
    inputs: dict[str, Tensor] = {}
    outputs: dict[str, Tensor] = {}
    for meta in metas:
        for node, _ in meta.graph.walk():
            ops[node.op] += 1
        by_name = {n.name: n for n in meta.graph.nodes}
        for n in meta.graph.nodes:
            if n.op == "Placeholder":
                inputs.setdefault(n.name, _tensor(n))
        for name in guess_outputs(meta.graph):
            outputs.setdefault(name, _tensor(by_name[name]))
    return GraphSummary(
        tuple(inputs.values()), tuple(outputs.values()), dict(sorted(ops.items())), tuple(unsafe)
    )
