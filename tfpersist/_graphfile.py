"""Graph files read as data, without TensorFlow: a ``.pb``, a ``.meta``, a SavedModel.

:func:`read_graph_file` decodes the protocol buffers with
:mod:`tfpersist._protobuf` into plain objects: a :class:`MetaGraph` per
graph, holding its :class:`Graph` (top-level nodes and library functions)
and the saver it declares. Every byte of the file is checked, as
TensorFlow's own parser would; only what an audit or a summary reads is
kept. Nothing is imported into TensorFlow and no op runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from tfpersist import _fs
from tfpersist._protobuf import (
    MAX_DEPTH,
    TYPES,
    DecodeError,
    _skip,
    check,
    decode,
    map_entry,
    read_size,
    read_tag,
)
from tfpersist.errors import CheckpointNotFoundError, GraphFormatError

_T = TypeVar("_T")

__all__ = [
    "DTYPE_NAMES",
    "Function",
    "Graph",
    "MetaGraph",
    "Node",
    "Saver",
    "dtype_name",
    "node_name",
    "parse_graph_def",
    "parse_meta_graph",
    "parse_saved_model",
    "parse_tensor",
    "read_graph_file",
]

# The message types decoded into values; the rest of a file is checked and dropped.
for _name in (
    "tensorflow.SavedModel",
    "tensorflow.MetaGraphDef",
    "tensorflow.MetaGraphDef.MetaInfoDef",
    "tensorflow.GraphDef",
    "tensorflow.FunctionDefLibrary",
    "tensorflow.FunctionDef",
    "tensorflow.FunctionDef.RetEntry",
    "tensorflow.OpDef",
    "tensorflow.NodeDef",
    "tensorflow.NodeDef.AttrEntry",
    "tensorflow.AttrValue",
    "tensorflow.AttrValue.ListValue",
    "tensorflow.NameAttrList",
    "tensorflow.NameAttrList.AttrEntry",
    "tensorflow.TensorProto",
    "tensorflow.TensorShapeProto",
    "tensorflow.TensorShapeProto.Dim",
    "tensorflow.VariantTensorDataProto",
    "tensorflow.SaverDef",
    # what a loader runs or may call: collections, signatures, the object graph's functions
    "tensorflow.MetaGraphDef.CollectionDefEntry",
    "tensorflow.CollectionDef",
    "tensorflow.CollectionDef.NodeList",
    "tensorflow.MetaGraphDef.SignatureDefEntry",
    "tensorflow.SignatureDef",
    "tensorflow.SignatureDef.InputsEntry",
    "tensorflow.SignatureDef.OutputsEntry",
    "tensorflow.SignatureDef.DefaultsEntry",
    "tensorflow.TensorInfo",
    "tensorflow.TensorInfo.CooSparse",
    "tensorflow.TensorInfo.CompositeTensor",
    "tensorflow.MetaGraphDef.MetaInfoDef.FunctionAliasesEntry",
    "tensorflow.SavedObjectGraph",
    "tensorflow.SavedObjectGraph.ConcreteFunctionsEntry",
    "tensorflow.SavedObject",
    "tensorflow.SavedFunction",
    "tensorflow.SavedBareConcreteFunction",
    "tensorflow.SavedConstant",
    "tensorflow.CapturedTensor",
    # what a function brings besides its body: gradients, attributes and their defaults
    "tensorflow.GradientDef",
    "tensorflow.RegisteredGradient",
    "tensorflow.OpDef.AttrDef",
    "tensorflow.OpDef.ArgDef",
    "tensorflow.FunctionDef.AttrEntry",
    "tensorflow.FunctionDef.ArgAttrEntry",
    "tensorflow.FunctionDef.ArgAttrs",
    "tensorflow.FunctionDef.ArgAttrs.AttrEntry",
    # what a collection keeps as bytes and TensorFlow decodes as it imports the graph
    "tensorflow.CollectionDef.BytesList",
    "tensorflow.VariableDef",
    "tensorflow.QueueRunnerDef",
    "tensorflow.CondContextDef",
    "tensorflow.WhileContextDef",
    "tensorflow.ControlFlowContextDef",
    "tensorflow.ValuesDef",
    "tensorflow.ValuesDef.ExternalValuesEntry",
):
    TYPES[_name].build = True
# Attributes repeat across nodes (T: float, padding: SAME): decode each once.
for _name in ("NodeDef.AttrEntry", "AttrValue.ListValue", "TensorShapeProto"):
    TYPES[f"tensorflow.{_name}"].cache = {}
# A constant's packed bytes can be most of a file: the audit needs only their length.
TYPES["tensorflow.TensorProto"].fields[4].view = True
#: The collections TensorFlow decodes as it imports a graph, with their message type
#: (``ops.register_proto_function``): the ops they name become the graph's variables,
#: queue runners, savers and control flow contexts.
COLLECTION_TYPES = {
    **dict.fromkeys(
        (
            "variables",
            "trainable_variables",
            "moving_average_variables",
            "local_variables",
            "model_variables",
            "global_step",
            "metric_variables",
        ),
        "tensorflow.VariableDef",
    ),
    "queue_runners": "tensorflow.QueueRunnerDef",
    "savers": "tensorflow.SaverDef",
    "cond_context": "tensorflow.CondContextDef",
    "while_context": "tensorflow.WhileContextDef",
}


#: TensorFlow's DataType numbers, with their names (a reference type adds 100).
DTYPE_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128",
    19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz", 29: "int4", 30: "uint4", 31: "int2", 32: "uint2",
}  # fmt: skip


def dtype_name(number: int) -> str:
    """The name of DataType *number*, as ``tf.as_dtype(number).name`` gives it.

    >>> dtype_name(1), dtype_name(101), dtype_name(99)
    ('float32', 'float32_ref', 'dtype 99')
    """
    base = DTYPE_NAMES.get(number % 100 if number > 100 else number)
    if base is None:
        return f"dtype {number}"
    return base + "_ref" if number > 100 else base


def node_name(tensor: str) -> str:
    """The node a tensor or control input names: ``"^a"``, ``"a:1"`` and ``"a"`` name ``a``.

    Inside a function body, ``"a:output:0"`` names node ``a`` too.

    >>> node_name("^save/restore_all"), node_name("add:0"), node_name("f:output:1")
    ('save/restore_all', 'add', 'f')
    """
    return tensor.lstrip("^").split(":", 1)[0]


class Node(NamedTuple):
    """One node: its *name*, *op*, *inputs* (as written, ``^`` for control), *device*, *attrs*.

    *attrs* maps an attribute name to its value as a dictionary with one key,
    the kind of value (``s``, ``i``, ``type``, ``tensor``, ``func``, ``list``...).

    >>> Node("n", "Const", [], "", {"dtype": {"type": 1}}).attr("dtype", "type")
    1
    """

    name: str
    op: str
    inputs: list[str]
    device: str
    attrs: dict[str, Any]

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op!r})"

    @property
    def input(self) -> list[str]:
        """The inputs, under the name a protobuf ``NodeDef`` gives them."""
        return self.inputs

    def attr(self, key: str, kind: str, default: Any = None) -> Any:
        """The value of attribute *key* if it holds a *kind*, else *default*."""
        return self.attrs.get(key, {}).get(kind, default)


_new_node = tuple.__new__


@dataclass
class Function:
    """A library function: its *name*, argument and output names, body *nodes* and outputs."""

    name: str
    args: list[str]
    outputs: list[str]
    nodes: list[Node]
    ret: dict[str, str]
    control_ret: dict[str, str]
    #: The attribute values it holds besides its body's: its own and its arguments'
    #: attributes, and the defaults and allowed values its signature names.
    attr_values: list[dict[str, Any]] = field(default_factory=list)
    #: Whether an argument takes a list of tensors, so one argument may be many inputs.
    list_args: bool = False
    #: Its ``api_implements`` attribute: TensorFlow may run, in place of a call
    #: to it, any function of the library that implements the same.
    implements: str = ""


@dataclass
class Graph:
    """A ``GraphDef``: top-level *nodes* and the *functions* of its library, in file order."""

    nodes: list[Node] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    #: ``(function, gradient function)`` pairs: taking the gradient of one runs the other.
    gradients: list[tuple[str, str]] = field(default_factory=list)
    #: ``(op type, gradient function)`` pairs registered for ops a SavedModel defines.
    registered_gradients: list[tuple[str, str]] = field(default_factory=list)

    def walk(self) -> Iterator[tuple[Node, Function | None]]:
        """Every node with the function it sits in (``None`` at the top level)."""
        for node in self.nodes:
            yield node, None
        for function in self.functions:
            for node in function.nodes:
                yield node, function


class Saver(NamedTuple):
    """What a ``SaverDef`` declares: the filename tensor, the save tensor, the restore op."""

    filename: str
    save: str
    restore: str
    version: int = 2


@dataclass
class MetaGraph:
    """A graph with the saver it declares (``None`` for a bare ``GraphDef``) and its tags."""

    graph: Graph
    saver: Saver | None = None
    tags: tuple[str, ...] = ()
    tensorflow_version: str = ""
    #: Top-level nodes a loader runs or hands out by name: collections, signatures, constants.
    run_nodes: set[str] = field(default_factory=set)
    #: Functions a loader calls or hands out: those of the object graph and the aliases.
    run_functions: set[str] = field(default_factory=set)
    #: Tensors the file keeps outside the graph: the defaults of its signatures.
    tensors: list[dict[str, Any]] = field(default_factory=list)
    #: Top-level nodes the caller of an audit will run (not read from the file).
    asked: set[str] = field(default_factory=set)


# --- the hot path: NodeDef, decoded by hand with protobuf's rules -----------------------------

_NODE = TYPES["tensorflow.NodeDef"]
_ATTR_ENTRY = TYPES["tensorflow.NodeDef.AttrEntry"]
_NODE_FIELDS = {n: f for n, f in _NODE.fields.items()}
_MISSING = object()


def _node(buf: bytes, message: Any, pos: int, end: int, depth: int) -> Node:
    """Decode one ``NodeDef``: a later name or op wins, a later attribute entry replaces one."""
    if depth > MAX_DEPTH:
        raise DecodeError("messages are nested too deeply")
    name = op = device = ""
    inputs: list[str] = []
    attrs: dict[str, Any] = {}
    cache = _ATTR_ENTRY.cache
    assert cache is not None
    inner = depth + 1
    try:
        while pos < end:
            tag = buf[pos]
            pos += 1
            if tag >= 0x80:  # NodeDef's fields fit one byte, but a longer tag is valid too
                tag, pos = read_tag(buf, pos - 1, end)
            if tag & 7 != 2 or not 0x0A <= tag <= 0x3A:
                pos = _skip(buf, pos, end, tag & 7, tag >> 3, depth)
                continue
            size = buf[pos]
            if size < 0x80:
                start = pos + 1
            elif buf[pos + 1] < 0x80:
                size = (size & 0x7F) | buf[pos + 1] << 7
                start = pos + 2
            else:
                size, start = read_size(buf, pos, end)
            pos = start + size
            if pos > end:
                raise DecodeError("a node runs past the end of its message")
            if tag == 0x1A:  # input
                inputs.append(buf[start:pos].decode())
            elif tag == 0x2A:  # attr
                if size > 512:  # a constant's value, say: unique, and costly to hash
                    entry = map_entry(buf, _ATTR_ENTRY, start, pos, inner)
                else:
                    key = (inner, buf[start:pos])
                    entry = cache.get(key, _MISSING)
                    if entry is _MISSING:
                        entry = cache[key] = map_entry(buf, _ATTR_ENTRY, start, pos, inner)
                attrs[entry[0]] = entry[1]
            elif tag == 0x12:
                op = buf[start:pos].decode()
            elif tag == 0x0A:
                name = buf[start:pos].decode()
            elif tag == 0x22:
                device = buf[start:pos].decode()
            elif tag in (0x32, 0x3A):  # debug info, full type: checked, not kept
                check(buf, start, pos, _NODE_FIELDS[tag >> 3].message, depth + 1)
            else:
                raise DecodeError(f"a field has number {tag >> 3}")
    except UnicodeDecodeError:
        raise DecodeError("a string field of a node is not UTF-8") from None
    except IndexError:
        raise DecodeError("a node ends in the middle of a field") from None
    return _new_node(Node, (name, op, inputs, device, attrs))


_NODE.decoder = _node


def _graph(value: dict[str, Any]) -> Graph:
    library = value.get("library", {})
    functions = []
    for f in library.get("function", []):
        signature = f.get("signature", {})
        args = signature.get("input_arg", [])
        attrs = f.get("attr", {})
        attr_values = [
            a[key]
            for a in signature.get("attr", [])
            for key in ("default_value", "allowed_values")
            if key in a
        ]
        attr_values += attrs.values()
        attr_values += [
            v for a in f.get("arg_attr", {}).values() for v in a.get("attr", {}).values()
        ]
        functions.append(
            Function(
                name=signature.get("name", ""),
                args=[a.get("name", "") for a in args],
                outputs=[a.get("name", "") for a in signature.get("output_arg", [])],
                nodes=f.get("node_def", []),
                ret=f.get("ret", {}),
                control_ret=f.get("control_ret", {}),
                attr_values=attr_values,
                list_args=any("number_attr" in a or "type_list_attr" in a for a in args),
                implements=attrs.get("api_implements", {}).get("s", b"").decode("utf-8", "replace"),
            )
        )
    gradients = [
        (g.get("function_name", ""), g.get("gradient_func", ""))
        for g in library.get("gradient", [])
    ]
    registered = [
        (g.get("registered_op_type", ""), g.get("gradient_func", ""))
        for g in library.get("registered_gradients", [])
    ]
    return Graph(value.get("node", []), functions, gradients, registered)


def _tensor_names(info: dict[str, Any]) -> list[str]:
    """The graph tensors a ``TensorInfo`` names, a sparse or composite tensor's parts included."""
    names = [info["name"]] if info.get("name") else []
    names += [v for v in info.get("coo_sparse", {}).values() if isinstance(v, str) and v]
    for part in info.get("composite_tensor", {}).get("components", []):
        names += _tensor_names(part)
    return names


