"""``tfpersist freeze``: one ``.pb`` from a checkpoint with its ``.meta``, or from a SavedModel.

:mod:`tfpersist.freezing` shows the article's calls, which freeze a graph
you have built in Python. :func:`freeze_checkpoint` freezes what is on disk,
as the command does. The graph is read and audited first
(:mod:`tfpersist.safety`), then:

* a checkpoint's ``.meta`` is restored with its values, and a ``.meta``
  from an old release loads, even when TensorFlow itself cannot parse the
  version it records (``0.12.head``);
* a SavedModel is frozen from one signature, ``serving_default`` unless
  another is named, as TensorFlow Serving does; one written by TF1 is
  loaded by TF1's loader, which takes the reference variables
  (``float_ref``) that TF2's loader refuses, and either loader gets the
  bytes the audit read;
* the outputs are those named, else the signature's, else guessed from
  the graph's structure (:func:`tfpersist.graphs.guess_outputs`);
* the ``.pb`` is written atomically.

>>> import tensorflow as tf
>>> from tfpersist import freezer
>>> module = tf.Module()
>>> module.w = tf.Variable([2.0, 3.0])
>>> module.predict = tf.function(
...     lambda x: {"y": x * module.w}, input_signature=[tf.TensorSpec([2], tf.float32)])
>>> tf.saved_model.save(module, "saved", signatures=module.predict)
>>> print(freezer.freeze_checkpoint("saved", "frozen.pb"))
frozen.pb: ... nodes, ... bytes, output Identity (signature serving_default)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tfpersist import _fs
from tfpersist._graphfile import node_name
from tfpersist._layout import meta_path, resolve_prefix
from tfpersist._tf import SAVED_MODEL_ERRORS, load_saved_model, load_saved_model_v1, tf
from tfpersist.errors import CheckpointNotFoundError, GraphFormatError, OutputGuessError
from tfpersist.freezing import check_nodes, freeze_function, freeze_session, write_graph_def
from tfpersist.graphs import guess_outputs, read_meta_graph, read_saved_model
from tfpersist.meta_graph import readable_version, restore_meta_graph
from tfpersist.safety import audit_graph

__all__ = ["DEFAULT_SIGNATURE", "FrozenGraph", "freeze_checkpoint"]


def _converter_reads(graph_def: Any, outputs: Sequence[str]) -> list[str]:
    """The nodes TensorFlow's converter runs to freeze *outputs*.

    ``convert_variables_to_constants`` reads each variable the outputs need
    by a naming convention: a reference variable's own node, and
    ``NAME/Read/ReadVariableOp`` for a resource variable ``NAME``, whatever
    that node computes. A graph from a file is audited with these as the
    nodes that will run.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     w = tf.compat.v1.get_variable("w", [], use_resource=True)
    ...     y = tf.multiply(w, 2.0, name="y")
    >>> _converter_reads(graph.as_graph_def(), ["y:0"])
    ['w/Read/ReadVariableOp']
    """
    nodes = {node.name: node for node in graph_def.node}
    needed: set[str] = set()
    stack = [node_name(name) for name in outputs]
    while stack:
        name = stack.pop()
        if name in needed or name not in nodes:
            continue
        needed.add(name)
        stack.extend(node_name(i) for i in nodes[name].input)
    variables = sorted(
        n for n in needed if nodes[n].op in ("Variable", "VariableV2", "VarHandleOp")
    )
    return [f"{n}/Read/ReadVariableOp" if nodes[n].op == "VarHandleOp" else n for n in variables]


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
    text = os.fspath(source)
    if _fs.isfile(os.path.join(text, "saved_model.pb")):
        graph_def, chosen, named = _freeze_saved_model(text, outputs, signature, allow_ops)
        guessed = False
    else:
        prefix = resolve_prefix(text)
        meta_file = meta_path(prefix)
        if not _fs.isfile(meta_file):
            raise CheckpointNotFoundError(
                f"checkpoint {prefix!r} has no .meta file, so its graph is unknown; "
                "freeze it from Python with tfpersist.freezing.freeze_session, or pass a SavedModel directory"
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
    nodes = tuple(dict.fromkeys(node_name(n) for n in chosen))
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
            "and freeze its function with tfpersist.freezing.freeze_function"
        )
    return serving[0]


def _freeze_saved_model(
    path: str, outputs: Sequence[str] | None, signature: str | None, allow_ops: Sequence[str]
) -> tuple[Any, list[str], str | None]:
    """Freeze a SavedModel: the graph, its outputs, and the signature they came from."""
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
            "freeze a concrete function with tfpersist.freezing.freeze_function instead"
        )
    graph_def = freeze_function(function)
    if outputs:
        check_nodes(graph_def, outputs)
        nodes = [node_name(n) for n in outputs]
        graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, nodes)
        return graph_def, list(outputs), None
    return graph_def, [t.name for t in function.outputs], name


def _freeze_tf1_saved_model(
    path: str, model: Any, meta: Any, outputs: Sequence[str], source: str
) -> Any:
    """Freeze a TF1 SavedModel the way TF1 loads it: into a ``tf.Graph`` and a session."""
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
