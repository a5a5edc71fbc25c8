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
  older file of the same name survives a crash;
* a SavedModel is frozen from one signature, ``serving_default`` unless
  another is named, as TensorFlow Serving does; one written by TF1 is loaded
  by TF1's loader, which takes the reference variables (``float_ref``) that
  TF2's loader refuses, and either loader gets the bytes the audit read;
* a ``.meta`` from an old release loads, even when TensorFlow itself cannot
  parse the version it records (``0.12.head``).

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
from dataclasses import dataclass
from typing import Any

from tfpersist import _fs
from tfpersist._files import atomic_write
from tfpersist._tf import (
    SAVED_MODEL_ERRORS,
    convert_variables_to_constants_v2,
    load_saved_model,
    load_saved_model_v1,
    tf,
)
from tfpersist.errors import (
    CheckpointNotFoundError,
    GraphFormatError,
    GraphTooLargeError,
    NodeNotFoundError,
    OutputGuessError,
    did_you_mean,
)
from tfpersist.safety import audit_graph

__all__ = [
    "DEFAULT_SIGNATURE",
    "MAX_GRAPH_BYTES",
    "FrozenGraph",
    "check_nodes",
    "freeze_checkpoint",
    "freeze_function",
    "freeze_session",
    "import_graph",
    "load_frozen_function",
    "read_graph_def",
    "write_graph_def",
]

#: Protocol buffers cannot serialise a message of 2 GiB or more.
MAX_GRAPH_BYTES = 2**31 - 1


def _node_name(name: str) -> str:
    """``"^add"`` and ``"add:0"`` both name the node ``"add"``."""
    return name.lstrip("^").split(":")[0]


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
        node = _node_name(name)
        if node not in known:
            hint = did_you_mean(node, present)
            shown = ", ".join(sorted(present)[:10]) + (", ..." if len(present) > 10 else "")
            raise NodeNotFoundError(
                f"node {node!r} is not in the graph{hint}; it has {len(present)} nodes: {shown}"
            )


def _converter_reads(graph_def: Any, outputs: Sequence[str]) -> list[str]:
    """The nodes TensorFlow's converter runs to freeze *outputs*.

    ``convert_variables_to_constants`` reads each variable the outputs need
    by a naming convention: a reference variable's own node, and
    ``NAME/Read/ReadVariableOp`` for a resource variable ``NAME``, whatever
    that node computes. A graph from a file is audited with these as the
    nodes that will run.
    """
    nodes = {node.name: node for node in graph_def.node}
    needed: set[str] = set()
    stack = [_node_name(name) for name in outputs]
    while stack:
        name = stack.pop()
        if name in needed or name not in nodes:
            continue
        needed.add(name)
        stack.extend(_node_name(i) for i in nodes[name].input)
    variables = sorted(
        n for n in needed if nodes[n].op in ("Variable", "VariableV2", "VarHandleOp")
    )
    return [f"{n}/Read/ReadVariableOp" if nodes[n].op == "VarHandleOp" else n for n in variables]


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
    nodes = list(dict.fromkeys(_node_name(n) for n in output_names))
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


@dataclass(frozen=True)
class FrozenGraph:
    """A frozen graph written by :func:`freeze_checkpoint`: its *path*, *outputs* and size.

    *guessed* is true when the outputs were guessed rather than given;
    *signature* names the signature they came from, if any.

    >>> print(FrozenGraph("model.pb", ("add",), 5, 120, guessed=True))
    model.pb: 5 nodes, 120 bytes, output add (guessed)
    >>> print(FrozenGraph("model.pb", ("y",), 9, 300, signature="serving_default"))
    model.pb: 9 nodes, 300 bytes, output y (signature serving_default)
    """

    path: str
    outputs: tuple[str, ...]
    nodes: int
    bytes: int
    guessed: bool = False
    signature: str | None = None

    def __str__(self) -> str:
        label = "output" if len(self.outputs) == 1 else "outputs"
        how = " (guessed)" if self.guessed else ""
        if self.signature is not None:
            how = f" (signature {self.signature})"
        return f"{self.path}: {self.nodes} nodes, {self.bytes} bytes, {label} {', '.join(self.outputs)}{how}"


#: A SavedModel's signature that TensorFlow serves when none is named.
DEFAULT_SIGNATURE = "serving_default"
#: Not a signature: what TF2's loader runs to initialise a SavedModel.
_INIT_SIGNATURE = "__saved_model_init_op"


def _pick_outputs(
    graph_def: Any, outputs: Sequence[str] | None, source: str
) -> tuple[list[str], bool]:
    from tfpersist.graphs import guess_outputs

    if outputs:
        check_nodes(graph_def, outputs)
        return list(outputs), False
    candidates = guess_outputs(graph_def)
    if len(candidates) != 1:
        found = ", ".join(candidates[:20]) or "none"
        raise OutputGuessError(
            f"cannot tell the output of {source!r}: {len(candidates)} candidates ({found}); "
            "name them with --output NODE",
            candidates,
        )
    return candidates, True