def _names(value: Any) -> Iterator[str]:
    """Every string in a decoded message: the names a control flow context holds."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _names(k)  # external values map a name to a name
            yield from _names(v)
    elif isinstance(value, list):
        for v in value:
            yield from _names(v)


def _collection_names(key: str, entry: bytes, saver: Saver | None) -> list[str]:
    """The graph elements an entry of bytes collection *key* names, as TensorFlow resolves it."""
    kind = COLLECTION_TYPES[key]
    found = decode(entry, TYPES[kind])
    if kind == "tensorflow.VariableDef":
        keys = ("variable_name", "initializer_name", "snapshot_name", "initial_value_name")
        return [found[k] for k in keys if found.get(k)]
    if kind == "tensorflow.QueueRunnerDef":
        return [
            found.get(k, "") for k in ("queue_name", "close_op_name", "cancel_op_name")
        ] + found.get("enqueue_op_name", [])
    if kind == "tensorflow.SaverDef":
        names = [
            found.get(k, "")
            for k in ("filename_tensor_name", "save_tensor_name", "restore_op_name")
        ]
        return [] if saver is not None and names == list(saver[:3]) else names  # the declared one
    found.pop("context_name", None)  # a name scope, not a node
    return list(_names(found))


def _loaded(value: dict[str, Any], meta: MetaGraph) -> None:
    """Fill in what a loader of *value*, a ``MetaGraphDef``, runs or hands out."""
    for key, collection in value.get("collection_def", {}).items():
        names = list(collection.get("node_list", {}).get("value", []))
        if key in COLLECTION_TYPES:
            for entry in collection.get("bytes_list", {}).get("value", []):
                names += _collection_names(key, entry, meta.saver)
        meta.run_nodes.update(map(node_name, filter(None, names)))
    for signature in value.get("signature_def", {}).values():
        for group in ("inputs", "outputs"):
            for info in signature.get(group, {}).values():
                meta.run_nodes.update(map(node_name, _tensor_names(info)))
        meta.tensors.extend(signature.get("defaults", {}).values())
    objects = value.get("object_graph_def", {})
    meta.run_functions.update(objects.get("concrete_functions", {}))
    for obj in objects.get("nodes", []):
        meta.run_functions.update(obj.get("function", {}).get("concrete_functions", []))
        for kind, key in (
            ("bare_concrete_function", "concrete_function_name"),
            ("captured_tensor", "concrete_function"),
        ):
            if obj.get(kind, {}).get(key):
                meta.run_functions.add(obj[kind][key])
        if obj.get("constant", {}).get("operation"):
            meta.run_nodes.add(node_name(obj["constant"]["operation"]))
    meta.run_functions.update(value.get("meta_info_def", {}).get("function_aliases", {}))


def _meta_graph(value: dict[str, Any]) -> MetaGraph:
    saver = None
    if "saver_def" in value:
        s = value["saver_def"]
        saver = Saver(
            s.get("filename_tensor_name", ""),
            s.get("save_tensor_name", ""),
            s.get("restore_op_name", ""),
            s.get("version", 0),
        )
        if not (saver.filename or saver.save or saver.restore):
            saver = None
    info = value.get("meta_info_def", {})
    meta = MetaGraph(
        _graph(value.get("graph_def", {})),
        saver,
        tuple(info.get("tags", ())),
        info.get("tensorflow_version", ""),
    )
    _loaded(value, meta)
    return meta


def _parse(data: bytes, kind: str, where: str, hint: str, make: Callable[[Any], _T]) -> _T:
    """*make* of the message *data* holds, which includes decoding what its collections hold."""
    try:
        return make(decode(data, TYPES[f"tensorflow.{kind}"]))
    except DecodeError as e:
        raise GraphFormatError(f"{where} is not a {kind}: {e}; {hint}") from e
    finally:
        for message in TYPES.values():  # the caches serve one file only
            if message.cache:
                message.cache.clear()
            if message.seen:
                message.seen.clear()


def parse_tensor(data: bytes) -> dict[str, Any] | None:
    """Decode a serialized ``TensorProto``, as ``ParseTensor`` does; ``None`` if it is not one.

    >>> parse_tensor(b"\\x08\\x01\\x12\\x04\\x12\\x02\\x08\\x03")
    {'dtype': 1, 'tensor_shape': {'dim': [{'size': 3}]}}
    >>> parse_tensor(b"\\xff") is None
    True
    """
    try:
        return decode(data, TYPES["tensorflow.TensorProto"])
    except DecodeError:
        return None


def parse_graph_def(data: bytes, where: str = "the data") -> MetaGraph:
    """Decode a binary ``GraphDef`` (a frozen ``.pb``) into a :class:`MetaGraph` without a saver.

    >>> meta = parse_graph_def(b"\\n\\x10\\n\\x01x\\x12\\x0bPlaceholder")
    >>> meta.graph.nodes, meta.saver
    ([Node('x', 'Placeholder')], None)
    """
    return _parse(data, "GraphDef", where, "pass a frozen .pb file", lambda v: MetaGraph(_graph(v)))


def parse_meta_graph(data: bytes, where: str = "the data") -> MetaGraph:
    """Decode a ``MetaGraphDef`` (a ``.meta`` file).

    >>> parse_meta_graph(b"\\x1a\\x02\\n\\x00").saver is None
    True
    """
    return _parse(data, "MetaGraphDef", where, "pass a .meta file", _meta_graph)


def parse_saved_model(data: bytes, where: str = "the data") -> list[MetaGraph]:
    """Decode a ``saved_model.pb`` into its meta graphs.

    >>> parse_saved_model(b"\\x08\\x01")
    Traceback (most recent call last):
    ...
    tfpersist.errors.GraphFormatError: the data holds no meta graph
    """
    metas = _parse(
        data,
        "SavedModel",
        where,
        "pass a SavedModel directory",
        lambda v: [_meta_graph(m) for m in v.get("meta_graphs", [])],
    )
    if not metas:
        raise GraphFormatError(f"{where} holds no meta graph")
    return metas


def read_graph_file(path: str | os.PathLike[str]) -> list[MetaGraph]:
    """Read the graphs of a ``.pb``, a ``.meta`` or a SavedModel directory.

    A SavedModel gives one :class:`MetaGraph` per tag set; the others give one.
    A file named ``saved_model.pb`` is read as a SavedModel, the others
    ending in ``.meta`` as a ``MetaGraphDef`` and the rest as a ``GraphDef``.

    >>> read_graph_file("nowhere.pb")
    Traceback (most recent call last):
    ...
    tfpersist.errors.CheckpointNotFoundError: no graph file at 'nowhere.pb'
    """
    text = os.fspath(path)
    if _fs.isdir(text):
        saved = os.path.join(text, "saved_model.pb")
        if not _fs.isfile(saved):
            raise CheckpointNotFoundError(
                f"{text!r} is a directory without saved_model.pb; pass a SavedModel "
                "directory, a frozen .pb or a .meta file"
            )
        return parse_saved_model(_read(saved), repr(saved))
    data = _read(text)
    if os.path.basename(text) == "saved_model.pb":
        return parse_saved_model(data, repr(text))
    if text.endswith(".meta"):
        return [parse_meta_graph(data, repr(text))]
    return [parse_graph_def(data, repr(text))]


def _read(path: str) -> bytes:
    try:
        return _fs.read_bytes(path)
    except FileNotFoundError as e:
        raise CheckpointNotFoundError(f"no graph file at {path!r}") from e
    except IsADirectoryError as e:
        raise GraphFormatError(f"{path!r} is a directory, not a graph file") from e
