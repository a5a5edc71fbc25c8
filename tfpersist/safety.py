"""Auditing a graph before it is imported: untrusted graphs are refused.

TensorFlow's own security policy is that a model is a program: a ``GraphDef``
can hold ops that read and write files or call back into Python, and they
run as soon as the graph runs. TensorFlow is not a sandbox, and
``tf.import_graph_def`` imports whatever it is given. tfpersist audits every
graph before it imports one (a frozen ``.pb``, a ``.meta``, a SavedModel),
much as Keras's ``safe_mode`` refuses arbitrary code in a ``.keras`` file.

:func:`audit_graph` reads the protocol buffer only. It walks every node of
the graph and of every function in its library, and follows every
function-valued attribute (the body of a ``While``, the branches of an
``If``, the ``f`` of a ``PartitionedCall``), so nothing hides in a nested
function. It refuses:

* ops that reach outside the graph: files and Python
  (:data:`tfpersist.graphs.UNSAFE_OPS`, and ``PrintV2`` writing to a file);
* ops this TensorFlow does not know;
* constants that declare more than 2 GiB: a few values with a huge shape,
  which TensorFlow would expand in memory on import;
* references to functions the library lacks, and functions that call
  themselves.

A saver's own file ops are allowed where the file's ``SaverDef`` puts them:
restoring a checkpoint runs exactly those ops, with the file name tfpersist
feeds. Anything else has to be allowed by the caller, by name, with
``allow_ops``; nothing in the file can widen what is allowed.

>>> import tensorflow as tf
>>> from tfpersist import safety
>>> with tf.Graph().as_default() as graph:
...     path = tf.constant("/etc/passwd", name="path")
...     data = tf.io.read_file(path, name="steal")
>>> safety.audit_graph(graph.as_graph_def())
Traceback (most recent call last):
...
tfpersist.errors.UnsafeGraphError: the graph holds 1 op tfpersist will not import: node 'steal' runs ReadFile (file access); import only graphs you trust, or pass allow_ops=['ReadFile'] if you trust this one
>>> safety.audit_graph(graph.as_graph_def(), allow_ops=["ReadFile"])

The op is found wherever it sits, here inside a ``tf.function`` called from
a ``tf.cond`` branch:

>>> @tf.function
... def load(p):
...     return tf.io.read_file(p)
>>> @tf.function
... def maybe(flag, p):
...     return tf.cond(flag, lambda: load(p), lambda: tf.constant(""))
>>> spec = (tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.string))
>>> graph_def = maybe.get_concrete_function(*spec).graph.as_graph_def()
>>> try:
...     safety.audit_graph(graph_def)
... except safety.UnsafeGraphError as e:
...     [(op, function.startswith("__inference_load")) for op, node, function in e.ops]
[('ReadFile', True)]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tfpersist._tf import is_registered_op, tf
from tfpersist.errors import GraphFormatError, UnsafeGraphError
from tfpersist.graphs import UNSAFE_OPS

__all__ = ["SAVER_OPS", "audit_graph", "saver_scope"]

#: File ops a saver needs, allowed inside the saver a graph declares.
SAVER_OPS = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"}
)
_KINDS = {"file": "file access", "python": "Python code"}
#: A constant cannot hold more than a GraphDef can (2 GiB); a larger one is a bomb.
MAX_CONSTANT_BYTES = 2**31


def _name(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def saver_scope(graph_def: Any, saver_def: Any) -> tuple[set[str], set[str]]:
    """The nodes and library functions that make up the saver *saver_def* declares.

    Returns the top-level node names that the save and restore ops depend on,
    and the functions those nodes call, directly or not.

    >>> import tensorflow as tf
    >>> with tf.Graph().as_default() as graph:
    ...     v = tf.Variable(1.0, name="v")
    ...     saver = tf.compat.v1.train.Saver()
    >>> nodes, functions = saver_scope(graph.as_graph_def(), saver.as_saver_def())
    >>> "save/RestoreV2" in nodes, "v" in nodes, functions
    (True, True, set())
    """
    by_name = {node.name: node for node in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}
    todo = [_name(saver_def.save_tensor_name), _name(saver_def.restore_op_name)]
    nodes: set[str] = set()
    while todo:
        name = todo.pop()
        if name in nodes or name not in by_name:
            continue
        nodes.add(name)
        todo.extend(_name(i) for i in by_name[name].input)
    functions: set[str] = set()
    calls = [f for n in nodes for f in _called(by_name[n], library)]
    while calls:
        name = calls.pop()
        if name not in functions and name in library:
            functions.add(name)
            calls.extend(f for node in library[name].node_def for f in _called(node, library))
    return nodes, functions


def _called(node: Any, library: dict[str, Any]) -> list[str]:
    """The functions *node* calls: its op, if that names one, and its function attributes."""
    names = [node.op] if node.op in library else []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        if value.HasField("list"):
            names.extend(f.name for f in value.list.func)
    return names


def _declared_bytes(tensor: Any) -> int:
    """The bytes a ``TensorProto`` expands to: a few values can declare a huge shape."""
    count = 1
    for dim in tensor.tensor_shape.dim:
        count *= max(dim.size, 0)
    return count * max(tf.as_dtype(tensor.dtype).size, 1) if tensor.dtype else count


def _refusal(node: Any, allow: set[str]) -> str | None:
    op = node.op
    if op in allow:
        return None
    if op in UNSAFE_OPS and UNSAFE_OPS[op] in _KINDS:
        return _KINDS[UNSAFE_OPS[op]]
    if op == "PrintV2" and node.attr["output_stream"].s.startswith(b"file://"):
        return "file access"
    if op == "Const":
        declared = _declared_bytes(node.attr["value"].tensor)
        if declared > MAX_CONSTANT_BYTES:
            return f"a constant declared at {declared} bytes"
    if not is_registered_op(op):
        return "an op this TensorFlow does not know"
    return None


def audit_graph(
    graph_def: Any,
    *,
    allow_ops: Iterable[str] = (),
    saver_def: Any = None,
    where: str = "the graph",
) -> None:
    """Refuse *graph_def* if it holds ops that reach outside it or that TensorFlow does not know.

    Raises :class:`~tfpersist.errors.UnsafeGraphError` naming each op, its
    node and the function it sits in. *allow_ops* names ops to accept all the
    same. With *saver_def* (from a ``.meta`` or SavedModel), the saver's own
    file ops (:data:`SAVER_OPS`) are accepted inside that saver. *where* names
    the graph in messages.

    >>> import tensorflow as tf
    >>> graph_def = tf.compat.v1.GraphDef()
    >>> node = graph_def.node.add(name="x", op="MyCustomOp")
    >>> audit_graph(graph_def, where="'model.pb'")
    Traceback (most recent call last):
    ...
    tfpersist.errors.UnsafeGraphError: 'model.pb' holds 1 op tfpersist will not import: node 'x' runs MyCustomOp (an op this TensorFlow does not know); import only graphs you trust, or pass allow_ops=['MyCustomOp'] if you trust this one
    """
    allow = set(allow_ops)
    library = {f.signature.name: f for f in graph_def.library.function}
    saver_nodes, saver_functions = (
        saver_scope(graph_def, saver_def) if saver_def else (set(), set())
    )
    refused: list[tuple[str, str, str | None, str]] = []

    def check(node: Any, function: str | None) -> None:
        in_saver = node.name in saver_nodes if function is None else function in saver_functions
        if node.op in library:
            return  # a call: the function's own nodes are checked below
        reason = _refusal(node, allow | (SAVER_OPS if in_saver else set()))
        if reason:
            refused.append((node.op, node.name, function, reason))

    for node in graph_def.node:
        check(node, None)
        _check_calls(node, None, library, where)
    for name, function in library.items():
        for node in function.node_def:
            check(node, name)
            _check_calls(node, name, library, where)
    _check_recursion(library, where)
    if refused:
        n = len(refused)
        shown = "; ".join(
            f"node {node!r}{f' in function {fn!r}' if fn else ''} runs {op} ({reason})"
            for op, node, fn, reason in refused[:5]
        ) + (f"; and {n - 5} more" if n > 5 else "")
        ops = sorted({op for op, *_ in refused})
        raise UnsafeGraphError(
            f"{where} holds {n} op{'s' * (n != 1)} tfpersist will not import: {shown}; "
            f"import only graphs you trust, or pass allow_ops={ops} if you trust this one",
            [(op, node, fn) for op, node, fn, _ in refused],
        )


def _check_calls(node: Any, function: str | None, library: dict[str, Any], where: str) -> None:
    for name in _called(node, library):
        if name not in library and not is_registered_op(name):
            inside = f" in function {function!r}" if function else ""
            raise GraphFormatError(
                f"{where}: node {node.name!r}{inside} calls function {name!r}, which the "
                "graph's library does not hold; the file is damaged or incomplete"
            )


def _check_recursion(library: dict[str, Any], where: str) -> None:
    calls = {
        name: {c for node in f.node_def for c in _called(node, library) if c in library}
        for name, f in library.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    for root in calls:
        stack = [(root, iter(calls[root]))]
        state.setdefault(root, 1)
        if state[root] == 2:
            continue
        while stack:
            name, callees = stack[-1]
            callee = next(callees, None)
            if callee is None:
                state[name] = 2
                stack.pop()
            elif state.get(callee) == 1:
                raise UnsafeGraphError(
                    f"{where}: function {callee!r} calls itself (through {name!r}); "
                    "TensorFlow would recurse without end, so the graph is refused"
                )
            elif callee not in state:
                state[callee] = 1
                stack.append((callee, iter(calls[callee])))