def _signature(meta: Any, name: str, source: str) -> Any:
    """Signature *name* of a ``MetaGraphDef``; an unknown name lists those there."""
    signatures = [s for s in meta.signature_def if s != _INIT_SIGNATURE]
    if name not in signatures:
        raise OutputGuessError(
            f"{source} has no {name} signature (signatures: {', '.join(signatures) or 'none'}); "
            "pick one with --signature NAME, or name the output nodes with --output NODE",
            signatures,
        )
    return meta.signature_def[name]


def _signature_outputs(meta: Any, name: str, source: str) -> list[str]:
    """The output tensors of signature *name* of a TF1 ``MetaGraphDef``, sorted by key."""
    outputs = _signature(meta, name, source).outputs
    tensors = [outputs[key].name for key in sorted(outputs)]
    if not tensors or not all(tensors):
        raise OutputGuessError(
            f"signature {name!r} of {source} has no output tensor this can freeze (none, or "
            "sparse or composite ones); name the output nodes with --output NODE"
        )
    return tensors


def freeze_checkpoint(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    outputs: Sequence[str] | None = None,
    *,
    signature: str | None = None,
    allow_ops: Sequence[str] = (),
) -> FrozenGraph:
    """Freeze a checkpoint with its ``.meta``, or a SavedModel, into one ``.pb`` at *out*.

    *source* is a checkpoint prefix (or its directory) whose ``.meta`` holds
    the graph, or a SavedModel directory. *outputs* names the output nodes
    and always wins. Otherwise a SavedModel's outputs are those of its
    *signature* (``serving_default`` by default, as in TensorFlow Serving),
    and a checkpoint's are guessed (:func:`tfpersist.graphs.guess_outputs`)
    unless *signature* names one its ``.meta`` holds. A guess that is not a
    single node, or an unknown signature, raises
    :class:`~tfpersist.errors.OutputGuessError` listing what is there.

    A SavedModel written by TF1 (``tf.compat.v1.saved_model.Builder``, no
    object graph) is loaded by TF1's loader into a ``tf.Graph``, which takes
    the reference variables (``float_ref``) TF2's loader refuses; a TF2
    SavedModel by ``tf.saved_model.load``. The graph is audited before it is
    loaded, and the loader gets the audited bytes; *allow_ops* widens the
    audit.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v1 = tf.Variable(tf.constant(1.0, shape=[1]), name="v1")
    ...     v2 = tf.Variable(tf.constant(2.0, shape=[1]), name="v2")
    ...     result = v1 + v2
    ...     with tf.compat.v1.Session(graph=graph) as sess:
    ...         sess.run(tf.compat.v1.global_variables_initializer())
    ...         _ = tf.compat.v1.train.Saver().save(sess, "model/model.ckpt")
    >>> frozen = freeze_checkpoint("model/model.ckpt", "model/frozen.pb")
    >>> frozen.outputs, frozen.guessed
    (('add',), True)

    A TF1 SavedModel with a reference variable, frozen from its signature:

    >>> builder = tf.compat.v1.saved_model.Builder("tf1_saved")
    >>> with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
    ...     x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
    ...     w = tf.compat.v1.Variable(3.0, name="w", use_resource=False)
    ...     y = tf.multiply(x, w, name="y")
    ...     sess.run(w.initializer)
    ...     builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={
    ...         "predict": tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
    >>> _ = builder.save()
    >>> freeze_checkpoint("tf1_saved", "tf1.pb")
    Traceback (most recent call last):
    ...
    tfpersist.errors.OutputGuessError: SavedModel 'tf1_saved' has no serving_default signature (signatures: predict); ...
    >>> print(freeze_checkpoint("tf1_saved", "tf1.pb", signature="predict"))
    tf1.pb: 4 nodes, ... bytes, output y (signature predict)
    """
    from tfpersist.graphs import read_meta_graph
    from tfpersist.meta_graph import restore_meta_graph

    text = os.fspath(source)
    if _fs.isfile(os.path.join(text, "saved_model.pb")):
        graph_def, chosen, named = _freeze_saved_model(text, outputs, signature, allow_ops)
        guessed = False
    else:
        from tfpersist.checkpoint_state import meta_path, resolve_prefix

        prefix = resolve_prefix(text)
        meta_file = meta_path(prefix)
        if not _fs.isfile(meta_file):
            raise CheckpointNotFoundError(
                f"checkpoint {prefix!r} has no .meta file, so its graph is unknown; "
                "freeze it from Python with freezing.freeze_session, or pass a SavedModel directory"
            )
        meta = read_meta_graph(meta_file)
        named = None if outputs else signature
        if named is not None:
            chosen = _signature_outputs(meta, named, repr(meta_file))
            check_nodes(meta.graph_def, chosen)
            guessed = False
        else:
            chosen, guessed = _pick_outputs(meta.graph_def, outputs, prefix)
        with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
            reads = _converter_reads(meta.graph_def, chosen)
            restore_meta_graph(sess, prefix, clear_devices=True, allow_ops=allow_ops, run=reads)
            graph_def = freeze_session(sess, chosen)
    path = write_graph_def(graph_def, out)
    nodes = tuple(dict.fromkeys(_node_name(n) for n in chosen))
    return FrozenGraph(path, nodes, len(graph_def.node), graph_def.ByteSize(), guessed, named)


def _serving_meta_graph(model: Any, path: str) -> Any:
    """The meta graph TensorFlow Serving would load: the only one, or the one tagged "serve"."""
    metas = model.meta_graphs
    if len(metas) == 1:
        return metas[0]
    serving = [m for m in metas if "serve" in m.meta_info_def.tags]
    if not serving:
        found = "; ".join(",".join(m.meta_info_def.tags) for m in metas)
        raise OutputGuessError(
            f"SavedModel {path!r} has {len(metas)} meta graphs (tags: {found}) and none is "
            "tagged 'serve'; load the one you want with tf.saved_model.load(path, tags=...) "
            "and freeze its function with freezing.freeze_function"
        )
    return serving[0]


def _freeze_saved_model(
    path: str, outputs: Sequence[str] | None, signature: str | None, allow_ops: Sequence[str]
) -> tuple[Any, list[str], str | None]:
    """Freeze a SavedModel: the graph, its outputs, and the signature they came from."""
    from tfpersist.graphs import read_saved_model

    model = read_saved_model(path)
    where = repr(os.path.join(path, "saved_model.pb"))
    for meta in model.meta_graphs:
        audit_graph(meta, allow_ops=allow_ops, where=where)
    meta = _serving_meta_graph(model, path)
    source = f"SavedModel {path!r}"
    name = signature or DEFAULT_SIGNATURE
    if not meta.object_graph_def.nodes:  # written by TF1: its loader takes reference variables
        named = None if outputs else name  # --output wins
        if outputs and signature is not None:
            _signature(meta, name, source)  # a signature asked for must exist
        chosen = list(outputs) if outputs else _signature_outputs(meta, name, source)
        audit_graph(
            meta, allow_ops=allow_ops, run=_converter_reads(meta.graph_def, chosen), where=where
        )
        return _freeze_tf1_saved_model(path, model, meta, chosen, source), chosen, named
    _signature(meta, name, source)  # TF2 freezes a signature's function, even with --output
    tags = list(meta.meta_info_def.tags) if len(model.meta_graphs) > 1 else None
    try:
        loaded = load_saved_model(path, model, tags)  # the audited bytes, not a second read
    except SAVED_MODEL_ERRORS as e:  # a damaged object graph, or a newer release's
        raise GraphFormatError(
            f"TensorFlow cannot load {source} ({type(e).__name__}: {e}); the file is "
            "damaged, or was written by a TensorFlow this one cannot read"
        ) from e
    function = dict(getattr(loaded, "signatures", {}) or {}).get(name)
    if function is None:
        raise OutputGuessError(
            f"{source} lists a {name} signature that TensorFlow did not load; "
            "freeze a concrete function with freezing.freeze_function instead"
        )
    graph_def = freeze_function(function)
    if outputs:
        check_nodes(graph_def, outputs)
        nodes = [_node_name(n) for n in outputs]
        graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, nodes)
        return graph_def, list(outputs), None
    return graph_def, [t.name for t in function.outputs], name


def _freeze_tf1_saved_model(
    path: str, model: Any, meta: Any, outputs: Sequence[str], source: str
) -> Any:
    """Freeze a TF1 SavedModel the way TF1 loads it: into a ``tf.Graph`` and a session."""
    from tfpersist.meta_graph import readable_version

    check_nodes(meta.graph_def, outputs)
    info = meta.meta_info_def
    info.tensorflow_version = readable_version(info.tensorflow_version)
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        try:  # the audited bytes, not a second read
            load_saved_model_v1(sess, path, model, list(info.tags))
        except (ValueError, TypeError, KeyError, IndexError) as e:  # a graph that cannot import
            raise GraphFormatError(
                f"TensorFlow cannot load {source} ({type(e).__name__}: {e}); the file "
                "is damaged, or was written by a TensorFlow this one cannot read"
            ) from e
        return freeze_session(sess, outputs)
